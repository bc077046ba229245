"""ASAP-Net's high-res stream: the fused Triton kernel (launch knobs swept) vs the PyTorch fast path, per dtype.

Model: the official full-size Cityscapes configuration per size (S = H / 16, 16 cells tall as in
``pixelwise bench``; hr_width 64, hr_depth 5), random weights scaled so that activations are O(1), blocky
label maps, batch 1. The per-cell parameters are computed once (low-res stream, not timed); timed: the high-res
stream from label ids, ``apply_mlp_labels`` (torch) or the kernel (``triton``, one row per knob set), median of
``--runs`` calls after warm-up (CUDA events on CUDA). ``max_err`` / ``psnr_db``: against the torch reference
path in float32 on the same parameters. Writes JSON (``--json``) and a markdown table (``--markdown``).

    python benchmarks/asapnet_hr_kernel.py --device cuda [--sizes 1024x2048] [--dtypes float32,bfloat16]
    TRITON_INTERPRET=1 python benchmarks/asapnet_hr_kernel.py --device cpu --sizes 64x128 --tiny   # a CPU check
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import sys
import traceback
from collections.abc import Callable

import torch

from pixelwise.runtime import DTYPES


def timed(fn: Callable[[], object], device: torch.device, warmup: int, runs: int) -> float:
    """Median ms of ``runs`` calls after ``warmup`` untimed ones (pixelwise.timing's CUDA-event / perf_counter
    timing)."""
    from pixelwise.timing import time_calls

    for _ in range(warmup):
        fn()
    return statistics.median(time_calls(fn, device, runs))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.float() - b.float()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


def build(height: int, width: int, tiny: bool, device: torch.device):
    from pixelwise.bench import asapnet_grid
    from pixelwise.registry import create_model

    s = asapnet_grid(height, width)
    extra = dict(lr_width=8, lr_max_width=16, lr_depth=1, hr_width=16, hr_depth=3) if tiny else {}
    torch.manual_seed(0)
    model = create_model("asapnet", downsampling=s, learned_ds_factor=min(16, s), **extra).eval()
    for p in model.parameters():
        p.data.normal_(0.0, 0.3 if p.dim() == 1 else 0.35 / math.sqrt(p[0].numel()))
    return model.to(device)


def knob_sets(quick: bool) -> list[dict[str, int]]:
    if quick:
        return [{"block_pixels": 4096}]
    grid = itertools.product((64, 128, 256), (4, 8), (2,))
    return [{"block_pixels": b, "num_warps": w, "num_stages": st} for b, w, st in grid]


def bench_size(height: int, width: int, dtypes: list[str], device: torch.device,
               args: argparse.Namespace) -> list[dict]:
    from pixelwise.kernels.asapnet_hr_triton import TritonHRKernel
    from pixelwise.ops import random_label_maps

    model = build(height, width, args.tiny, device)
    cfg = model.config
    label, instance = (t.to(device) for t in random_label_maps(height, width, cfg.onehot_channels))
    rows: list[dict] = []
    with torch.inference_mode():
        ids, edge = model.prepare_labels(label, instance)
        from pixelwise.models.asapnet import tent_downsample, tent_downsample_labels

        lowres = torch.cat([tent_downsample_labels(ids, cfg.onehot_channels, cfg.predownsample),
                            tent_downsample(edge, cfg.predownsample)], dim=1)
        params32 = model.run_lowres_stream(lowres)
        pixels32 = model.hr_pixels(model.dense_input(label, instance))
        reference = model.apply_mlp_reference(pixels32, params32)
        base = {"height": height, "width": width, "S": cfg.downsampling, "hr_width": cfg.hr_width,
                "hr_depth": cfg.hr_depth, "device": device.type,
                "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}
        for dtype_name in dtypes:
            dtype = DTYPES[dtype_name]
            m = model.to(dtype)
            params = params32.to(dtype)
            m.set_execution(hr_kernel=None)
            out = m.apply_mlp_labels(ids, params)
            ms = timed(lambda m=m, params=params: m.apply_mlp_labels(ids, params), device, args.warmup, args.runs)
            rows.append({**base, "dtype": dtype_name, "backend": "torch", "knobs": {}, "median_ms": ms,
                         "max_err": (out.float() - reference).abs().max().item(), "psnr_db": psnr(out, reference)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            sets = [(knobs, False) for knobs in knob_sets(args.quick)]
            if dtype == torch.float32 and device.type == "cuda" and not args.quick:
                sets.append(({}, True))  # default launch, TF32 dots (allow_tf32): speed at lower precision
            for knobs, tf32 in sets:
                row = {**base, "dtype": dtype_name, "backend": "triton", "knobs": {**knobs, "tf32": tf32}}
                previous = torch.backends.cuda.matmul.allow_tf32
                try:
                    torch.backends.cuda.matmul.allow_tf32 = tf32
                    kernel = TritonHRKernel(**knobs)
                    out = kernel(cfg, params, label=ids)
                    row["median_ms"] = timed(lambda kernel=kernel, params=params: kernel(cfg, params, label=ids),
                                             device, args.warmup, args.runs)
                    row["max_err"] = (out.float() - reference).abs().max().item()
                    row["psnr_db"] = psnr(out, reference)
                except Exception as exc:  # a knob set that does not compile (e.g. out of shared memory) is a row
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    row["error"] = f"{type(exc).__name__}: {first}"[:300]
                finally:
                    torch.backends.cuda.matmul.allow_tf32 = previous
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
        model.to(torch.float32)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| size | S | dtype | backend | knobs | median ms | × vs torch | max err vs fp32 ref | PSNR dB | note |",
             "|---|---:|---|---|---|---:|---:|---:|---:|---|"]
    torch_ms = {(r["height"], r["width"], r["dtype"]): r["median_ms"] for r in rows if r["backend"] == "torch"}
    best: dict[tuple, dict] = {}
    for r in rows:
        key = (r["height"], r["width"], r["dtype"])
        faster = key not in best or (r.get("median_ms") or 1e30) < best[key]["median_ms"]
        if r["backend"] == "triton" and r.get("median_ms") and faster:
            best[key] = r
    for r in rows:
        key = (r["height"], r["width"], r["dtype"])
        ms = r.get("median_ms")
        ratio = f"{torch_ms[key] / ms:.2f}" if ms and key in torch_ms else "–"
        knobs = ",".join(f"{k}={v}" for k, v in r["knobs"].items()) or "–"
        note = r.get("error", "") or ("**best triton**" if best.get(key) is r else "")
        lines.append(f"| {r['height']}x{r['width']} | {r['S']} | {r['dtype']} | {r['backend']} | {knobs} | "
                     f"{ms:.3f} | {ratio} | {r.get('max_err', float('nan')):.2e} "
                     f"| {r.get('psnr_db', float('nan')):.1f} | {note} |" if ms else
                     f"| {r['height']}x{r['width']} | {r['S']} | {r['dtype']} | {r['backend']} | {knobs} | – | – | – "
                     f"| – | {note.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sizes", default="512x1024,1024x2048,2048x2048")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="narrow model (CPU checks)")
    parser.add_argument("--quick", action="store_true", help="one knob set (CPU / interpreter checks)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type != "cuda" and os.environ.get("TRITON_INTERPRET", "0") in ("", "0"):
        parser.error("the Triton kernel needs --device cuda, or TRITON_INTERPRET=1 for the CPU interpreter")
    rows: list[dict] = []
    status = 0
    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.lower().split("x"))
        try:
            rows += bench_size(h, w, args.dtypes.split(","), device, args)
        except Exception:  # keep the other sizes
            traceback.print_exc()
            rows.append({"height": h, "width": w, "S": 0, "dtype": "-", "backend": "-", "knobs": {},
                         "error": traceback.format_exc().strip().splitlines()[-1][:300]})
            status = 1
    meta = {"torch": torch.__version__, "triton": __import__("triton").__version__,
            "tf32_default": torch.backends.cuda.matmul.allow_tf32, "runs": args.runs, "warmup": args.warmup}
    table = f"torch {meta['torch']}, triton {meta['triton']}, median of {args.runs} after {args.warmup} warm-up\n\n" \
        + markdown(rows)
    print(table)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"meta": meta, "rows": rows}, handle, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(table)
    return status


if __name__ == "__main__":
    sys.exit(main())
