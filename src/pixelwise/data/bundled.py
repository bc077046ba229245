"""Bundled demo data made from the real photos shipped inside scikit-image's wheel (no download at run time).

- ``bundled-blur``: sharp tiles of real photos (astronaut, rocket, a motorcycle stereo pair, coffee, the
  cat Chelsea, and grayscale camera/moon/coins/texture photos replicated to RGB), blurred on the fly by
  :mod:`pixelwise.data.blur`. ``skimage.data.clock`` is a *real* motion-blurred photo; it has no sharp
  partner, so it is kept out of the datasets and offered by :func:`real_blurred_photo` for qualitative use.
- ``bundled-labels``: **a stand-in for Cityscapes, not Cityscapes.** Label maps are derived from the colour
  photos by k-means clustering of smoothed CIELAB colours into ``label_nc`` classes (one shared palette,
  ids sorted by lightness, small specks removed by a majority filter); the upper half of the ids are
  "thing" classes whose connected components become instances (``id * 1000 + k``, as in Cityscapes). The
  task (label map -> photo) and file formats match Cityscapes; the semantics do not: numbers measured on it
  say nothing about Cityscapes results.

Tiles are written once, deterministically, to ``$PIXELWISE_CACHE`` (default ``~/.cache/pixelwise``) in the
flat layouts (``train_label/ train_img/ train_inst/``, ``test_*``; and ``train/ test/`` for blur). Test tiles
come from photos that no training tile uses.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from pixelwise.errors import PixelwiseError
from pixelwise.extras import require
from pixelwise.fileio import make_temp_dir

VERSION = "v1"
MAX_BUNDLED_CLASSES = 64  # instance ids id * 1000 + k must fit a 16-bit PNG


def cache_dir() -> Path:
    """``$PIXELWISE_CACHE``, else ``$XDG_CACHE_HOME/pixelwise``, else ``~/.cache/pixelwise``."""
    if os.environ.get("PIXELWISE_CACHE"):
        return Path(os.environ["PIXELWISE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "pixelwise"


def _rgb(array: np.ndarray) -> np.ndarray:
    return np.repeat(array[..., None], 3, axis=2) if array.ndim == 2 else np.ascontiguousarray(array[..., :3])


def _photo(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        require("skimage", "train", "the bundled photos (scikit-image's data)")
        import skimage.data

        if name.startswith("motorcycle_"):
            left, right, _ = skimage.data.stereo_motorcycle()
            return _rgb(left if name.endswith("left") else right)
        return _rgb(getattr(skimage.data, name)())

    return load


# name -> split. Colour photos feed both sets; grayscale ones only the deblurring set.
COLOR_PHOTOS = {"astronaut": "train", "rocket": "train", "motorcycle_left": "train", "motorcycle_right": "train",
                "coffee": "test", "chelsea": "test"}
GRAY_PHOTOS = {"camera": "train", "moon": "train", "brick": "train", "grass": "train", "coins": "test",
               "gravel": "test"}
BLUR_TILE = (256, 256)  # (height, width) of a deblurring tile, taken every half tile
LABEL_TILE = (128, 256)  # Cityscapes' 1:2 aspect


def bundled_photo(name: str) -> np.ndarray:
    """One of the bundled photos (a key of :data:`COLOR_PHOTOS` or :data:`GRAY_PHOTOS`) as uint8 (H, W, 3)."""
    return _photo(name)()


def real_blurred_photo() -> np.ndarray:
    """scikit-image's ``clock``: a real motion-blurred photo (uint8 (H, W, 3)), without a sharp partner."""
    require("skimage", "train", "the bundled photos (scikit-image's data)")
    import skimage.data

    return _rgb(skimage.data.clock())


