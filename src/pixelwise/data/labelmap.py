"""Label map -> photo samples (Cityscapes, flat folders, bundled stand-in): integer maps, never dense one-hot."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelwise.data.cityscapes import LabelRecord
from pixelwise.data.config import DataConfig
from pixelwise.data.transforms import (
    crop_box,
    crop_flip,
    instance_to_tensor,
    label_to_tensor,
    load_size,
    photo_to_tensor,
    random_flip,
    read_label,
    read_photo,
    resize_label,
    resize_photo,
)
from pixelwise.data.validate import check_label_ids, check_same_size
from pixelwise.errors import PixelwiseError


class LabelMapDataset(Dataset):
    """Samples ``{"label": int64 (1,H,W), ["instance": int32 (1,H,W)], "target": float (3,H,W) in [-1,1],
    "name": str}``. ``id_map`` (a lookup table, e.g. Cityscapes id -> train id) is applied first, then id 255
    becomes ``label_nc`` when ``contain_dontcare_label``; every id is checked against ``label_nc``."""

    def __init__(self, records: Sequence[LabelRecord], config: DataConfig, train: bool,
                 id_map: np.ndarray | None = None, id_map_name: str = "") -> None:
        self.records = list(records)
        self.config = config
        self.train = train
        self.id_map = id_map
        self.id_map_name = id_map_name

    def __len__(self) -> int:
        return len(self.records)

    def _label(self, record: LabelRecord) -> np.ndarray:
        config = self.config
        label = read_label(record.label)
        if self.id_map is not None:
            low, high = int(label.min()), int(label.max())
            if low < 0 or high >= len(self.id_map):
                bad = high if high >= len(self.id_map) else low
                raise PixelwiseError(
                    f"label map {record.label} contains id {bad}, outside the {self.id_map_name} table; it is "
                    f"not a Cityscapes *_labelIds.png: give the labelIds files, or use data.label_set=ids"
                )
            label = self.id_map[label]
        if config.contain_dontcare_label:
            label = np.where(label == 255, config.label_nc, label)
        check_label_ids(label, config.label_nc, config.contain_dontcare_label, record.label)
        return label

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        config = self.config
        record = self.records[index]
        label = self._label(record)
        photo = read_photo(record.image)
        check_same_size(record.label, label.shape, record.image, photo.shape[:2])
        instance = None
        if config.uses_instances:
            if record.instance is None:
                raise ValueError(f"record {record.name} has no instance map")  # guarded at construction
            instance = read_label(record.instance, "instance map")
            check_same_size(record.label, label.shape, record.instance, instance.shape)
        size = load_size(*label.shape, config.load_height, config.load_width)
        label = resize_label(label, size)
        photo = resize_photo(photo, size)
        random = self.train
        crop = self.train or config.eval_crop
        box = crop_box(*size, config.crop_height if crop else None, config.crop_width if crop else None,
                       random, where=f"{record.image}")
        flip = self.train and config.flip and random_flip()
        sample: dict[str, torch.Tensor | str] = {
            "label": crop_flip(label_to_tensor(label), box, flip),
            "target": crop_flip(photo_to_tensor(photo), box, flip),
            "name": record.name,
        }
        if instance is not None:
            sample["instance"] = crop_flip(instance_to_tensor(resize_label(instance, size)), box, flip)
        return sample

