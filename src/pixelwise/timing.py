"""How one prepared call is timed and its memory measured (the conventions are stated in :mod:`pixelwise.bench`):
CUDA events or ``perf_counter`` around each call, the median of the timed calls; CUDA ``max_memory_allocated`` or
the CPU's peak resident-set growth; FLOPs from ``FlopCounterMode``."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

MEMORY_MEASURES = {
    "cuda_max_memory_allocated": "CUDA max_memory_allocated over the timed calls (weights + input + activations)",
    "cpu_peak_rss_delta": "CPU peak resident-set growth during one forward (activations + workspace; weights and "
                          "input already resident)",
}

def _proc_status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap pages back so that reuse is counted as growth
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM to the current resident set
        return True
    except OSError:
        return False


def _cpu_peak_rss_delta_mb(call: Callable[[], Any]) -> float | None:
    if not sys.platform.startswith("linux"):
        call()
        return None
    gc.collect()
    if not _reset_peak_rss():
        call()
        return None
    before = _proc_status_kb("VmRSS")
    call()
    peak = _proc_status_kb("VmHWM")
    if before is None or peak is None:
        return None
    return max(peak - before, 0) / 1024


def count_flops(fn: Callable[..., Any], *args: torch.Tensor) -> int:
    """FLOPs of one call (FlopCounterMode: convolutions and matrix products, multiply-add = 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn(*args)
    return int(counter.get_total_flops())


def time_calls(call: Callable[[], Any], device: torch.device, runs: int) -> list[float]:
    """Milliseconds of each of ``runs`` calls: CUDA events after a synchronisation on CUDA, perf_counter on CPU."""
    times = []
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        for _ in range(runs):
            start.record()
            call()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
    else:
        for _ in range(runs):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1000.0)
    return times


def measure(call: Callable[[], Any], device: torch.device, runs: int, warmup: int) -> dict[str, Any]:
    """Warm-up, timed calls and the memory measure for one prepared call."""
    out: dict[str, Any] = {}
    with torch.inference_mode():
        for _ in range(warmup):
            call()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        cpu_start = time.process_time()
        times = time_calls(call, device, runs)
        cpu_times = (time.process_time() - cpu_start) * 1000.0 / runs
        if device.type == "cuda":
            out["peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
            out["memory_measure"] = "cuda_max_memory_allocated"
        else:
            peak = _cpu_peak_rss_delta_mb(call)
            if peak is not None:
                out["peak_memory_mb"], out["memory_measure"] = peak, "cpu_peak_rss_delta"
    out.update(median_ms=statistics.median(times), min_ms=min(times), mean_ms=statistics.fmean(times))
    if device.type == "cpu":
        out["cpu_ms"] = cpu_times  # the process's CPU time per call (all threads), mean of the timed calls
    return out



__all__ = ["MEMORY_MEASURES", "count_flops", "measure", "time_calls"]
