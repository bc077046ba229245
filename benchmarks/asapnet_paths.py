"""Time ASAP-Net's reference vs fast high-res path in one run (batch 1, median after warm-up).

Models are the official full-size Cityscapes configurations for each size (``crop_size`` = W, so
S = W / 32 and the parameter grid is 16 x 32 cells; lr_width 64, lr_max_width 1024, lr_depth 7, hr_width 64,
hr_depth 5), with random weights. Columns:
- ``reference``: ``forward`` on the dense official input with ``hr_path="reference"`` (input prebuilt);
- ``fast``: the same call with the default fast path;
- ``fast labels``: ``forward_labels`` on the integer label + instance maps (builds its own inputs);
- ``ref + prep``: the reference including building the dense input from the same maps, the fair
  comparison for ``fast labels``.

    python benchmarks/asapnet_paths.py [--sizes 256x512,512x1024,1024x2048] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from pixelwise import official
from pixelwise.ops import random_label_maps


def time_runs(fns: dict[str, Callable[[], object]], warmup: int, repeats: int) -> dict[str, list[float]]:
    """Wall times of each function; the runs are interleaved (a, b, c, a, b, c, ...) so that load from other
    processes affects every path alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def blocky_labels(height: int, width: int, label_nc: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Piecewise-constant label map (32 px blocks) and Cityscapes-style instance ids (things: ids >= 24)."""
    return random_label_maps(height, width, label_nc, block=32, things_from=24,
                             generator=torch.Generator().manual_seed(seed))


def bench_size(height: int, width: int, warmup: int, repeats: int) -> str:
    """One markdown table row for ``height`` x ``width``."""
    torch.manual_seed(0)
    s = width // 32  # the official S = crop_size // (16 * aspect_ratio)
    model = official.build("asapnet", {"crop_size": width, "aspect_ratio": width / height,
                                       "learned_ds_factor": min(16, s)})
    label, instance = blocky_labels(height, width, model.config.label_nc)
    x = model.dense_input(label, instance)

    def reference() -> torch.Tensor:
        model.hr_path = "reference"
        return model(x)

    def fast() -> torch.Tensor:
        model.hr_path = "fast"
        return model(x)

    def fast_labels() -> torch.Tensor:
        model.hr_path = "fast"
        return model.forward_labels(label, instance)

    def reference_with_prep() -> torch.Tensor:
        model.hr_path = "reference"
        return model(official.preprocess_semantic(label, instance))

    diff = max((fast() - reference()).abs().max().item(), (fast_labels() - reference()).abs().max().item())
    runs = time_runs({"ref": reference, "fast": fast, "labels": fast_labels, "prep": reference_with_prep},
                     warmup, repeats)
    t_ref, t_fast, t_labels, t_prep = (statistics.median(runs[k]) for k in ("ref", "fast", "labels", "prep"))
    best = min(runs["ref"]) / min(runs["fast"])  # minima: the least disturbed runs, a check on the medians
    return (f"| {height}x{width} | {model.config.downsampling} | {t_ref * 1e3:.0f} | {t_fast * 1e3:.0f} | "
            f"{t_labels * 1e3:.0f} | {t_prep * 1e3:.0f} | {t_ref / t_fast:.2f}x | {t_prep / t_labels:.2f}x | "
            f"{best:.2f}x | {diff:.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256x512,512x1024,1024x2048", help="HxW list (W = 2H, Cityscapes)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} "
          f"threads, CPU float32, batch 1, median of {args.repeats} interleaved runs after {args.warmup} "
          f"warm-up; load average at start {load:.1f}")
    print("| size | S | reference ms | fast ms | fast labels ms | ref + prep ms | fast / reference speed-up | "
          "labels / (ref + prep) speed-up | fast / reference, min times | max abs diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes.split(","):
        height, width = (int(v) for v in size.lower().split("x"))
        print(bench_size(height, width, args.warmup, args.repeats), flush=True)

if __name__ == "__main__":
    main()
