"""Write the sharp training photos of the shipped deblurrers (pixelwise/deblurgan-small, deblurgan-asap-small).

Real photos only, none of them committed, all from package registries:

- scikit-image's bundled photos of the ``bundled-blur`` training split (astronaut, rocket, the motorcycle stereo
  pair, camera, moon, brick, grass), resized to ``--bundled-width`` (default 256 px, half size);
- the twelve nature photos of Debian's ``mate-backgrounds`` (``/usr/share/backgrounds/mate/nature``);
- the photographic wallpapers of Debian's ``plasma-workspace-wallpapers`` that the held-out sets do NOT use
  (DarkestHour, Kite, Volna, summer_1am; the held-out ones are benchmarks/deblur_quality.py's PHOTOS),
  each resized to ``--width`` (default 320 px: the scale of the held-out wallpaper crops).

    apt-get update && apt-get install -y plasma-workspace-wallpapers mate-backgrounds
    python scripts/deblur_training_photos.py --out ~/.cache/pixelwise/deblur-photos

writes ``OUT/train/*.png``; train with ``data.format=blur data.root=OUT`` (the ``*-small`` presets).

The camera-scale photos of the v2 deblurrers (the ``*-medium`` presets: 60-px camera paths at the scale of
DeblurGAN's GoPro frames) are the same photos with the wallpapers at a 720-px short side and scikit-image's
photos at their own size (never upscaled):

    python scripts/deblur_training_photos.py --out ~/.cache/pixelwise/deblur-photos-720 --short-side 720
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from pixelwise.data.bundled import COLOR_PHOTOS, GRAY_PHOTOS, bundled_photo

MATE_NATURE = Path("/usr/share/backgrounds/mate/nature")
PLASMA = Path("/usr/share/wallpapers")
PLASMA_TRAIN = ("DarkestHour", "Kite", "Volna", "summer_1am")  # photographic, not in the held-out PHOTOS
INSTALL = "apt-get update && apt-get install -y plasma-workspace-wallpapers mate-backgrounds"


def _resize(image: Image.Image, width: int) -> Image.Image:
    height = round(image.height * width / image.width)
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _resize_short(image: Image.Image, short_side: int) -> Image.Image:
    scale = short_side / min(image.width, image.height)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def sources(width: int, bundled_width: int, short_side: int | None = None) -> list[tuple[str, Image.Image]]:
    """(name, photo) pairs; with ``short_side`` the wallpapers get that short side and scikit-image's photos
    keep their own size (``width`` and ``bundled_width`` are then unused)."""
    bundled = {**COLOR_PHOTOS, **GRAY_PHOTOS}  # name -> split, as bundled-blur uses them

    def wallpaper(image: Image.Image) -> Image.Image:
        return _resize_short(image, short_side) if short_side else _resize(image, width)

    photos = [(f"bundled-{name}", Image.fromarray(bundled_photo(name)) if short_side
               else _resize(Image.fromarray(bundled_photo(name)), bundled_width))
              for name, split in bundled.items() if split == "train"]
    if not MATE_NATURE.is_dir():
        sys.exit(f"{MATE_NATURE} is missing: {INSTALL}")
    for path in sorted(MATE_NATURE.glob("*.jpg")):
        photos.append((f"mate-{path.stem}", wallpaper(Image.open(path).convert("RGB"))))
    for name in PLASMA_TRAIN:
        files = sorted((PLASMA / name / "contents" / "images").glob("*"), key=lambda p: p.stat().st_size)
        if not files:
            sys.exit(f"{PLASMA / name} is missing: {INSTALL}")
        image = Image.open(files[0]).convert("RGB")
        photos.append((f"plasma-{name}", wallpaper(image)))
    return photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--width", type=int, default=320, help="width of the wallpaper photos (px)")
    parser.add_argument("--bundled-width", type=int, default=256, help="width of scikit-image's photos (px)")
    parser.add_argument("--short-side", type=int, default=None,
                        help="camera scale: wallpapers at this short side (px), scikit-image's photos at their own "
                             "size (the v2 deblurrers: 720)")
    args = parser.parse_args()
    folder = args.out / "train"
    folder.mkdir(parents=True, exist_ok=True)
    photos = sources(args.width, args.bundled_width, args.short_side)
    for name, image in photos:
        image.save(folder / f"{name}.png")
    print(f"wrote {len(photos)} sharp photos to {folder}")


if __name__ == "__main__":
    main()
