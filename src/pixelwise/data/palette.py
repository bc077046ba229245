"""Colours for showing label maps (image grids, reports): Cityscapes' own colours for Cityscapes ids and train
ids (from ``cityscapesscripts``), a fixed well-spread palette for every other label set."""

from __future__ import annotations

import colorsys

import numpy as np
import torch

from pixelwise.data.config import DataConfig


def spread_palette(count: int) -> np.ndarray:
    """(count, 3) uint8 colours with hues stepped by the golden ratio and alternating lightness."""
    colors = []
    for i in range(count):
        hue = (i * 0.6180339887498949) % 1.0
        light = (0.45, 0.65, 0.3)[i % 3]
        colors.append(colorsys.hls_to_rgb(hue, light, 0.75))
    return (np.asarray(colors).reshape(-1, 3) * 255).round().astype(np.uint8)


def label_palette(config: DataConfig) -> np.ndarray:
    """(256, 3) uint8: the colour of each label id for this config (the dontcare id and unused ids: black)."""
    if config.format == "cityscapes":
        from pixelwise.data.cityscapes import palette

        return palette(config.label_set)
    out = np.zeros((256, 3), dtype=np.uint8)
    count = min(config.label_nc, 256)
    out[:count] = spread_palette(count)
    return out


def colorize_labels(label: torch.Tensor, config: DataConfig) -> torch.Tensor:
    """Integer ids (B, 1, H, W) or (1, H, W) -> float RGB (B, 3, H, W) / (3, H, W) in [-1, 1], on the same
    device (ids outside 0..255 are shown black)."""
    colors = torch.from_numpy(label_palette(config)).to(label.device).float().div(127.5).sub(1.0)
    ids = label.long().squeeze(-3)
    valid = ((ids >= 0) & (ids < 256)).unsqueeze(-1)
    rgb = colors[ids.clamp(0, 255)]
    return torch.where(valid, rgb, torch.full_like(rgb, -1.0)).movedim(-1, -3)
