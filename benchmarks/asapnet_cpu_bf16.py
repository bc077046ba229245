"""bfloat16 vs float32 for ASAP-Net inference on CPU: low-res stream (oneDNN convolutions), high-res MLP and
end to end, with the quality of each bf16 variant against float32 (PSNR, images in [-1, 1]).

Models: the official full-size Cityscapes configuration per size (``crop_size`` = W, S = W / 32, 16 x 32 cells;
lr_width 64, lr_max_width 1024, lr_depth 7, hr_width 64, hr_depth 5), random weights, blocky label maps,
batch 1, under ``torch.inference_mode``. Every variant is run once per repeat, interleaved (fp32, bf16, ...), so
load from other processes hits every variant alike; medians are reported. Variants:
- ``lowres``: the low-res stream on its prebuilt input;
- ``hr``: the fast high-res path from label ids (``apply_mlp_labels``) on prebuilt parameters;
- ``e2e``: ``forward_labels`` from label + instance ids (everything inside the timing);
- ``e2e mixed``: bf16 low-res stream, its parameters cast to float32, float32 high-res MLP.

    python benchmarks/asapnet_cpu_bf16.py [--sizes 512x1024,1024x2048] [--repeats 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch
from asapnet_paths import blocky_labels  # the same label maps as the fast-vs-reference benchmark

from pixelwise import official


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.float() - b.float()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


def bench_size(height: int, width: int, warmup: int, repeats: int, init: str = "default") -> dict:
    torch.manual_seed(0)
    s = width // 32
    fp32 = official.build("asapnet", {"crop_size": width, "aspect_ratio": width / height,
                                      "learned_ds_factor": min(16, s)}).eval()
    if init == "scaled":  # as the tests do: O(1) activations, non-trivial norm affines and biases
        for p in fp32.parameters():
            p.data.normal_(0.0, 0.3 if p.dim() == 1 else 0.35 / math.sqrt(p[0].numel()))
    bf16 = copy.deepcopy(fp32).to(torch.bfloat16)
    label, instance = blocky_labels(height, width, fp32.config.label_nc)
    ids, edge = fp32.prepare_labels(label, instance)
    cfg = fp32.config
    from pixelwise.models.asapnet import tent_downsample, tent_downsample_labels

    lowres = torch.cat([tent_downsample_labels(ids, cfg.onehot_channels, cfg.predownsample),
                        tent_downsample(edge, cfg.predownsample)], dim=1)
    with torch.inference_mode():
        params32 = fp32.run_lowres_stream(lowres)
        params16 = bf16.run_lowres_stream(lowres.bfloat16())

    def mixed() -> torch.Tensor:
        params = bf16.run_lowres_stream(lowres.bfloat16()).float()
        return fp32.apply_mlp_labels(ids, params)

    fns: dict[str, Callable[[], torch.Tensor]] = {
        "lowres fp32": lambda: fp32.run_lowres_stream(lowres),
        "lowres bf16": lambda: bf16.run_lowres_stream(lowres.bfloat16()),
        "hr fp32": lambda: fp32.apply_mlp_labels(ids, params32),
        "hr bf16": lambda: bf16.apply_mlp_labels(ids, params16),
        "e2e fp32": lambda: fp32.forward_labels(label, instance),
        "e2e bf16": lambda: bf16.forward_labels(label, instance),
        "e2e mixed": mixed,
    }
    times: dict[str, list[float]] = {k: [] for k in fns}
    outs: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        for name, fn in fns.items():
            for _ in range(warmup):
                outs[name] = fn()
        for _ in range(repeats):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1000)
    med = {k: statistics.median(v) for k, v in times.items()}
    quality = {
        "lowres bf16": psnr(outs["lowres bf16"], outs["lowres fp32"]),  # on the raw parameters
        "hr bf16": psnr(outs["hr bf16"], outs["hr fp32"]),  # each on its own dtype's parameters
        "e2e bf16": psnr(outs["e2e bf16"], outs["e2e fp32"]),
        "e2e mixed": psnr(outs["e2e mixed"], outs["e2e fp32"]),
    }
    # the MLP's own error: bf16 MLP on the bf16-rounded float32 parameters vs float32 MLP on the same values
    with torch.inference_mode():
        rounded = params32.bfloat16()
        quality["hr bf16 (same params)"] = psnr(bf16.apply_mlp_labels(ids, rounded),
                                                fp32.apply_mlp_labels(ids, rounded.float()))
    return {"size": f"{height}x{width}", "S": s, "init": init, "median_ms": med,
            "ratio_fp32_over_bf16": {stage: med[f"{stage} fp32"] / med[f"{stage} bf16"] for stage in
                                     ("lowres", "hr", "e2e")} | {"e2e mixed": med["e2e fp32"] / med["e2e mixed"]},
            "psnr_db_vs_fp32": quality}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512x1024,1024x2048")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--init", choices=("default", "scaled"), default="default",
                        help="random weights: PyTorch's default init, or scaled to O(1) activations as in the tests")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    results = []
    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.lower().split("x"))
        results.append(bench_size(h, w, args.warmup, args.repeats, args.init))
        r = results[-1]
        print(f"| {r['size']} | " + " | ".join(f"{k} {v:.0f}" for k, v in r["median_ms"].items())
              + " | ratios " + ", ".join(f"{k} {v:.2f}x" for k, v in r["ratio_fp32_over_bf16"].items())
              + " | PSNR " + ", ".join(f"{k} {v:.1f}" for k, v in r["psnr_db_vs_fp32"].items()) + " |", flush=True)
    info = {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
            "repeats": args.repeats, "results": results}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {load_before} -> {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(info, handle, indent=1)


if __name__ == "__main__":
    main()
