"""Strength -> motion-blur extent and damage: the tables of docs/data.md (rendered from this script's --json).

For each strength: the mean RMS spread (px; the kernel mass's RMS distance from its centre, 0 for the
identity) and the mean footprint (px; side of the kernel's bounding box of non-zero weight) of ``--kernels``
seeded kernels at ``--max-length``, and the mean PSNR (dB) of the bundled test photos (the deblurring demo's
evaluation set: scikit-image tiles resized to ``--size``) blurred with their fixed evaluation kernels
(``data.seed`` 0) at that strength, against the sharp photos.

    PYTHONPATH=src python benchmarks/blur_strength_table.py [--max-length 60] [--size 128] [--kernels 60] [--json FILE]

``--json FILE`` also writes the rows with the command, date and machine (the docs' blur tables are rendered from
such files in ``docs/results/`` by ``scripts/render_results.py``).
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from pixelwise.data import DataConfig, build_dataset
from pixelwise.data.blur import kernel_spread, sample_kernel
from pixelwise.metrics import psnr, quantize

STRENGTHS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)


def footprint(kernel: np.ndarray) -> int:
    rows, cols = np.nonzero(kernel > 1e-6 * kernel.max())
    return int(max(rows.max() - rows.min(), cols.max() - cols.min()) + 1)


def blurred_psnr(strength: float, max_length: float, size: int) -> tuple[float, int]:
    config = DataConfig(format="bundled-blur", root="", load_height=size, load_width=size,
                        blur_strength=strength, blur_max_length=max_length)
    dataset = build_dataset(config, "test", train=False)
    samples = [dataset[i] for i in range(len(dataset))]
    blurred = torch.stack([s["input"] for s in samples])
    sharp = torch.stack([s["target"] for s in samples])
    return float(np.mean(psnr(quantize(blurred), quantize(sharp)))), len(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-length", type=float, default=60.0, help="camera path (px) at strength 1")
    parser.add_argument("--size", type=int, default=128, help="bundled photos resized to SIZE x SIZE")
    parser.add_argument("--kernels", type=int, default=60, help="kernel seeds averaged per strength")
    parser.add_argument("--strengths", default=",".join(map(str, STRENGTHS)))
    parser.add_argument("--json", type=Path, default=None, help="also write the rows (and how they were made) here")
    args = parser.parse_args()
    strengths = [float(s) for s in args.strengths.split(",")]
    print(f"max_length {args.max_length:g} px, bundled test photos at {args.size}x{args.size}, "
          f"{args.kernels} kernels per strength")
    print("| strength | path px | RMS spread px | footprint px | PSNR blurred vs sharp dB |")
    print("|---|---|---|---|---|")
    rows = []
    for s in strengths:
        kernels = [sample_kernel(seed, s, args.max_length).kernel for seed in range(args.kernels)]
        spread = np.mean([kernel_spread(k) for k in kernels])
        foot = np.mean([footprint(k) for k in kernels])
        value, count = blurred_psnr(s, args.max_length, args.size)
        text = "inf (identity)" if not np.isfinite(value) else f"{value:.2f}"
        print(f"| {s:g} | {s * args.max_length:.1f} | {spread:.2f} | {foot:.1f} | {text} (n={count}) |")
        rows.append({"strength": s, "path_px": s * args.max_length, "spread_px": float(spread),
                     "footprint_px": float(foot), "psnr": float(value) if np.isfinite(value) else None,
                     "images": count})
    if args.json:
        from pixelwise.fileio import atomic_write_json
        from pixelwise.runtime import cpu_name

        atomic_write_json(args.json, {
            "command": shlex.join(["python", "benchmarks/blur_strength_table.py", *sys.argv[1:]]),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": {"cpu": cpu_name(), "torch": torch.__version__},
            "setup": {"max_length": args.max_length, "size": args.size, "kernels": args.kernels},
            "rows": rows})
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
