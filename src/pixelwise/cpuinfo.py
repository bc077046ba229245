"""What CPU this is: model name, ISA level (avx2 / avx512 / amx, from ``/proc/cpuinfo`` flags), cores, cache sizes
and torch's CPU build, for the records of timings (``pixelwise bench``) and for cache-sized work blocks.

Everything is read once per process (Linux ``/proc`` and ``/sys``; elsewhere what :mod:`platform` and torch know)
and never assumed: a CPU without AVX-512 is described as such, and code paths only *size* work by the cache, they
never pick instructions (torch does that at run time).
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import re
from pathlib import Path
from typing import Any

CACHE_ROOT = Path("/sys/devices/system/cpu/cpu0/cache")
# the fallback when the OS does not say: a small L2 (most laptop and cloud cores have 512 KiB to 2 MiB)
DEFAULT_CACHE_BYTES = {1: 32 << 10, 2: 512 << 10, 3: 8 << 20}


def _cpuinfo_lines() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (``/proc/cpuinfo`` ``flags`` on x86, ``Features`` on ARM); empty elsewhere."""
    for line in _cpuinfo_lines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


def isa_level(flags: frozenset[str] | set[str] | None = None) -> str:
    """The widest vector ISA the flags show: ``amx`` (AMX tiles, with AVX-512), ``avx512``, ``avx2``, ``avx``,
    ``sse``; on ARM ``sve`` or ``neon``; ``unknown`` when no flags are known."""
    flags = cpu_flags() if flags is None else flags
    if not flags:
        return "unknown"
    for level, needed in (("amx", "amx_tile"), ("avx512", "avx512f"), ("avx2", "avx2"), ("avx", "avx"),
                          ("sve", "sve"), ("neon", "asimd"), ("neon", "neon"), ("sse", "sse2")):
        if needed in flags:
            return level
    return "unknown"


def cpu_model_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    for line in _cpuinfo_lines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("model name", "hardware", "cpu model") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def physical_cores() -> int | None:
    """Distinct (package, core) pairs in ``/proc/cpuinfo``; None when it does not say."""
    pairs, package = set(), None
    for line in _cpuinfo_lines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "physical id":
            package = value.strip()
        elif key == "core id":
            pairs.add((package, value.strip()))
    return len(pairs) or None


def usable_cpus() -> int:
    """Logical CPUs this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _parse_size(text: str) -> int | None:
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        return None
    return int(match.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2).upper()]


@functools.cache
def cache_bytes(level: int = 2, root: Path = CACHE_ROOT) -> int:
    """Size in bytes of cpu0's data/unified cache of ``level`` (sysfs); :data:`DEFAULT_CACHE_BYTES` when unknown.
    ``PIXELWISE_L2_BYTES`` (for level 2) overrides it, e.g. to size work for another machine."""
    override = os.environ.get("PIXELWISE_L2_BYTES") if level == 2 else None
    if override and _parse_size(override):
        return int(_parse_size(override) or 0)
    try:
        for index in sorted(root.glob("index*")):
            if (int((index / "level").read_text()) == level
                    and (index / "type").read_text().strip() in ("Data", "Unified")):
                size = _parse_size((index / "size").read_text())
                if size:
                    return size
    except (OSError, ValueError):
        pass
    return DEFAULT_CACHE_BYTES.get(level, DEFAULT_CACHE_BYTES[2])


# environment variables that make torch's CPU libraries run one ISA's code paths on a CPU that has a wider one (read
# when the process starts: set them before torch is imported, e.g. in a child process): ATen's vectorised kernels,
# oneDNN (mkldnn convolutions) and MKL (GEMMs). Caches stay the host's: see PIXELWISE_L2_BYTES.
ISA_EMULATION_ENV: dict[str, dict[str, str]] = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
               "MKL_ENABLE_INSTRUCTIONS": "AVX512"},
}


# every variable the emulation sets, and the block-size override: what a record lists when they are set
EMULATION_VARIABLES = (*dict.fromkeys(k for env in ISA_EMULATION_ENV.values() for k in env), "PIXELWISE_L2_BYTES")


def isa_emulation_env(isa: str) -> dict[str, str]:
    """The environment variables (:data:`ISA_EMULATION_ENV`) that restrict torch to ``isa``'s code paths; ``native``:
    none. Unknown names fail with the known ones."""
    if isa == "native":
        return {}
    if isa not in ISA_EMULATION_ENV:
        raise ValueError(f"ISA {isa!r}: use native or one of {', '.join(ISA_EMULATION_ENV)}")
    return dict(ISA_EMULATION_ENV[isa])


def emulated_isa(environ: dict[str, str] | None = None) -> str | None:
    """The ISA this process was restricted to by ``ATEN_CPU_CAPABILITY`` (lower case, e.g. ``avx2``), None when torch
    runs the CPU's own code paths."""
    value = (os.environ if environ is None else environ).get("ATEN_CPU_CAPABILITY", "").strip().lower()
    return value or None


