"""Optional fast kernels beside their PyTorch fallbacks.

:mod:`pixelwise.kernels.pixel_mlp` dispatches ASAP-Net's per-pixel MLP (the hidden and output layers of the
fast high-res path). Today only the PyTorch fallback ships: a fused Triton kernel is merged only after it has
run against the fallback on a real GPU, which has not happened yet.
"""

from __future__ import annotations

from pixelwise.kernels.pixel_mlp import BACKENDS, available_backends, install

__all__ = ["BACKENDS", "available_backends", "install"]
