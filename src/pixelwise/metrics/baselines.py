"""Do-nothing baselines that every table compares its models with, as "models" that :func:`evaluate_model` can
score like any generator (same metrics, same images, same N).

- :class:`InputAsOutput` (deblurring): returns its (blurred) input.
- :class:`LabelColourBaseline` (label map -> photo): paints every label id with its mean colour over the
  training images (:func:`mean_label_colours`). A generator that does not beat it on PSNR has not learned more
  than "which colour goes with which label".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from pixelwise.data.config import DataConfig
from pixelwise.errors import PixelwiseError
from pixelwise.ops import check_label_range


class InputAsOutput(nn.Module):
    """The do-nothing baseline of deblurring: returns its (blurred) input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def onehot_channels(config: DataConfig) -> int:
    """Label ids the one-hot part of the network input holds (label_nc, plus the dontcare channel)."""
    return config.label_nc + int(config.contain_dontcare_label)


def mean_label_colours(dataset: Any, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(colours (num_classes, 3) float64 in [-1, 1], pixel counts (num_classes,)) over the samples of a label
    dataset (``{"label": (1, H, W) ids, "target": (3, H, W) photo}``). Ids that never occur get the mean colour
    of all pixels, so that every id paints something sensible."""
    sums = np.zeros((num_classes, 3), dtype=np.float64)
    counts = np.zeros(num_classes, dtype=np.int64)
    for index in range(len(dataset)):
        sample = dataset[index]
        label = torch.as_tensor(sample["label"]).reshape(-1).long().numpy()
        target = torch.as_tensor(sample["target"]).reshape(3, -1).double().numpy()
        check_label_range(label, num_classes, f"sample {sample.get('name', index)}", "data.label_nc")
        counts += np.bincount(label, minlength=num_classes)
        for c in range(3):
            sums[:, c] += np.bincount(label, weights=target[c], minlength=num_classes)
    if counts.sum() == 0:
        raise PixelwiseError("mean_label_colours: the dataset has no pixels (empty training split?)")
    overall = sums.sum(0) / counts.sum()
    colours = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], overall[None, :])
    return colours, counts


class LabelColourBaseline(nn.Module):
    """Label map -> photo by painting: every pixel gets the colour of its label id. Takes the generators'
    network input (one-hot ids [+ dontcare] [+ instance edge]; the channels after the one-hot ones are
    ignored) and returns an image in [-1, 1]."""

    def __init__(self, colours: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        colours = torch.as_tensor(np.asarray(colours), dtype=torch.float32)
        if colours.dim() != 2 or colours.shape[1] != 3:
            raise ValueError(f"colours must be (num_classes, 3), got {tuple(colours.shape)}")
        self.register_buffer("colours", colours.clamp(-1.0, 1.0))

    @property
    def num_classes(self) -> int:
        return int(self.colours.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        onehot = x[:, : self.num_classes].to(self.colours.dtype)
        return torch.einsum("bchw,cd->bdhw", onehot, self.colours)


def label_colour_baseline(config: DataConfig, split: str | None = None) -> LabelColourBaseline:
    """The painting baseline with colours measured on ``split`` (default: the training split ``config.split``)
    of ``config``'s data, exactly the images the models train on (``data.max_images`` applies), read without
    random crops or flips."""
    from pixelwise.data import build_dataset

    if config.resolved_task != "labels":
        raise PixelwiseError(f"the label-colour baseline needs label maps, not data.format={config.format}")
    dataset = build_dataset(config, split=split or config.split, train=False)
    colours, _ = mean_label_colours(dataset, onehot_channels(config))
    return LabelColourBaseline(colours)
