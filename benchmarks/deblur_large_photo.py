"""A phone-size photo with phone-size shake: does ``pixelwise deblur --scale`` restore more than full size?

One held-out photographic wallpaper of Debian's ``plasma-workspace-wallpapers`` (``--photo``, default ColdRipple, a
photo no pixelwise training uses), its largest file centre-cropped and resized to ``--size`` (default 2880x1920,
5.5 MP), blurred with a camera path of ``--max-length`` px (default 240: four times the 60-px regime of the v2
deblurrers) at strength 1 (``pixelwise blur``'s kernel, ``--seed``), then restored with ``pixelwise deblur``
(:func:`pixelwise.deblur.deblur_files`) at each ``--scales`` (1 = full size; 0.25 makes the 240-px path 60 px for
the model). Prints and writes ``OUT/results.json``: PSNR / SSIM against the sharp photo, seconds, peak RSS.

    PYTHONPATH=src python benchmarks/deblur_large_photo.py --out runs/deblur-large [--model pixelwise/NAME]
        [--scales 1,0.5,0.25] [--size 2880x1920] [--max-length 240]
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from deblur_quality import WALLPAPERS
from PIL import Image


def sharp_photo(name: str, width: int, height: int) -> np.ndarray:
    files = sorted((WALLPAPERS / name / "contents" / "images").glob("*"), key=lambda p: p.stat().st_size)
    if not files:
        sys.exit(f"{WALLPAPERS / name} is missing: apt-get install plasma-workspace-wallpapers")
    image = Image.open(files[-1]).convert("RGB")
    scale = max(width / image.width, height / image.height)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return np.asarray(image.crop((left, top, left + width, top + height)))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    import torch

    from pixelwise.data.blur_folder import blur_photo
    from pixelwise.deblur import DEFAULT_DEBLUR_MODEL, deblur_files, load_deblur_model
    from pixelwise.fileio import atomic_write_json
    from pixelwise.metrics.image import psnr, ssim
    from pixelwise.runtime import cpu_name, machine_load

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/deblur-large"))
    parser.add_argument("--model", default=DEFAULT_DEBLUR_MODEL)
    parser.add_argument("--photo", default="ColdRipple")
    parser.add_argument("--size", default="2880x1920", help="WIDTHxHEIGHT")
    parser.add_argument("--max-length", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scales", default="1,0.5,0.25")
    parser.add_argument("--tile", type=int, default=None)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    load = machine_load()
    sharp = sharp_photo(args.photo, width, height)
    blurred, params = blur_photo(sharp, args.seed, (1.0, 1.0), args.max_length, 0.0)
    Image.fromarray(sharp).save(out / "sharp.png")
    Image.fromarray(blurred).save(out / "blurred.png")
    model = load_deblur_model(args.model)
    score = lambda a: (float(psnr(a.transpose(2, 0, 1)[None], sharp.transpose(2, 0, 1)[None])[0]),  # noqa: E731
                       float(ssim(a.transpose(2, 0, 1)[None], sharp.transpose(2, 0, 1)[None])[0]))
    rows: dict[str, Any] = {"input": dict(zip(("psnr", "ssim"), score(blurred)))}
    for scale in [float(v) for v in args.scales.split(",") if v.strip()]:
        folder = out / f"scale{scale:g}"
        t0 = time.perf_counter()
        written = deblur_files([str(out / "blurred.png")], folder, model=model, scale=scale, tile=args.tile,
                               progress=False)
        seconds = time.perf_counter() - t0
        restored = np.asarray(Image.open(written[0]).convert("RGB"))
        p, s = score(restored)
        rows[f"scale {scale:g}"] = {"psnr": p, "ssim": s, "seconds": seconds,
                                    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        print(f"scale {scale:g}: PSNR {p:.2f} dB (input {rows['input']['psnr']:.2f}), SSIM {s:.3f}, {seconds:.1f} s",
              flush=True)
    result = {
        "command": shlex.join(["python", "benchmarks/deblur_large_photo.py",
                               *(sys.argv[1:] if argv is None else argv)]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "setup": {"photo": args.photo, "size": [width, height], "max_length": args.max_length, "seed": args.seed,
                  "kernel": {k: params[k] for k in ("path_length_px", "spread_px", "kernel_size")},
                  "model": str(args.model)},
        "machine": {"cpu": cpu_name(), "load": load, "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads()},
        "rows": rows,
    }
    atomic_write_json(out / "results.json", result)
    print(json.dumps(rows, indent=1))
    return result


if __name__ == "__main__":
    main()
