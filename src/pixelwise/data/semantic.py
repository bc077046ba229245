"""Semantic network inputs from integer maps: one-hot labels and the instance edge map.

These are the official preprocessing primitives (pix2pixHD ``encode_input`` / SPADE ``preprocess_input``),
bit-identical to them, computed on whatever device the integer maps live on. Dense one-hot tensors are
never stored on disk.
"""

from __future__ import annotations

import torch

from pixelwise.errors import PixelwiseError


def instance_edges(instance: torch.Tensor) -> torch.Tensor:
    """1 where a pixel's instance id differs from its left/right/upper/lower neighbour (both sides of a
    boundary are marked; nothing outside the border), else 0. Float, same shape as ``instance``."""
    edge = torch.zeros(instance.shape, dtype=torch.bool, device=instance.device)
    horizontal = instance[..., :, 1:] != instance[..., :, :-1]
    vertical = instance[..., 1:, :] != instance[..., :-1, :]
    edge[..., :, 1:] |= horizontal
    edge[..., :, :-1] |= horizontal
    edge[..., 1:, :] |= vertical
    edge[..., :-1, :] |= vertical
    return edge.float()


def one_hot_labels(label: torch.Tensor, num_channels: int, source: str = "label map",
                   option: str = "label_nc") -> torch.Tensor:
    """(B, 1, H, W) integer ids -> (B, num_channels, H, W) float one-hot. Out-of-range ids are an error
    naming the largest id and the option to change, never a silent wrong result or a device assert."""
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
    out = torch.zeros(label.shape[0], num_channels, *label.shape[2:], device=label.device)
    return out.scatter_(1, label, 1.0)
