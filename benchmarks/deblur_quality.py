"""Do the tiny deblurring presets beat doing nothing on real photos they never saw?

Trains ``deblurgan-bundled-tiny`` and ``deblurgan-asap-bundled-tiny`` as shipped for ``--steps`` steps each
(default 400, ``train.max_steps=400``) on the bundled photos, then on held-out real photos that share nothing with the
bundled data (crops of the photographic wallpapers of Debian's ``plasma-workspace-wallpapers``; never
committed, install them with ``apt-get install plasma-workspace-wallpapers``):

1. the sharp crops (each wallpaper's smallest file, resized to 320 px wide, two 128x128 crops) are written
   to ``OUT/sharp``;
2. ``pixelwise blur OUT/sharp OUT/blurred --strength 0.3`` blurs them (the CLI's default 60-px path);
3. ``pixelwise infer RUN OUT/blurred/A -o OUT/<model>`` restores them with each trained model;
4. the mean PSNR (dB, 8-bit) against the sharp crops is printed for the blurred input and each model.

Targets (issue 10): both models >= blurred + 1.5 dB; DeblurGAN-ASAP within 1.0 dB of DeblurGAN.

    PYTHONPATH=src python benchmarks/deblur_quality.py [--out runs/deblur-quality] [--steps 400] [--threads N]
        [--strength 0.3] [--max-length 60]

``--threads 1`` (OMP_NUM_THREADS for the pixelwise commands) is much faster on a machine shared with other
jobs; the default leaves PyTorch's choice.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

WALLPAPERS = Path("/usr/share/wallpapers")
# the photographic wallpapers (the others are drawings, renders or smooth gradients)
PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "EveningGlow", "FallenLeaf", "Grey", "OneStandsOut", "Path")
MODELS = {"deblurgan": "deblurgan-bundled-tiny", "deblurgan-asap": "deblurgan-asap-bundled-tiny"}
CROP, WIDTH = 128, 320


def write_sharp_crops(out: Path, crop: int = CROP, width: int = WIDTH) -> list[Path]:
    """Each photographic wallpaper's smallest file resized to ``width`` px wide, two ``crop`` x ``crop`` crops
    (centred on its left and right quarter, vertically centred) as ``out/<name>-<i>.png``."""
    if not 0 < crop <= width // 2:
        sys.exit(f"--crop {crop} must be between 1 and half the --width ({width // 2})")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PHOTOS:
        files = sorted((WALLPAPERS / name / "contents" / "images").glob("*"), key=lambda p: p.stat().st_size)
        if not files:
            sys.exit(f"{WALLPAPERS / name} is missing: apt-get install plasma-workspace-wallpapers")
        image = Image.open(files[0]).convert("RGB")
        height = round(image.height * width / image.width)
        image = image.resize((width, height), Image.Resampling.LANCZOS)
        top = (height - crop) // 2
        for i, left in enumerate((width // 4 - crop // 2, 3 * width // 4 - crop // 2)):
            path = out / f"{name}-{i}.png"
            image.crop((left, top, left + crop, top + crop)).save(path)
            written.append(path)
    return written


THREADS: dict[str, str] = {}


def pixelwise(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pixelwise", *args], check=True, env={**os.environ, **THREADS})


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse)) if mse > 0 else float("inf")


def mean_psnr(folder: Path, sharp: list[Path]) -> float:
    return float(np.mean([psnr(np.asarray(Image.open(folder / p.name).convert("RGB")), np.asarray(Image.open(p)))
                          for p in sharp]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/deblur-quality"))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--strength", default="0.3")
    parser.add_argument("--max-length", default="60", help="camera path length (px) of `pixelwise blur` "
                        "(default 60, the CLI's default; the issue's benchmark)")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the pixelwise commands")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a dotted override for both training runs (repeatable; default: the presets as "
                             "shipped), e.g. --set data.crop_height=96")
    args = parser.parse_args()
    if args.threads:
        THREADS.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    out: Path = args.out
    if not WALLPAPERS.is_dir():
        sys.exit(f"{WALLPAPERS} not found: apt-get install plasma-workspace-wallpapers")
    load = os.getloadavg()
    sharp = write_sharp_crops(out / "sharp")
    pixelwise("blur", str(out / "sharp"), str(out / "blurred"), "--strength", args.strength,
              "--max-length", args.max_length, "--no-progress")
    results = {"blurred (no model)": mean_psnr(out / "blurred" / "A", sharp)}
    for key, preset in MODELS.items():
        run = out / "runs" / key
        started = time.perf_counter()
        if not (run / "checkpoints").is_dir():
            pixelwise("train", preset, "--run-dir", str(run), f"train.max_steps={args.steps}",
                      "train.progress=false", "train.tensorboard=false", "train.sample_every=0", *args.set)
        seconds = time.perf_counter() - started
        pixelwise("infer", str(run), str(out / "blurred" / "A"), "-o", str(out / key), "--quiet")
        results[f"{key} ({preset}, {args.steps} steps, trained in {seconds:.0f} s)"] = mean_psnr(out / key, sharp)
    print(f"{len(sharp)} held-out wallpaper crops {CROP}x{CROP}, pixelwise blur --strength {args.strength} "
          f"--max-length {args.max_length}; "
          f"load average at start {load[0]:.2f}; overrides: {' '.join(args.set) or 'none (the presets as shipped)'}")
    base = results["blurred (no model)"]
    for name, value in results.items():
        print(f"  {name:64s} {value:6.2f} dB  ({value - base:+.2f})")


if __name__ == "__main__":
    main()
