"""The data layer's entry points: config -> validated dataset; batch -> network input tensor."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset

from pixelwise.data.config import DataConfig
from pixelwise.errors import PixelwiseError
from pixelwise.ops import instance_edges, one_hot_labels


def _root(config: DataConfig) -> Path:
    if not config.root:
        raise PixelwiseError(f"data.root is empty; set it to the dataset folder for data.format={config.format}")
    return Path(config.root).expanduser()


def _label_dataset(config: DataConfig, split: str, train: bool) -> Dataset:
    from pixelwise.data.cityscapes import cityscapes_records, flat_records, id_to_train_id
    from pixelwise.data.labelmap import LabelMapDataset
    from pixelwise.data.paired import paired_label_records

    instances = config.instance_edge
    id_map = None
    if config.format == "cityscapes":
        records = cityscapes_records(_root(config), split, instances)
        if config.label_set == "train_ids":
            id_map = id_to_train_id()
    elif config.format == "flat":
        records = flat_records(_root(config), split, instances)
    elif config.format == "bundled-labels":
        from pixelwise.data.bundled import bundled_labels_root

        records = flat_records(bundled_labels_root(config.label_nc), _bundled_split(split), instances)
    elif config.format == "paired":
        if instances:
            raise PixelwiseError(
                "data.format=paired has no instance maps but data.instance_edge is true; set "
                "data.instance_edge=false, or use data.format=flat with a <split>_inst/ folder"
            )
        records = paired_label_records(_root(config), split, config.direction)
    else:
        raise PixelwiseError(
            f"data.format={config.format} holds photo pairs, not label maps; set data.task=photo (or auto)"
        )
    return LabelMapDataset(records, config, train, id_map=id_map, id_map_name="Cityscapes id -> train id")


def _bundled_split(split: str) -> str:
    if split not in ("train", "val", "test"):
        raise PixelwiseError(f"bundled data has splits train and test (val = test), not {split!r}")
    return "train" if split == "train" else "test"


def _rgb_dataset(config: DataConfig, split: str, train: bool) -> Dataset:
    from pixelwise.data.blur_dataset import MotionBlurDataset, sharp_records
    from pixelwise.data.gopro import gopro_records
    from pixelwise.data.paired import PairedDataset, aligned_records, paired_records

    if config.format == "paired":
        return PairedDataset(paired_records(_root(config), split, config.direction), config, train)
    if config.format == "aligned":
        return PairedDataset(aligned_records(_root(config), split), config, train)
    if config.format == "gopro":
        return PairedDataset(gopro_records(_root(config), split, config.gopro_input), config, train)
    if config.format == "blur":
        return MotionBlurDataset(sharp_records(_root(config), split), config, train)
    if config.format == "bundled-blur":
        from pixelwise.data.bundled import bundled_blur_root

        return MotionBlurDataset(sharp_records(bundled_blur_root(), _bundled_split(split)), config, train)
    raise PixelwiseError(
        f"data.format={config.format} holds label maps, not photo pairs; set data.task=labels (or auto)"
    )


def build_dataset(config: DataConfig, split: str = "train", train: bool = True) -> Dataset:
    """The dataset of ``split`` described by ``config``, its files listed and paired (errors name the file and
    the fix). ``train``: random crop and flip (and fresh blur kernels); otherwise deterministic.

    Samples: label task ``{"label": int64 (1,H,W), ["instance": int32 (1,H,W)], "target", "name"}``; RGB task
    ``{"input", "target", "name"}``; photos float (3,H,W) in [-1, 1].
    """
    if config.resolved_task == "labels":
        dataset = _label_dataset(config, split, train)
    else:
        dataset = _rgb_dataset(config, split, train)
    if config.max_images is not None and config.max_images < len(dataset):
        dataset = Subset(dataset, range(config.max_images))
    if train and config.repeat > 1:  # every sample `repeat` times an epoch (each access draws its own crop/blur)
        dataset = Subset(dataset, list(range(len(dataset))) * config.repeat)
    return dataset


def input_channels(config: DataConfig) -> int:
    """Channels of :func:`network_input`: label_nc (+1 dontcare) (+1 instance edge), or 3 for photos."""
    if config.resolved_task == "labels":
        return config.label_nc + int(config.contain_dontcare_label) + int(config.instance_edge)
    return 3


def network_input(batch: dict, config: DataConfig) -> torch.Tensor:
    """The generator input on the batch's device: one-hot labels (+ dontcare) then the instance edge map as
    the last channel (the official preprocessing, equal to :func:`pixelwise.official.preprocess_semantic`),
    or the input photo for RGB tasks."""
    if config.resolved_task != "labels":
        return batch["input"]
    label = batch["label"]
    channels = config.label_nc + int(config.contain_dontcare_label)
    semantics = one_hot_labels(label, channels, source="label batch", option="data.label_nc")
    if not config.instance_edge:
        return semantics
    instance = batch.get("instance")
    if instance is None:
        raise PixelwiseError("data.instance_edge is true but the batch has no 'instance' maps")
    if instance.dim() == 3:
        instance = instance.unsqueeze(1)
    return torch.cat([semantics, instance_edges(instance.to(label.device))], dim=1)
