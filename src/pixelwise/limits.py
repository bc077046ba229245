"""What an input must be for a generator to run on it, checked before the forward pass (``pixelwise infer``):

- :func:`minimum_size`: the smallest (padded) input a model accepts. DeblurGAN and pix2pixHD reflect-pad and
  InstanceNorm their bottleneck, which needs at least 2 pixels per axis there, so each side must be at least
  twice the size multiple; ASAP-Net's low-res stream InstanceNorms a grid of one cell per S x S pixels, which
  needs at least 2 cells. Padding a tiny image further would change every InstanceNorm's statistics (the
  result would not be the model's output for that image), so such inputs are refused with the minimum.
- :func:`estimate_bytes`: the memory one forward pass needs, from a shape-only run of a copy of the model on
  PyTorch's ``meta`` device (no memory is used): the peak of live intermediate tensors, times a measured
  safety factor, plus the input and output themselves. :func:`check_memory` compares it with what the
  device has left and suggests ``--tile N`` when it does not fit.
"""

from __future__ import annotations

import dataclasses
import math
import os
import resource
import weakref
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from pixelwise.errors import PixelwiseError

# measured peak RSS / live-tensor estimate on the CPU (torch 2.14.1, Xeon, see the report of issue 11): 2.0-2.1
# for DeblurGAN and pix2pixHD at 512x512 (oneDNN workspaces, padded copies, allocator caching); 0.6 for
# ASAP-Net at 1024 and 2048 (the estimate runs the dense forward; the label fast path never builds the one-hot)
SAFETY = {"asapnet": 1.0, "default": 2.2}


def backend_factor(model: nn.Module) -> float:
    """How much more memory than PyTorch the model's backend needs (``memory_factor``, set by
    :func:`pixelwise.onnx_runtime.with_onnxruntime`: its arena grows in doubling chunks; 1 for torch)."""
    return float(getattr(model, "memory_factor", 1.0))


def minimum_size(model: nn.Module) -> tuple[int, int, int]:
    """(min height, min width, min cells): each padded side must be >= its minimum and, for ASAP-Net,
    (H / S) * (W / S) >= min cells (0: no area rule)."""
    from pixelwise.models.asapnet import ASAPNetGenerator
    from pixelwise.models.deblurgan import ResnetGenerator
    from pixelwise.models.pix2pixhd import GlobalGenerator, LocalEnhancer

    if isinstance(model, ASAPNetGenerator):
        s = model.config.downsampling
        return s, s, 2
    if isinstance(model, (GlobalGenerator, LocalEnhancer, ResnetGenerator)):
        m = model.config.size_multiple
        return 2 * m, 2 * m, 0
    return 1, 1, 0


