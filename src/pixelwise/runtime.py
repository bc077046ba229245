"""Where and in what precision things run: the one place that resolves device and dtype names, describes the
machine (for records of timings), moves batches to a device and makes values strict-JSON safe.

    resolve_device("auto")            -> cuda when available, else cpu
    resolve_device("cuda", option="train.device", local_rank=1)   # this rank's GPU under torchrun
    resolve_dtype("bfloat16")         -> torch.bfloat16
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from pixelwise.errors import PixelwiseError

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# the short spellings (TrainConfig's precision used them first): accepted everywhere, never written
DTYPE_ALIASES: dict[str, str] = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def canonical_dtype(name: str) -> str:
    """A dtype name as pixelwise writes it (a key of :data:`DTYPES`): aliases (``bf16``) resolved; anything else
    comes back unchanged for the caller to refuse."""
    return DTYPE_ALIASES.get(name, name)


def _setting(option: str, value: Any) -> str:
    """How a user writes ``option`` set to ``value``: ``--device cpu`` for a flag, ``train.device=cpu`` else."""
    return f"{option} {value}" if option.startswith("-") else f"{option}={value}"


def resolve_device(device: str | torch.device | None, option: str = "--device", local_rank: int = 0) -> torch.device:
    """``None`` / ``"auto"``: CUDA when available, else CPU; ``"cuda"``: GPU ``local_rank`` (mod the GPU count);
    otherwise the named device, checked. Errors name ``option`` (``--device``, ``train.device``, ...)."""
    if device is None or str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise PixelwiseError(f"{_setting(option, repr(device))} is not a device name; use auto, cpu, cuda or "
                             f"cuda:N") from exc
    if resolved.type != "cuda":
        return resolved
    if not torch.cuda.is_available():
        raise PixelwiseError(f"{_setting(option, device)}: CUDA is not available here; use {_setting(option, 'cpu')}")
    count = torch.cuda.device_count()
    if resolved.index is None:
        return torch.device("cuda", local_rank % count)
    if resolved.index >= count:
        raise PixelwiseError(f"{_setting(option, device)}: only {count} GPU(s) visible")
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """A dtype name of :data:`DTYPES` or an alias (or a torch dtype, or None) -> the torch dtype (or None)."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    dtype = canonical_dtype(dtype)
    if dtype not in DTYPES:
        raise PixelwiseError(f"dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def dtype_name(dtype: torch.dtype) -> str:
    """torch.bfloat16 -> "bfloat16" (the inverse of :func:`resolve_dtype`)."""
    return next(k for k, v in DTYPES.items() if v == dtype)


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            return next((line.split(":", 1)[1].strip() for line in handle if line.lower().startswith("model name")),
                        name)
    except OSError:
        return name


def describe_device(device: torch.device, style: str = "long") -> str:
    """The machine a number was measured on. ``long``: 'NVIDIA H100 80GB HBM3 (CUDA 12.4)' or
    'CPU: <model name>, N threads'; ``short`` (bench records): the GPU name, or '<model name> (N threads)'."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return name if style == "short" else f"{name} (CUDA {torch.version.cuda})"
    threads = torch.get_num_threads()
    if style == "short":
        return f"{cpu_name()} ({threads} threads)"
    return f"CPU: {cpu_name()}, {threads} thread{'s' if threads != 1 else ''}"


def machine_load() -> dict[str, Any] | None:
    """The 1-minute load average, the CPU count and torch's thread count (to tell when timings were taken on
    a busy machine); None where the OS has no load average."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    return {"load1": round(load, 2), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def to_device(batch: Mapping[str, Any], device: torch.device | str, non_blocking: bool = False) -> dict[str, Any]:
    """A batch dict with every tensor moved to ``device`` (other values as they are)."""
    return {k: v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()}


def json_safe(value: Any) -> Any:
    """Non-finite floats -> None, numpy scalars and 0-d tensors -> Python numbers, recursively (strict JSON)."""
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


__all__ = ["DTYPES", "DTYPE_ALIASES", "canonical_dtype", "cpu_name", "describe_device", "dtype_name", "json_safe",
           "machine_load", "resolve_device", "resolve_dtype", "to_device"]
