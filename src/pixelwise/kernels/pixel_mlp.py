"""Backend dispatch for ASAP-Net's per-pixel MLP (the hook ``ASAPNetGenerator.mlp_kernel``).

Contract of a kernel (see ``pixelwise.models.asapnet.MLPKernel``): called per block of cells with the first
layer's pre-activation ``h`` (N, S*S, C1) and the remaining layers ``[(weight (N, nci, nco), bias (N, 1, nco))]``,
it returns ``tanh`` of the last layer, (N, S*S, output_nc), equal to :func:`pixelwise.models.asapnet.mlp_tail`
(LeakyReLU 0.01 between layers) and differentiable if it is to be used in training. The model calls it only
for CUDA tensors; everywhere else the PyTorch path runs.

Backends:
- ``torch``: the PyTorch path inside the model (blocked ``baddbmm`` with in-place activations). Always there.
- ``triton``: a fused per-tile kernel (one program per cell: weights in SRAM, activations in registers).
  Not shipped: GPU-only code is merged only after it has been validated on a real GPU against ``torch``.
"""

from __future__ import annotations

from torch import nn

from pixelwise.errors import PixelwiseError

BACKENDS = ("torch", "triton")


def available_backends() -> list[str]:
    """Backends that can be installed in this build and environment."""
    return ["torch"]


def install(model: nn.Module, backend: str = "auto") -> str:
    """Set the per-pixel MLP backend of every ASAP-Net generator inside ``model``; returns the backend used.

    ``auto`` picks the best available backend (today always ``torch``)."""
    if backend not in ("auto", *BACKENDS):
        raise PixelwiseError(f"unknown MLP backend {backend!r}; use one of auto, {', '.join(BACKENDS)}")
    if backend == "auto":
        backend = available_backends()[0]
    if backend not in available_backends():
        raise PixelwiseError(
            f"MLP backend {backend!r} is not available in this build: the fused Triton kernel has not been "
            f"validated on a GPU yet; use backend='torch' (the default), which runs everywhere"
        )
    for module in model.modules():
        if hasattr(module, "mlp_kernel"):
            module.mlp_kernel = None  # the torch path inside the model
    return backend
