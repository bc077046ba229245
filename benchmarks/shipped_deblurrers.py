"""How well do the shipped deblurrers restore real photos they never saw, and how fast are they on a CPU?

Evaluates deblurring model folders (default: the two shipped in the package, ``pretrained/deblurgan-small`` and
``pretrained/deblurgan-asap-small``) on held-out real photos: crops of the 8 photographic wallpapers of
Debian's ``plasma-workspace-wallpapers`` (``apt-get install plasma-workspace-wallpapers``; the photos and the
crops are :mod:`deblur_quality`'s, with ``--crop`` / ``--width``). For each strength s:

1. ``pixelwise blur OUT/sharp OUT/s<s> --strength s --max-length L --seed SEED`` (A blurred, B sharp);
2. ``pixelwise deblur OUT/s<s>/A --model M -o OUT/s<s>/<model>`` for each model;
3. mean PSNR (dB, 8-bit) and SSIM (:mod:`pixelwise.metrics.image`: scikit-image's per-channel Gaussian SSIM,
   data range 255) against the sharp crops, for the blurred input and each model.

Then each model is timed with the library bench (:func:`pixelwise.bench.run_benchmark`, the folder's
architecture config, batch 1, float32) at 256x256 and 512x512 on the CPU (median ms), with the CPU model and
load average. Prints the tables, writes ``OUT/results.json`` and, with ``--write-cards``, puts a "Results"
section (the command that produced it, the tables, the timings) into each model folder's README.md (other
sections of a pixelwise card are kept; a README.md without pixelwise's mark line is left alone).

    PYTHONPATH=src python benchmarks/shipped_deblurrers.py [--models DIR,DIR] [--strengths 0.25,0.5,0.75,1]
        [--max-length 12] [--seed 0] [--out runs/shipped-deblurrers] [--threads N] [--write-cards]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from deblur_quality import CROP, PHOTOS, THREADS, WALLPAPERS, WIDTH, pixelwise, write_sharp_crops
from PIL import Image

INPUT = "input"  # the key of the blurred-input (no model) row
BENCH_SIZES = ((256, 256), (512, 512))
SHIPPED = ("deblurgan-small", "deblurgan-asap-small")


def parse_strengths(text: str) -> list[float]:
    values = [float(v) for v in text.split(",") if v.strip()]
    if not values or any(not 0 < v <= 1 for v in values):
        raise ValueError(f"--strengths {text!r}: give comma-separated strengths in (0, 1]")
    return values


def strength_label(s: float) -> str:
    return f"{s:g}"


def _read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)  # (3, H, W) uint8


def score_folder(predicted: Path, sharp: Path, names: Sequence[str]) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of ``predicted/<name>`` against ``sharp/<name>`` (8-bit RGB, the project's
    metrics); also the per-image values."""
    from pixelwise.metrics.image import psnr, ssim

    pred = np.stack([_read(predicted / n) for n in names])
    target = np.stack([_read(sharp / n) for n in names])
    p, s = psnr(pred, target), ssim(pred, target)
    return {"psnr": float(np.mean(p)), "ssim": float(np.mean(s)), "psnr_per_image": p.tolist(),
            "ssim_per_image": s.tolist()}


