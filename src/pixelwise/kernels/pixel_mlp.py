"""Backend dispatch for ASAP-Net's high-resolution stream (the execution option ``ASAPNetExecution.hr_kernel``).

Contract of a high-res kernel (see ``pixelwise.models.asapnet.HRKernel``): called as
``kernel(config, params, label=..., edge=...)`` (integer label ids, dontcare mapped; ``edge`` when the MLP sees the
instance edge) or ``kernel(config, params, pixels=...)`` (the dense pixels the MLP sees), it returns the stream's
image (B, output_nc, H, W) before any global residual: the same function as the model's fast and reference paths.
The model calls it only for inference (no gradient needed) and never under tracing / ``torch.compile`` / ONNX
export; everywhere else its PyTorch path runs.

Backends:
- ``torch``: the PyTorch fast path inside the model. Always there, on every device.
- ``triton``: :mod:`pixelwise.kernels.asapnet_hr_triton`, one fused kernel for the whole stream. Opt-in and
  UNVERIFIED: it has been checked only in Triton's CPU interpreter (``TRITON_INTERPRET=1``) against the reference
  path, never on a GPU. ``auto`` picks it on CUDA only once :data:`TRITON_VERIFIED_ON_GPU` is set, after a GPU run
  of ``scripts/gpu_check.sh`` showed it matching the reference and faster than ``torch``.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import torch
from torch import nn

from pixelwise.errors import PixelwiseError

BACKENDS = ("torch", "triton")
# The one switch: set to True only after scripts/gpu_check.sh ran on a GPU and the kernel matched (<= 1e-5 fp32)
# and beat the torch path there. Until then ``auto`` picks ``torch`` everywhere.
TRITON_VERIFIED_ON_GPU = False


def triton_importable() -> bool:
    """True when ``import triton`` can work (checked without importing it)."""
    if "triton" in sys.modules:
        return sys.modules["triton"] is not None
    try:
        return importlib.util.find_spec("triton") is not None
    except (ImportError, ValueError):
        return False


def _triton_runs_on(device: torch.device) -> str | None:
    """None when the Triton kernel can run on ``device``, else why not."""
    if not triton_importable():
        return "triton is not installed (it comes with PyTorch's CUDA build)"
    if device.type == "cuda" or os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        return None
    return f"it needs a CUDA device, not {device.type} (or TRITON_INTERPRET=1 for Triton's slow CPU interpreter)"


def available_backends(device: str | torch.device = "cpu") -> list[str]:
    """Backends that can run on ``device`` in this environment (``torch`` first)."""
    return ["torch"] + (["triton"] if _triton_runs_on(torch.device(device)) is None else [])


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def install(model: nn.Module, backend: str = "auto", device: str | torch.device | None = None,
            **knobs: int) -> str:
    """Set the high-res backend of every ASAP-Net generator inside ``model``; returns the backend used.

    ``device``: where the model will run (default: where its parameters are). ``auto``: ``torch`` until the
    Triton kernel is verified on a GPU (:data:`TRITON_VERIFIED_ON_GPU`), then ``triton`` on CUDA. An explicit
    ``triton`` that cannot run here (no triton, not CUDA, unsupported configuration) is an error, never a silent
    fallback. ``knobs``: launch options of the Triton kernel (block_pixels, num_warps, num_stages). Installing
    ``triton`` also sets ``lowres_channels_last`` (the parameter map is then read in place, one contiguous vector
    per cell)."""
    from pixelwise.models.asapnet import ASAPNetGenerator, set_execution

    if backend not in ("auto", *BACKENDS):
        raise PixelwiseError(f"unknown high-res backend {backend!r}; use one of auto, {', '.join(BACKENDS)}")
    target = torch.device(device) if device is not None else _model_device(model)
    generators = [m for m in model.modules() if isinstance(m, ASAPNetGenerator)]
    if backend == "auto":
        backend = "triton" if (TRITON_VERIFIED_ON_GPU and target.type == "cuda"
                               and _triton_runs_on(target) is None) else "torch"
        if backend == "triton":
            from pixelwise.kernels.asapnet_hr_triton import TritonHRKernel

            try:
                for g in generators:
                    TritonHRKernel.check_config(g.config)
            except PixelwiseError:
                backend = "torch"  # auto: a configuration the kernel does not cover runs the torch path
    if backend == "torch":
        set_execution(model, hr_kernel=None)
        return backend
    why = _triton_runs_on(target)
    if why is not None:
        raise PixelwiseError(f"--hr-backend triton cannot run here: {why}; use --hr-backend torch")
    from pixelwise.kernels.asapnet_hr_triton import TritonHRKernel

    kernel = TritonHRKernel(**knobs)
    for g in generators:
        kernel.check_config(g.config)
    # with lowres_channels_last the kernel reads each cell's parameters as one contiguous vector
    set_execution(model, hr_kernel=kernel, lowres_channels_last=True)
    return backend
