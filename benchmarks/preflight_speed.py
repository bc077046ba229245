"""Files/s of the pre-flight data check (data.validate=headers|full) on a Cityscapes-shaped folder made from
the Debian wallpapers: 2048x1024 photos (PNG), 8-bit *_labelIds.png and 16-bit *_instanceIds.png.

    python benchmarks/preflight_speed.py [N_SAMPLES] [WORK_DIR]
"""

from __future__ import annotations

import glob
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pixelwise.data import build_dataset
from pixelwise.data.config import DataConfig
from pixelwise.data.preflight import find_problems


def make(root: Path, count: int) -> None:
    photos = sorted(glob.glob("/usr/share/wallpapers/*/contents/images/*"))
    rng = np.random.default_rng(0)
    for i in range(count):
        city = root / "leftImg8bit" / "train" / "town"
        gt = root / "gtFine" / "train" / "town"
        city.mkdir(parents=True, exist_ok=True)
        gt.mkdir(parents=True, exist_ok=True)
        stem = f"town_{i:06d}_000019"
        with Image.open(photos[i % len(photos)]) as image:
            image.convert("RGB").resize((2048, 1024)).save(city / f"{stem}_leftImg8bit.png")
        coarse = rng.integers(0, 34, (16, 32), dtype=np.uint8)
        label = np.kron(coarse, np.ones((64, 64), dtype=np.uint8))
        Image.fromarray(label).save(gt / f"{stem}_gtFine_labelIds.png")
        Image.fromarray((label.astype(np.int32) * 1000).astype(np.uint16)).save(gt / f"{stem}_gtFine_instanceIds.png")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    root = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp()) / "cityscapes"
    if not (root / "leftImg8bit").is_dir():
        make(root, count)
    config = DataConfig(format="cityscapes", root=str(root), label_nc=35)
    dataset = build_dataset(config, "train", train=True)
    for mode in ("headers", "full"):
        find_problems(dataset, mode)  # warm the page cache
        start = time.perf_counter()
        problems, files = find_problems(dataset, mode)
        elapsed = time.perf_counter() - start
        print(f"{mode}: {files} files ({len(dataset)} samples) in {elapsed:.2f}s = {files / elapsed:.1f} files/s, "
              f"{len(problems)} problems; Cityscapes train (2975 samples, 8925 files) would take "
              f"{8925 / (files / elapsed):.0f}s")


if __name__ == "__main__":
    main()
