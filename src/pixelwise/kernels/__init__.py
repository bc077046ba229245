"""Optional fast kernels beside their PyTorch fallbacks.

:mod:`pixelwise.kernels.pixel_mlp` dispatches ASAP-Net's high-resolution stream (the execution
option ``ASAPNetExecution.hr_kernel``): ``torch`` (the model's own path, everywhere) or ``triton``
(:mod:`pixelwise.kernels.asapnet_hr_triton`, one fused kernel; opt-in and not yet run on a GPU, checked only in
Triton's CPU interpreter). ``triton`` is imported only when that backend is installed, so the package imports
without it.
"""

from __future__ import annotations

from pixelwise.kernels.pixel_mlp import BACKENDS, TRITON_VERIFIED_ON_GPU, available_backends, install

__all__ = ["BACKENDS", "TRITON_VERIFIED_ON_GPU", "available_backends", "install"]
