"""Do the shipped deblurrers restore real photos they never saw, at camera scale, in DeblurGAN's blur regime?

The held-out set (built by this script from installed packages; nothing is committed; no training of pixelwise
uses these photos):

- ``--set plasma`` (default): the 8 photographic wallpapers of Debian's ``plasma-workspace-wallpapers`` that the
  training photos leave out (:data:`deblur_quality.PHOTOS`; ``apt-get install plasma-workspace-wallpapers``),
  each resized to a 720-px short side (the scale of DeblurGAN's GoPro frames), two 256x256 crops each (centred
  on the left and right quarter): 16 crops;
- ``--set skimage``: scikit-image's held-out photos (coffee, chelsea, coins, gravel: the test split of the
  bundled data) at their own size, one centred 256x256 crop each: a second, unrelated photo set.

For each ``--max-lengths`` L (default 60: DeblurGAN's regime, and 12) and strength s in 0, 0.25, 0.5, 0.75, 1:
the crops are blurred as ``pixelwise blur --strength s --max-length L --seed SEED`` does (:func:`blur_folder`),
restored as ``pixelwise deblur --model M`` does (:func:`pixelwise.deblur.deblur_files`), and scored against the
sharp crops (mean PSNR in dB and SSIM, 8-bit, :mod:`pixelwise.metrics.image`). Rows: the blurred input (the
baseline), each model, and a non-blind Wiener filter told each crop's true kernel (NSR 0.01; an upper reference
that no blind method is given; :func:`deblur_ceiling.wiener`). At s = 0 the input is the sharp crop itself, so
the row says whether a model harms a sharp photo. Then each model is timed at 720x1280 (batch 1, float32, the
library bench, median of ``--bench-runs``) on this CPU.

Writes ``OUT/results.json`` (every number, the command, date and machine), ``OUT/results.md`` (the tables) and
``OUT/grid.png`` (blurred | each model | Wiener | sharp, 60-px paths at s = 0.5)::

    PYTHONPATH=src python benchmarks/deblur_realworld.py --out runs/deblur-realworld [--set plasma|skimage]
        [--models DIR,DIR] [--max-lengths 60,12] [--threads N] [--write-cards]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from deblur_quality import PHOTOS, WALLPAPERS
from PIL import Image
from shipped_deblurrers import INPUT, add_gains, comparison_grid, score_folder

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
SHORT_SIDE, CROP = 720, 256
SKIMAGE_HELD_OUT = ("coffee", "chelsea", "coins", "gravel")
WIENER, WIENER_NSR = "wiener", 0.01
BENCH_SIZE = (720, 1280)


def write_held_out(out: Path, which: str) -> list[Path]:
    """The sharp held-out crops of set ``which`` as ``out/<photo>-<i>.png`` (see the module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if which == "skimage":
        from pixelwise.data.bundled import bundled_photo

        for name in SKIMAGE_HELD_OUT:
            image = Image.fromarray(bundled_photo(name))
            left, top = (image.width - CROP) // 2, (image.height - CROP) // 2
            path = out / f"{name}-0.png"
            image.crop((left, top, left + CROP, top + CROP)).save(path)
            written.append(path)
        return written
    if not WALLPAPERS.is_dir():
        sys.exit(f"{WALLPAPERS} not found: apt-get install plasma-workspace-wallpapers")
    for name in PHOTOS:
        files = sorted((WALLPAPERS / name / "contents" / "images").glob("*"), key=lambda p: p.stat().st_size)
        if not files:
            sys.exit(f"{WALLPAPERS / name} is missing: apt-get install plasma-workspace-wallpapers")
        image = Image.open(files[0]).convert("RGB")
        scale = SHORT_SIDE / min(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        top = (image.height - CROP) // 2
        for i, centre in enumerate((image.width // 4, 3 * image.width // 4)):
            left = centre - CROP // 2
            path = out / f"{name}-{i}.png"
            image.crop((left, top, left + CROP, top + CROP)).save(path)
            written.append(path)
    return written


def wiener_folder(blurred: Path, out: Path, manifest: Path, max_length: float) -> None:
    """The non-blind Wiener reference: each blurred crop deconvolved by its true kernel (rebuilt from its seed)."""
    from deblur_ceiling import wiener

    from pixelwise.data.blur import sample_kernel

    out.mkdir(parents=True, exist_ok=True)
    for entry in json.loads(manifest.read_text())["kernels"]:
        kernel = sample_kernel(entry["seed"], entry["strength"], max_length).kernel
        photo = np.asarray(Image.open(blurred / entry["name"]).convert("RGB"))
        Image.fromarray(wiener(photo, kernel, WIENER_NSR)).save(out / entry["name"])


def table(scores: dict[str, Any], metric: str, labels: dict[str, str]) -> str:
    """Markdown: one row per key (blurred input first), one column per strength and the mean over s > 0;
    every model cell carries its gain over the blurred input."""
    from pixelwise.models.card import markdown_table

    strengths = [s for s in scores[INPUT] if s != "all"]
    digits, unit = (2, " dB") if metric == "psnr" else (3, "")
    header = [f"{metric.upper()}{unit}", *(f"s={s}" for s in strengths), "mean s>0"]
    rows = []
    for key, by_strength in scores.items():
        cells = []
        for s in [*strengths, "all"]:
            v = by_strength[s]
            if v[metric] is None:  # the sharp input's PSNR against itself
                cells.append("∞")
                continue
            gain = "" if key == INPUT or v[f"{metric}_gain"] is None else f" ({v[f'{metric}_gain']:+.{digits}f})"
            cells.append(f"{v[metric]:.{digits}f}{gain}")
        rows.append([labels.get(key, key), *cells])
    return markdown_table(header, rows)


def mean_over_blur(raw: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """add_gains with the ``all`` entry over the blurred strengths only (s > 0). At s = 0 the input is the sharp
    crop (PSNR infinite, stored as null): a model's s = 0 PSNR is against its own input, the no-harm check."""
    scores: dict[str, dict[str, dict[str, Any]]] = add_gains(
        {k: {s: v for s, v in rows.items() if float(s) > 0} for k, rows in raw.items()})
    for key, rows in raw.items():
        zero = rows.get("0")
        if zero is not None:
            finite = {m: (None if isinstance(v, float) and not np.isfinite(v) else v) for m, v in zero.items()
                      if m in ("psnr", "ssim")}
            scores[key] = {"0": {**finite, "psnr_gain": None, "ssim_gain": zero["ssim"] - raw[INPUT]["0"]["ssim"]},
                           **scores[key]}
    return scores


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    import torch

    from pixelwise.bench import run_benchmark
    from pixelwise.data.blur_folder import blur_folder
    from pixelwise.deblur import deblur_files, load_deblur_model
    from pixelwise.hub import PACKAGED_ROOT, packaged_names
    from pixelwise.runtime import cpu_name, machine_load

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped = [str(PACKAGED_ROOT / n) for n in packaged_names() if "deblur" in n]
    parser.add_argument("--models", default=",".join(shipped), help="comma-separated model folders "
                        "(default: every deblurrer shipped in the package)")
    parser.add_argument("--set", dest="photo_set", choices=("plasma", "skimage"), default="plasma")
    parser.add_argument("--max-lengths", default="60,12", help="camera-path lengths (px) at strength 1")
    parser.add_argument("--strengths", default=",".join(f"{v:g}" for v in STRENGTHS),
                        help="blur strengths (default 0,0.25,0.5,0.75,1; 0 = the sharp crop, the no-harm check)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("runs/deblur-realworld"))
    parser.add_argument("--bench-runs", type=int, default=3, help="0: no timing")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--write-cards", action="store_true",
                        help="write the tables into each model folder's README.md (section 'Real-photo benchmark')")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = shlex.join(["python", "benchmarks/deblur_realworld.py", *(sys.argv[1:] if argv is None else argv)])
    load = machine_load()
    folders = {Path(m).name: Path(m) for m in args.models.split(",") if m.strip()}
    models = {key: load_deblur_model(folder) for key, folder in folders.items()}
    out: Path = args.out
    sharp = write_held_out(out / "sharp", args.photo_set)
    names = [p.name for p in sharp]
    lengths = [float(v) for v in args.max_lengths.split(",") if v.strip()]
    strengths = [float(v) for v in args.strengths.split(",") if v.strip()]
    results: dict[str, Any] = {}
    for length in lengths:
        raw: dict[str, dict[str, dict[str, float]]] = {INPUT: {}, **{k: {} for k in models}, WIENER: {}}
        for s in strengths:
            label = f"{s:g}"
            folder = out / f"L{length:g}" / f"s{label}"
            manifest = blur_folder(out / "sharp", folder, strength=s, seed=args.seed, max_length=length,
                                   progress=False)
            raw[INPUT][label] = score_folder(folder / "A", folder / "B", names)
            for key, model in models.items():
                deblur_files([str(folder / "A")], folder / key, model=model, progress=False)
                raw[key][label] = score_folder(folder / key, folder / "B", names)
            wiener_folder(folder / "A", folder / WIENER, manifest, length)
            raw[WIENER][label] = score_folder(folder / WIENER, folder / "B", names)
            print(f"L={length:g} s={label}: " + ", ".join(f"{k} {v[label]['psnr']:.2f}" for k, v in raw.items()),
                  flush=True)
        results[f"{length:g}"] = mean_over_blur(raw)
    bench = {}
    for key, folder in folders.items() if args.bench_runs > 0 else ():
        record = json.loads((folder / "config.json").read_text())
        bench[key] = run_benchmark([record["model"]], sizes=[BENCH_SIZE], device="cpu", runs=args.bench_runs,
                                   warmup=1, model_options={record["model"]: record["config"]})
    grid = write_grid(out, [*models, WIENER], names)
    result = {
        "command": command, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "setup": {"set": args.photo_set, "images": len(names), "crop": CROP, "seed": args.seed,
                  "short_side": SHORT_SIDE if args.photo_set == "plasma" else None, "strengths": strengths,
                  "max_lengths": lengths, "wiener_nsr": WIENER_NSR, "bench_size": list(BENCH_SIZE),
                  "bench_runs": args.bench_runs},
        "machine": {"cpu": cpu_name(), "load": load, "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count()},
        "models": {key: str(folder) for key, folder in folders.items()},
        "scores": results, "bench": bench,
    }
    from pixelwise.fileio import atomic_write_json, atomic_write_text

    atomic_write_json(out / "results.json", result)
    markdown = render(result)
    atomic_write_text(out / "results.md", markdown + "\n")
    print(markdown)
    print(f"wrote {out / 'results.json'}, {out / 'results.md'} and {grid}")
    if args.write_cards:
        from pixelwise.models.io import write_model_card

        for key, folder in folders.items():
            write_model_card(folder, update=True, sections={"Real-photo benchmark": render(result, key)},
                             metric_names=["psnr", "ssim"])
    return result


def render(result: dict[str, Any], only: str | None = None) -> str:
    """The markdown of a results.json: how it was measured, PSNR and SSIM tables per path length, CPU times."""
    setup, machine = result["setup"], result["machine"]
    labels = {INPUT: "Blurred input (no model)", WIENER: f"Wiener, true kernel (NSR {setup['wiener_nsr']:g})"}
    where = ("the 8 held-out photographic plasma wallpapers at a 720-px short side, two 256x256 crops each"
             if setup["set"] == "plasma" else "scikit-image's held-out photos, one centred 256x256 crop each")
    lines = ["Measured by", "", "```bash", result["command"], "```", "",
             f"{setup['images']} crops ({where}); blur `pixelwise blur --strength s --max-length L --seed "
             f"{setup['seed']}`; restored by `pixelwise deblur`; {result['date']}, {machine['cpu']}, "
             f"{machine['torch_threads']} torch threads, torch {machine['torch']}"
             + (f", load average {machine['load']['load1']} at the start" if machine.get("load") else "") + ".", ""]
    for length, scores in result["scores"].items():
        keep = {k: v for k, v in scores.items() if only is None or k in (INPUT, only, WIENER)}
        for metric in ("psnr", "ssim"):
            lines += [f"{metric.upper()}, camera paths up to {length} px:", "", table(keep, metric, labels), ""]
    from pixelwise.models.card import markdown_table

    rows = []
    for key, records in result["bench"].items():
        if only is None or key == only:
            for r in records:
                rows.append([key, f"{r['height']}x{r['width']}", r.get("median_ms") or r.get("error")])
    lines += [f"CPU time per image (batch 1, float32, median of {setup['bench_runs']}):", "",
              markdown_table(["model", "size", "ms"], rows, digits=0, align="llr")]
    return "\n".join(lines)


def summary(result: dict[str, Any]) -> str:
    """One row per model of a results.json: the PSNR gain over the blurred input (mean over s > 0 and the worst
    strength) per path length, the PSNR against a sharp input (s = 0: does it harm?) and the CPU time."""
    from pixelwise.models.card import markdown_table

    lengths = list(result["scores"])
    first = result["scores"][lengths[0]]
    size = "x".join(str(v) for v in result["setup"]["bench_size"])
    header = ["model"]
    for length in lengths:
        header += [f"{length} px: mean gain dB", f"{length} px: worst strength"]
    header += ["sharp input: PSNR dB", f"ms at {size}"]
    rows = [["Blurred input (no model: the baseline)", *["+0.00"] * (2 * len(lengths)), "∞", "-"]]
    from pixelwise.hub import packaged_names

    shipped = set(packaged_names())  # the others are runs or models that did not ship
    for key in [k for k in first if k != INPUT]:
        label = f"`pixelwise/{key}`" if key in shipped else f"`{key}` (not shipped)"
        row = ["Wiener filter told the true kernel (a reference, not blind)" if key == WIENER else label]
        for length in lengths:
            by_strength = result["scores"][length][key]
            gains = [v["psnr_gain"] for s, v in by_strength.items() if s not in ("0", "all")]
            row += [f"{by_strength['all']['psnr_gain']:+.2f}", f"{min(gains):+.2f}"]
        sharp = first[key].get("0", {}).get("psnr")
        bench = [r.get("median_ms") for r in result.get("bench", {}).get(key, [])]
        row += [f"{sharp:.1f}" if sharp is not None else "-", f"{bench[0]:.0f}" if bench and bench[0] else "-"]
        rows.append(row)
    return markdown_table(header, rows)


def write_grid(out: Path, keys: Sequence[str], names: Sequence[str], count: int = 4) -> Path:
    folder = out / "L60" / "s0.5"
    if not folder.is_dir():
        folder = sorted(out.glob("L*/s0.5"))[0]
    return comparison_grid(folder, out, keys, names,
                           f"held-out crops, {folder.parent.name[1:]}-px paths, strength 0.5", count)


if __name__ == "__main__":
    main()