def torch_build() -> dict[str, Any]:
    """torch's version and CPU build: the vector code it dispatches to here, BLAS / oneDNN, OpenMP threads."""
    import torch

    capability = None
    with contextlib.suppress(AttributeError, RuntimeError):
        capability = torch.backends.cpu.get_cpu_capability()
    return {"version": torch.__version__, "cpu_capability": capability,
            "mkl": torch.backends.mkl.is_available(), "mkldnn": torch.backends.mkldnn.is_available(),
            "openmp": torch.backends.openmp.is_available(), "cuda": torch.version.cuda}


def describe_cpu() -> dict[str, Any]:
    """The CPU for a record: name, isa, physical cores, usable logical CPUs, torch threads, L2/L3 bytes, torch."""
    import torch

    emulated = emulated_isa()
    return {"name": cpu_model_name(), "isa": isa_level(), "arch": platform.machine(),
            "physical_cores": physical_cores(), "logical_cpus": usable_cpus(), "torch_threads": torch.get_num_threads(),
            "l2_bytes": cache_bytes(2), "l3_bytes": cache_bytes(3), "torch": torch_build(),
            "emulated_isa": emulated,
            "emulation": {k: os.environ[k] for k in EMULATION_VARIABLES if os.environ.get(k)} or None}


def machine_label(info: dict[str, Any] | None = None) -> str:
    """``AMD EPYC (avx512)`` or, under emulation, ``emulated avx2 on AMD EPYC (avx512)``; an overridden L2 is said."""
    info = info or describe_cpu()
    label = f"{info.get('name')} ({info.get('isa')})"
    if info.get("emulated_isa"):
        label = f"emulated {info['emulated_isa']} on {label}"
    if (info.get("emulation") or {}).get("PIXELWISE_L2_BYTES"):
        label += f", blocks sized for L2 {info['emulation']['PIXELWISE_L2_BYTES']}"
    return label


def cpu_line(info: dict[str, Any] | None = None) -> str:
    """One line for a table header: 'AMD EPYC, avx512, 2 cores / 2 CPUs, 1 torch thread, L2 1 MiB, torch 2.x
    (AVX512, MKL)'."""
    info = info or describe_cpu()
    build = info.get("torch") or {}
    threads = info.get("torch_threads")
    libs = ", ".join(x for x, on in (("MKL", build.get("mkl")), ("oneDNN", build.get("mkldnn"))) if on)
    cores = info.get("physical_cores")
    name = f"emulated {info['emulated_isa']} on {info.get('name')}" if info.get("emulated_isa") else info.get("name")
    l2_note = " (PIXELWISE_L2_BYTES)" if (info.get("emulation") or {}).get("PIXELWISE_L2_BYTES") else ""
    return (f"{name}, {info.get('isa')}, {cores if cores else '?'} cores / {info.get('logical_cpus')} "
            f"CPUs, {threads} torch thread{'s' if threads != 1 else ''}, "
            f"L2 {(info.get('l2_bytes') or 0) >> 10} KiB{l2_note}"
            f", torch {build.get('version')} ({build.get('cpu_capability')}{', ' + libs if libs else ''})")


__all__ = ["EMULATION_VARIABLES", "ISA_EMULATION_ENV", "cache_bytes", "cpu_flags", "cpu_line", "cpu_model_name",
           "describe_cpu", "emulated_isa", "isa_emulation_env", "isa_level", "machine_label", "physical_cores",
           "torch_build", "usable_cpus"]
