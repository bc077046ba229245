"""Tensor ops shared by models, data, inference and export: the one one-hot and the one instance-edge map.

Both are the official preprocessing primitives (pix2pixHD ``encode_input`` / SPADE ``preprocess_input`` /
``get_edges``), bit-identical to them, and built from comparisons and zero pads only, so they trace and
export to ONNX with symbolic H and W. Dense one-hot tensors are never stored on disk.
"""

from __future__ import annotations

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


def check_label_ids(label: torch.Tensor, num_channels: int, source: str = "label map",
                    option: str = "label_nc") -> torch.Tensor:
    """(B, 1, H, W) or (B, H, W) ids -> (B, 1, H, W) int64, checked: an id without a one-hot channel is an
    error naming the largest id and the option to change, never a silent wrong result or a device assert."""
    if label.dim() == 3:
        label = label.unsqueeze(1)
    if label.dim() != 4 or label.shape[1] != 1:
        raise PixelwiseError(f"{source}: expected label ids of shape (B, 1, H, W), got {tuple(label.shape)}")
    label = label.long()
    largest = int(label.max())
    if largest >= num_channels or int(label.min()) < 0:
        raise PixelwiseError(
            f"{source} contains label id {largest} but the model has {num_channels} label channels; "
            f"raise {option} (or remap the ids) so that every id is < {num_channels}"
        )
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


__all__ = ["check_label_ids", "instance_edges", "one_hot", "one_hot_labels", "semantic_input"]


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
