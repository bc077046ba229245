"""Tensor ops shared by models, data, inference and export: the one one-hot and the one instance-edge map.

Both are the official preprocessing primitives (pix2pixHD ``encode_input`` / SPADE ``preprocess_input`` /
``get_edges``), bit-identical to them, and built from comparisons and zero pads only, so they trace and
export to ONNX with symbolic H and W. Dense one-hot tensors are never stored on disk.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pixelwise.errors import PixelwiseError


def one_hot(label: torch.Tensor, channels: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, 1, H, W) integer ids -> (B, channels, H, W) one-hot (by comparison; traceable, unchecked)."""
    classes = torch.arange(channels, device=label.device).view(1, channels, 1, 1)
    return (label == classes).to(dtype)


def instance_edges(instance: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Instance ids (..., H, W) -> edge map of the same shape: 1 where a pixel's id differs from its left, right,
    upper or lower neighbour (both sides of a boundary are marked; nothing outside the border), else 0."""
    horizontal = (instance[..., :, 1:] != instance[..., :, :-1]).to(dtype)
    vertical = (instance[..., 1:, :] != instance[..., :-1, :]).to(dtype)
    edge = torch.maximum(F.pad(horizontal, (1, 0)), F.pad(horizontal, (0, 1)))
    return torch.maximum(edge, torch.maximum(F.pad(vertical, (0, 0, 1, 0)), F.pad(vertical, (0, 0, 0, 1))))


def check_label_range(ids: Any, num_channels: int, source: str = "label map", option: str = "label_nc", *,
                      dontcare: bool = False, allow_255: bool = False, fix: str | None = None) -> None:
    """The one label-id check (data loading, inference, the models, the app, the baselines): every id of ``ids``
    (a tensor or an array, any shape and integer dtype) must have a one-hot channel, ``0..num_channels - 1``
    (``dontcare``: the last of them is the dontcare channel; ``allow_255``: raw id 255 also passes, mapped to it
    later). Otherwise one :class:`PixelwiseError` naming ``source``, the id, ``option`` and the fix (``fix``
    replaces the default advice), never a silent wrong result or a device-side assert."""
    if allow_255:
        ids = ids[ids != 255]
    if (ids.size if isinstance(ids, np.ndarray) else ids.numel()) == 0:
        return
    low, high = int(ids.min()), int(ids.max())
    if low >= 0 and high < num_channels:
        return
    bad = high if high >= num_channels else low
    label_nc = num_channels - int(dontcare)
    what = f"{option}={label_nc}" + (" (+1 dontcare channel)" if dontcare else "")
    allowed = f"0..{num_channels - 1}" + (" and 255 (dontcare)" if allow_255 else "")
    if fix is None:
        fix = (f"raise {option} to at least {bad + 1} (or remap the ids)" if bad >= 0 else
               "ids must be >= 0: remap them")
        if bad == 255 and not dontcare:
            prefix = option.rpartition(".")[0]
            fix = (f"set {prefix + '.' if prefix else ''}contain_dontcare_label=true if 255 marks unlabelled "
                   f"pixels, or {fix}")
    raise PixelwiseError(f"{source} contains label id {bad} but {what} allows ids {allowed}; {fix}")


def check_label_ids(label: torch.Tensor, num_channels: int, source: str = "label map",
                    option: str = "label_nc", *, dontcare: bool = False) -> torch.Tensor:
    """(B, 1, H, W) or (B, H, W) ids -> (B, 1, H, W) int64, checked by :func:`check_label_range`."""
    if label.dim() == 3:
        label = label.unsqueeze(1)
    if label.dim() != 4 or label.shape[1] != 1:
        raise PixelwiseError(f"{source}: expected label ids of shape (B, 1, H, W), got {tuple(label.shape)}")
    label = label.long()
    check_label_range(label, num_channels, source, option, dontcare=dontcare)
    return label


def one_hot_labels(label: torch.Tensor, num_channels: int, source: str = "label map",
                   option: str = "label_nc") -> torch.Tensor:
    """:func:`check_label_ids`, then the float32 :func:`one_hot`."""
    return one_hot(check_label_ids(label, num_channels, source, option), num_channels)


def semantic_input(label: torch.Tensor, channels: int, instance: torch.Tensor | None = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The dense semantic network input: one-hot ``label`` (unchecked) then, when ``instance`` ids are given,
    their edge map as the last channel."""
    x = one_hot(label, channels, dtype)
    if instance is None:
        return x
    if instance.dim() == 3:
        instance = instance.unsqueeze(1)
    return torch.cat([x, instance_edges(instance.to(label.device), dtype)], dim=1)


def reflect_pad(image: torch.Tensor, pad: int) -> torch.Tensor:
    """Mirror-pad the last two dims by ``pad`` on every side, also when ``pad`` exceeds the image size."""
    out = image
    for dim in (-1, -2):
        remaining = pad
        while remaining > 0:
            size = out.shape[dim]
            step = min(remaining, size - 1)
            if step <= 0:  # a 1-pixel axis: nothing to mirror, repeat it
                step = remaining
                pads = (step, step, 0, 0) if dim == -1 else (0, 0, step, step)
                out = F.pad(out, pads, mode="replicate")
            else:
                pads = (step, step, 0, 0) if dim == -1 else (0, 0, step, step)
                out = F.pad(out, pads, mode="reflect")
            remaining -= step
    return out


def random_label_maps(height: int, width: int, num_labels: int, batch: int = 1, *, block: int = 8,
                      things_from: int = 2, generator: torch.Generator | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Random label and instance maps for benchmarks, export examples and tests: (batch, 1, H, W) int64 ids in
    ``[0, num_labels)``, constant on ``block`` x ``block`` squares (regions with boundaries, as real label maps
    have; ``block=1``: every pixel its own), and instance ids ``label * 1000 + k`` with a random object number
    k in {0, 1} per square for the "thing" labels (``>= things_from``), so instance edges also run inside a
    label's region. ``generator``: default seeded with 0 (the same maps every call)."""
    generator = generator or torch.Generator().manual_seed(0)
    grid = (batch, 1, -(-height // block), -(-width // block))

    def blocks(values: torch.Tensor) -> torch.Tensor:
        return values.repeat_interleave(block, 2).repeat_interleave(block, 3)[..., :height, :width].contiguous()

    label = torch.randint(0, num_labels, grid, generator=generator)
    objects = torch.randint(0, 2, grid, generator=generator) * (label >= things_from)
    return blocks(label), blocks(label * 1000 + objects)


__all__ = ["check_label_ids", "check_label_range", "instance_edges", "one_hot", "one_hot_labels", "random_label_maps",
           "reflect_pad", "semantic_input"]