def check_input_size(model: nn.Module, height: int, width: int, multiple: int, source: str) -> None:
    """One line when an input of ``height`` x ``width`` (before padding to ``multiple``) is too small."""
    min_h, min_w, cells = minimum_size(model)
    ph, pw = math.ceil(height / multiple) * multiple, math.ceil(width / multiple) * multiple
    name = getattr(model, "registry_name", type(model).__name__)
    if ph >= min_h and pw >= min_w and (not cells or (ph // multiple) * (pw // multiple) >= cells):
        return
    if cells:
        need = (f"at least {cells} cells of {multiple}x{multiple} pixels (e.g. {multiple}x{cells * multiple} or "
                f"{cells * multiple}x{multiple}): its low-res stream normalises over the cells")
        fix = f"{max(min_h, multiple)}x{cells * multiple}"
    else:
        need = (f"at least {min_h}x{min_w} pixels (twice its size multiple {multiple} per side): its bottleneck "
                f"needs 2 pixels per axis")
        fix = f"{min_h}x{min_w}"
    raise PixelwiseError(
        f"{source} is {height}x{width} (HxW), too small for {name}, which needs {need}; upscale or pad the image "
        f"to at least {fix} (padding it further here would change the model's normalisation statistics)"
    )


class _PeakLive(TorchDispatchMode):
    """Tracks the bytes of live tensors produced inside the mode (views and in-place results not counted
    twice; a tensor stops counting when it is freed) and records the peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0

    def _release(self, nbytes: int) -> None:
        self.live -= nbytes

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if getattr(func, "is_view", False) or func._schema.is_mutable:
            return out
        for value in out if isinstance(out, (list, tuple)) else (out,):
            if isinstance(value, torch.Tensor):
                nbytes = value.numel() * value.element_size()
                self.live += nbytes
                weakref.finalize(value, self._release, nbytes)
        self.peak = max(self.peak, self.live)
        return out


def _meta_copy(model: nn.Module) -> nn.Module | None:
    from pixelwise.registry import create_model

    name, config = getattr(model, "registry_name", None), getattr(model, "config", None)
    if not name or not dataclasses.is_dataclass(config):
        return None
    with torch.device("meta"):
        copy = create_model(name, config=config)
    execution = getattr(model, "execution", None)
    if execution is not None:  # ASAP-Net: the same path and blocks; a fused kernel does not run on meta tensors
        copy.set_execution(execution, hr_kernel=None)
    return copy.eval()


def estimate_bytes(model: nn.Module, channels: int, batch: int, height: int, width: int,
                   dtype: torch.dtype = torch.float32, out_channels: int = 3) -> int | None:
    """Bytes a forward pass on a (batch, channels, height, width) input needs (None when it cannot be
    estimated, e.g. for a module that is not a registered pixelwise model)."""
    try:
        copy = _meta_copy(model)
        if copy is None:
            return None
        copy = copy.to(dtype)
        x = torch.empty(batch, channels, height, width, device="meta", dtype=dtype)
        mode = _PeakLive()
        with torch.no_grad(), mode:
            copy(x)
    except Exception:  # shape-only run unsupported by some op: no estimate, the forward itself decides
        return None
    element = torch.empty((), dtype=dtype).element_size()
    io = batch * height * width * (channels * element + out_channels * 4)
    from pixelwise.models.asapnet import ASAPNetGenerator

    factor = SAFETY["asapnet" if isinstance(model, ASAPNetGenerator) else "default"] * backend_factor(model)
    return int(mode.peak * factor + io)


def upper_bound_bytes(model: nn.Module, channels: int, batch: int, height: int, width: int) -> int:
    """A cheap bound (no forward): every conv / linear output kept alive at full resolution, in float32,
    times the safety factor. Only used to skip :func:`estimate_bytes` (whose first run costs seconds, for
    PyTorch's meta kernels) when even this fits."""
    widths = sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))
    widths += sum(m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    config = getattr(model, "config", None)  # ASAP-Net's per-pixel MLP has no modules: its layers per pixel
    widths += int(getattr(config, "hr_width", 0)) * int(getattr(config, "hr_depth", 0))
    return int(batch * height * width * 4 * (widths + channels + 3) * SAFETY["default"] * backend_factor(model))


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_bytes(device: torch.device) -> int | None:
    """Memory this process can still allocate on ``device``: CUDA's free memory; on the CPU the smallest of
    MemAvailable, the cgroup's limit minus its usage and the address-space limit (``ulimit -v``) minus what
    is mapped."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    limit, usage = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit and usage is not None:
        found.append(limit - usage)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        mapped = 0
        try:
            for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
                if line.startswith("VmSize:"):
                    mapped = int(line.split()[1]) * 1024
        except OSError:
            pass
        found.append(soft - mapped)
    return max(0, min(found)) if found else None


def suggest_tile(model: nn.Module, channels: int, batch: int, multiple: int, budget: int,
                 dtype: torch.dtype, largest: int) -> int | None:
    """The largest tile side (a multiple of ``multiple``, halving from ``largest``) whose forward fits
    ``budget``; None when even the model's minimum does not."""
    min_h, min_w, _ = minimum_size(model)
    smallest = max(min_h, min_w, multiple, 64)
    tile = max(smallest, largest // multiple * multiple)
    while tile >= smallest:
        need = estimate_bytes(model, channels, batch, tile, tile, dtype)
        if need is not None and need <= budget:
            return tile
        tile = max(multiple, (tile // 2) // multiple * multiple)
        if tile < smallest:
            break
    return None


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def check_memory(model: nn.Module, channels: int, batch: int, height: int, width: int, multiple: int,
                 source: str, tile: int | None = None) -> None:
    """Refuse, before the forward, an input (or tile) whose estimated memory exceeds what is available; the
    message gives the estimate, what is free and a ``--tile N`` that fits."""
    device, dtype = torch.device("cpu"), torch.float32
    for p in model.parameters():
        device, dtype = p.device, p.dtype
        break
    free = available_bytes(device)
    if free is None:
        return
    th, tw = (min(tile, height), min(tile, width)) if tile else (height, width)
    if upper_bound_bytes(model, channels, batch, th, tw) * 2 <= free:
        return  # fits even if every layer's activation were kept at full resolution: skip the estimate
    need = estimate_bytes(model, channels, batch, th, tw, dtype)
    if need is None:
        return
    # whole-image tensors that stay on the CPU while tiling: input, blended output and weights
    tiled_resident = batch * height * width * (channels * 4 + 3 * 4 * 2 + 4) if device.type == "cpu" else 0
    resident = tiled_resident if tile else 0
    if need + resident <= free:
        return
    where = f"{th}x{tw} tiles of " if tile else ""
    suggestion = suggest_tile(model, channels, batch, multiple, max(0, free - tiled_resident) // 2, dtype,
                              min(max(th, tw) // 2 * 2, 4096))
    fix = (f"use --tile {suggestion} (or smaller), or a device with more free memory" if suggestion else
           "downscale the image or use a device with more free memory")
    raise PixelwiseError(
        f"{source}: running {where}this {height}x{width} input needs about {_gb(need + resident)} "
        f"({device.type}) but only {_gb(free)} is available; {fix}"
    )
