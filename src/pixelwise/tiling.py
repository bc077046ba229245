"""Padding to a size multiple and tiling with blended seams: the pure tensor geometry behind
``pixelwise infer`` (:mod:`pixelwise.inference` states the conventions and runs the model)."""

from __future__ import annotations

import math
from typing import Literal

import torch

from pixelwise.errors import PixelwiseError

BLENDS = ("cosine", "linear")


# --- padding -----------------------------------------------------------------------------------------------
def _pad_index(size: int, pad: int, mode: str) -> torch.Tensor:
    idx = torch.arange(size + pad)
    if mode == "reflect" and pad <= size - 1:
        return torch.where(idx > size - 1, 2 * (size - 1) - idx, idx)
    return idx.clamp(max=size - 1)  # replicate (also reflect's fallback when the image is too small)


def pad_mode(kind: str) -> Literal["reflect", "replicate"]:
    """The one padding convention (inference and evaluation alike, so scores describe what users get): photos
    are mirrored (``reflect``), label maps repeat their edge ids (``replicate``)."""
    return "replicate" if kind == "labels" else "reflect"


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: Literal["reflect", "replicate"] = "reflect"
                    ) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad the last two dims of ``x`` (any dtype) at the bottom and right up to multiples of ``multiple``.
    ``reflect`` mirrors without repeating the edge (replicate where the image is too small to mirror).
    Returns the padded tensor and the original (H, W) for :func:`crop_to`."""
    if mode not in ("reflect", "replicate"):
        raise ValueError(f"pad mode {mode!r}: use reflect or replicate")
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph:
        x = x.index_select(-2, _pad_index(h, ph, mode).to(x.device))
    if pw:
        x = x.index_select(-1, _pad_index(w, pw, mode).to(x.device))
    return x, (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple`: keep the top-left ``size`` = (H, W)."""
    return x[..., : size[0], : size[1]]


# --- tiling ------------------------------------------------------------------------------------------------
def tile_starts(size: int, tile: int, overlap: int, multiple: int = 1) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``size``: steps of ``tile - overlap`` rounded down to
    the multiple (at least one multiple), the last tile flush with the end."""
    if tile >= size:
        return [0]
    step = max(multiple, (tile - overlap) // multiple * multiple)
    return [*range(0, size - tile, step), size - tile]


def blend_ramp(length: int, blend: str = "cosine") -> torch.Tensor:
    """Rising weights over an overlap of ``length`` pixels: 0 in the first quarter, a linear or raised-cosine
    ramp over the middle half, 1 in the last quarter; ``ramp + ramp.flip(0) == 1``."""
    if blend not in BLENDS:
        raise PixelwiseError(f"blend {blend!r}: use one of {', '.join(BLENDS)}")
    pos = (torch.arange(length, dtype=torch.float64) + 0.5 - length / 4) / (length / 2)
    u = pos.clamp(0.0, 1.0)
    if blend == "cosine":
        u = 0.5 - 0.5 * torch.cos(math.pi * u)
    return u.float()


def axis_weights(starts: list[int], index: int, tile: int, blend: str) -> torch.Tensor:
    """Weights of tile ``index`` along one axis: 1, ramped across its overlaps with the neighbours."""
    w = torch.ones(tile)
    if index > 0:
        ov = starts[index - 1] + tile - starts[index]
        w[:ov] *= blend_ramp(ov, blend)
    if index + 1 < len(starts):
        ov = starts[index] + tile - starts[index + 1]
        w[tile - ov:] *= blend_ramp(ov, blend).flip(0)
    return w



__all__ = ["BLENDS", "axis_weights", "blend_ramp", "crop_to", "pad_mode", "pad_to_multiple", "tile_starts"]