def _tiles(height: int, width: int, tile: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left corners every half tile, the last row/column flush with the border."""
    def starts(size: int, length: int) -> list[int]:
        if size < length:
            return []
        step = length // 2
        out = list(range(0, size - length + 1, step))
        if out[-1] != size - length:
            out.append(size - length)
        return out

    return [(y, x) for y in starts(height, tile[0]) for x in starts(width, tile[1])]


def _materialise(final: Path, build: Callable[[Path], None]) -> Path:
    """Build into a temporary sibling folder, then rename it to ``final`` (atomic; a racing builder's result
    is kept and ours discarded)."""
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(final.parent, f".{final.name}.")
    try:
        build(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", compress_level=1)  # a cache: fast over small


def bundled_blur_root() -> Path:
    """The folder of sharp deblurring tiles (``train/``, ``test/``), created on first use."""

    def build(out: Path) -> None:
        for name, split in {**COLOR_PHOTOS, **GRAY_PHOTOS}.items():
            photo = _photo(name)()
            for y, x in _tiles(*photo.shape[:2], BLUR_TILE):
                tile = photo[y:y + BLUR_TILE[0], x:x + BLUR_TILE[1]]
                _save(np.ascontiguousarray(tile), out / split / f"{name}_y{y:03d}_x{x:03d}.png")

    return _materialise(cache_dir() / "bundled" / f"blur-{VERSION}", build)


def _lab_features(photo: np.ndarray) -> np.ndarray:
    require("scipy", "train", "the bundled label maps")
    from scipy.ndimage import gaussian_filter
    from skimage.color import rgb2lab

    smooth = gaussian_filter(photo.astype(np.float64) / 255.0, sigma=(2.0, 2.0, 0.0))
    return rgb2lab(smooth).reshape(-1, 3)


def _palette(photos: dict[str, np.ndarray], classes: int) -> np.ndarray:
    """k-means centres (classes, 3) in CIELAB from the training photos, sorted by lightness."""
    require("scipy", "train", "the bundled label maps")
    from scipy.cluster.vq import kmeans2

    rng = np.random.default_rng(0)
    samples = []
    for name in sorted(photos):
        if COLOR_PHOTOS[name] == "train":
            feats = _lab_features(photos[name])
            samples.append(feats[rng.choice(len(feats), size=min(len(feats), 20000), replace=False)])
    data = np.concatenate(samples)
    centres, _ = kmeans2(data, classes, seed=0, minit="++", iter=30)
    return centres[np.argsort(centres[:, 0], kind="stable")]


def _label_map(photo: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Nearest-centre ids, then a 5x5 majority filter so labels form regions, not specks."""
    require("scipy", "train", "the bundled label maps")
    from scipy.ndimage import uniform_filter

    feats = _lab_features(photo)
    distances = ((feats[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    ids = distances.argmin(1).reshape(photo.shape[:2])
    votes = np.stack([uniform_filter((ids == c).astype(np.float32), size=5) for c in range(len(centres))])
    return votes.argmax(0)


def _instances(label: np.ndarray, classes: int) -> np.ndarray:
    """Cityscapes-style instance ids: ``id * 1000 + k`` per connected component of "thing" ids (the upper
    half), the plain id elsewhere."""
    require("scipy", "train", "the bundled label maps")
    from scipy.ndimage import label as components

    out = label.astype(np.int64).copy()
    for cls in range(classes // 2, classes):
        parts, count = components(label == cls)
        if count:
            out[parts > 0] = cls * 1000 + (parts[parts > 0] - 1) % 1000
    return out


def bundled_labels_root(label_nc: int) -> Path:
    """The flat-layout folder of the Cityscapes stand-in with ids ``0..label_nc-1``, created on first use."""
    if not 2 <= label_nc <= MAX_BUNDLED_CLASSES:
        raise PixelwiseError(
            f"data.label_nc={label_nc}: bundled-labels derives label_nc classes by colour clustering and "
            f"supports 2..{MAX_BUNDLED_CLASSES}; set data.label_nc to e.g. 8"
        )

    def build(out: Path) -> None:
        photos = {name: _photo(name)() for name in COLOR_PHOTOS}
        centres = _palette(photos, label_nc)
        for name, photo in photos.items():
            split = COLOR_PHOTOS[name]
            label = _label_map(photo, centres)
            instance = _instances(label, label_nc)
            for y, x in _tiles(*photo.shape[:2], LABEL_TILE):
                window = (slice(y, y + LABEL_TILE[0]), slice(x, x + LABEL_TILE[1]))
                stem = f"{name}_y{y:03d}_x{x:03d}"
                _save(np.ascontiguousarray(photo[window]), out / f"{split}_img" / f"{stem}.png")
                _save(label[window].astype(np.uint8), out / f"{split}_label" / f"{stem}.png")
                _save(instance[window].astype(np.uint16), out / f"{split}_inst" / f"{stem}.png")

    return _materialise(cache_dir() / "bundled" / f"labels-k{label_nc}-{VERSION}", build)