def add_gains(scores: Mapping[str, Mapping[str, Mapping[str, float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """scores[key][strength] = {psnr, ssim, ...} -> the same with ``psnr_gain`` / ``ssim_gain`` against the
    blurred input at that strength, and an ``all`` entry (the mean over strengths) per key."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for key, by_strength in scores.items():
        rows = {s: dict(v) for s, v in by_strength.items() if s != "all"}
        rows["all"] = {m: float(np.mean([v[m] for v in rows.values()])) for m in ("psnr", "ssim")}
        out[key] = rows
    for rows in out.values():
        for s, v in rows.items():
            base = out[INPUT][s]
            v["psnr_gain"], v["ssim_gain"] = v["psnr"] - base["psnr"], v["ssim"] - base["ssim"]
    return out


def results_table(scores: Mapping[str, Mapping[str, Mapping[str, float]]], metric: str,
                  names: Mapping[str, str] | None = None) -> str:
    """A markdown table: one row per key (the blurred input first), one column per strength and ``all``;
    model cells carry the gain over the blurred input."""
    from pixelwise.models.card import markdown_table

    strengths = [s for s in scores[INPUT] if s != "all"] + ["all"]
    digits, unit = (2, " dB") if metric == "psnr" else (3, "")
    header = [f"{metric.upper()}{unit}", *(f"s={s}" if s != "all" else "all" for s in strengths)]
    rows = []
    for key in [INPUT, *(k for k in scores if k != INPUT)]:
        label = (names or {}).get(key, "Blurred input (no model)" if key == INPUT else key)
        cells = []
        for s in strengths:
            v = scores[key][s]
            gain = "" if key == INPUT else f" ({v[f'{metric}_gain']:+.{digits}f})"
            cells.append(f"{v[metric]:.{digits}f}{gain}")
        rows.append([label, *cells])
    return markdown_table(header, rows)


def bench_table(records: Sequence[Mapping[str, Any]]) -> str:
    from pixelwise.models.card import markdown_table

    rows = [[f"{r['height']}x{r['width']}", r["median_ms"] if r.get("median_ms") is not None else r.get("error"),
             r.get("device_name")] for r in records]
    return markdown_table(["size (batch 1, float32)", "median ms", "CPU (torch threads)"], rows, digits=1, align="lrl")


def card_results(result: Mapping[str, Any], key: str) -> str:
    """The body of a model card's "Results" section for model ``key`` of ``result`` (results.json)."""
    one = {k: v for k, v in result["scores"].items() if k in (INPUT, key)}
    setup = result["setup"]
    load = result["machine"].get("load")
    lines = [
        "Measured by", "", "```bash", result["command"], "```", "",
        f"on {setup['images']} held-out real photos (two {setup['crop']}x{setup['crop']} crops of each of the "
        f"{len(PHOTOS)} photographic wallpapers of Debian's plasma-workspace-wallpapers, resized to "
        f"{setup['width']} px wide; never used in training), blurred with `pixelwise blur --strength s "
        f"--max-length {setup['max_length']:g} --seed {setup['seed']}` and restored with `pixelwise deblur`; "
        f"mean over the images, against the sharp crops ({result['date']}).", "",
        results_table(one, "psnr"), "", results_table(one, "ssim"), "",
        f"CPU inference time (`pixelwise.bench`, median of {setup['bench_runs']} runs), "
        f"{result['machine']['cpu']}, torch {result['machine']['torch']}"
        + (f", load average {load['load1']} at the start" if load else "") + ":", "",
        bench_table(result["bench"].get(key, [])),
    ]
    return "\n".join(lines)


def comparison_grid(folder: Path, out: Path, keys: Sequence[str], names: Sequence[str], title: str,
                    count: int = 4) -> Path:
    """``out/grid.png``: for ``count`` crops (evenly spread over ``names``), the blurred input (``folder/A``), each
    model's result (``folder/<key>``) and the sharp crop (``folder/B``)."""
    from pixelwise.imagegrid import save_image_grid

    picks = [names[round(i * (len(names) - 1) / max(count - 1, 1))] for i in range(min(count, len(names)))]
    rows = [[_read(folder / sub / n).transpose(1, 2, 0) for sub in ("A", *keys, "B")] for n in picks]
    return save_image_grid(rows, out / "grid.png", ["blurred input", *keys, "sharp"],
                           row_labels=[n.rsplit(".", 1)[0] for n in picks], title=title)


def write_grid(out: Path, strengths: Sequence[float], keys: Sequence[str], names: Sequence[str],
               count: int = 4) -> Path:
    """:func:`comparison_grid` at the strength nearest 0.5."""
    label = strength_label(min(strengths, key=lambda s: abs(s - 0.5)))
    return comparison_grid(out / f"s{label}", out, keys, names, f"held-out crops, blur strength {label}", count)


def bench_folder(folder: Path, runs: int, warmup: int) -> list[dict[str, Any]]:
    """The library bench for the architecture saved in ``folder`` at :data:`BENCH_SIZES` on the CPU."""
    from pixelwise.bench import run_benchmark

    record = json.loads((folder / "config.json").read_text())
    name = record["model"]
    return run_benchmark([name], sizes=BENCH_SIZES, device="cpu", runs=runs, warmup=warmup,
                         model_options={name: record["config"]})


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    from pixelwise.hub import PACKAGED_ROOT
    from pixelwise.runtime import cpu_name, machine_load

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(str(PACKAGED_ROOT / n) for n in SHIPPED),
                        help="comma-separated model folders (default: the two shipped deblurrers)")
    parser.add_argument("--strengths", default="0.25,0.5,0.75,1")
    parser.add_argument("--max-length", type=float, default=12.0,
                        help="camera path in px at strength 1 (12: the shipped models' training blur)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/shipped-deblurrers"))
    parser.add_argument("--crop", type=int, default=CROP)
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--bench-runs", type=int, default=10)
    parser.add_argument("--bench-warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (bench and the pixelwise commands)")
    parser.add_argument("--write-cards", action="store_true", help="write the results into each model's README.md")
    args = parser.parse_args(argv)
    strengths = parse_strengths(args.strengths)
    folders = [Path(m) for m in args.models.split(",") if m.strip()]
    for folder in folders:
        if not (folder / "config.json").is_file():
            sys.exit(f"{folder} is not a model folder (no config.json): give --models DIR,DIR")
    if not WALLPAPERS.is_dir():
        sys.exit(f"{WALLPAPERS} not found: apt-get install plasma-workspace-wallpapers")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        THREADS.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    command = shlex.join(["python", "benchmarks/shipped_deblurrers.py", *(sys.argv[1:] if argv is None else argv)])
    load = machine_load()
    out: Path = args.out
    sharp = write_sharp_crops(out / "sharp", args.crop, args.width)
    names = [p.name for p in sharp]
    keys = {folder.name: folder for folder in folders}
    raw: dict[str, dict[str, dict[str, float]]] = {INPUT: {}, **{k: {} for k in keys}}
    for s in strengths:
        label = strength_label(s)
        blurred = out / f"s{label}"
        pixelwise("blur", str(out / "sharp"), str(blurred), "--strength", label, "--max-length", f"{args.max_length:g}",
                  "--seed", str(args.seed), "--no-progress")
        raw[INPUT][label] = score_folder(blurred / "A", blurred / "B", names)
        for key, folder in keys.items():
            pixelwise("deblur", str(blurred / "A"), "--model", str(folder), "-o", str(blurred / key), "--quiet")
            raw[key][label] = score_folder(blurred / key, blurred / "B", names)
    scores = add_gains(raw)
    grid = write_grid(out, strengths, list(keys), names)
    import torch

    bench = {key: bench_folder(folder, args.bench_runs, args.bench_warmup) for key, folder in keys.items()}
    result = {
        "command": command, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "setup": {"images": len(names), "photos": list(PHOTOS), "crop": args.crop, "width": args.width,
                  "strengths": strengths, "max_length": args.max_length, "seed": args.seed,
                  "bench_sizes": [list(s) for s in BENCH_SIZES], "bench_runs": args.bench_runs},
        "machine": {"cpu": cpu_name(), "load": load, "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count()},
        "models": {key: str(folder) for key, folder in keys.items()},
        "scores": scores, "bench": bench,
    }
    from pixelwise.fileio import atomic_write_json

    atomic_write_json(out / "results.json", result)
    print(f"{len(names)} held-out wallpaper crops {args.crop}x{args.crop}, max length {args.max_length:g} px, "
          f"seed {args.seed}\n")
    print(results_table(scores, "psnr") + "\n\n" + results_table(scores, "ssim") + "\n")
    print(f"CPU: {result['machine']['cpu']}; load average at the start "
          f"{load['load1'] if load else 'n/a'}; torch threads {torch.get_num_threads()}")
    for key, records in bench.items():
        print(f"{key}:\n{bench_table(records)}")
    print(f"wrote {out / 'results.json'} and {grid}")
    if args.write_cards:
        from pixelwise.models.io import write_model_card

        for key, folder in keys.items():
            done = write_model_card(folder, update=True, sections={"Results": card_results(result, key)},
                                    metric_names=["psnr", "ssim"])
            print(f"{folder / 'README.md'}: " + ("results written" if done else
                                                  "left alone (not written by pixelwise: no mark line)"))
    return result


if __name__ == "__main__":
    main()
