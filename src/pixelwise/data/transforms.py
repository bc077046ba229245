"""The one place for image conventions: reading files, resizing, cropping, flipping and value ranges.

- Photos are float tensors (3, H, W) in [-1, 1] (``x / 127.5 - 1`` of the 8-bit values; the range is decided by
  :mod:`pixelwise.photo_io`, whose :func:`photo_to_tensor` / :func:`quantize_photo` are re-exported here),
  resized BICUBIC. Files are read by :mod:`pixelwise.photo_io` (EXIF orientation applied, 16-bit accepted).
- Label and instance maps are integer tensors (1, H, W), resized NEAREST (never interpolated).
- Grayscale photos are replicated to 3 channels; for datasets an alpha channel is accepted only when fully opaque.
- Every read checks the file and raises a :class:`PixelwiseError` naming it and the fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixelwise import photo_io
from pixelwise.errors import PixelwiseError
from pixelwise.photo_io import photo_to_tensor as photo_to_tensor  # the photo value range is decided in photo_io
from pixelwise.photo_io import quantize_photo as quantize_photo

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise PixelwiseError(f"image {path} does not exist (was it moved or deleted while listing?)")
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PixelwiseError(
            f"cannot read image {path} ({exc}); it is truncated or not an image: re-download or replace it"
        ) from exc


def read_photo(path: str | Path) -> np.ndarray:
    """A photo -> uint8 (H, W, 3) as displayed (:func:`pixelwise.photo_io.read_photo`: EXIF orientation applied,
    16-bit samples rounded to 8 bits, grayscale replicated to RGB, palette -> RGB). An alpha channel is accepted
    when fully opaque; a transparent one is refused (what lies under it is not a photo to learn from)."""
    photo = photo_io.read_photo(path)
    if photo.alpha is not None and (photo.alpha != np.iinfo(photo.alpha.dtype).max).any():
        channels = (1 if photo.grayscale else 3) + 1
        raise PixelwiseError(
            f"photo {path} has a transparent alpha channel ({channels} channels); expected an RGB or grayscale "
            f"photo: flatten it onto a background and save it as RGB (pixelwise deblur / infer keep alpha; "
            f"training and evaluation data cannot)"
        )
    return photo.rgb8()


def read_label(path: str | Path, what: str = "label map") -> np.ndarray:
    """A single-channel integer map (8- or 16-bit; palette images give their indices) -> int64 (H, W)."""
    path = Path(path)
    image = _open(path)
    if image.format == "JPEG":
        raise PixelwiseError(
            f"{what} {path} is a JPEG; lossy compression changes ids at every edge: export the map as PNG"
        )
    if image.mode in ("L", "P", "I", "I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(image).astype(np.int64)
    if image.mode == "1":
        return np.asarray(image.convert("L")).astype(np.int64)
    if image.mode in ("RGB", "RGBA", "LA"):
        array = np.asarray(image)
        opaque = image.mode == "RGB" or bool((array[..., -1] == 255).all())
        gray = image.mode == "LA" or bool(
            (array[..., 0] == array[..., 1]).all() and (array[..., 0] == array[..., 2]).all()
        )
        if opaque and gray:  # a gray id map saved as RGB(A): every channel holds the same ids
            return array[..., 0].astype(np.int64)
    bands = len(image.getbands())
    raise PixelwiseError(
        f"{what} {path} has {bands} channel(s) (mode {image.mode}); expected a single-channel integer id map "
        f"(8- or 16-bit PNG, e.g. *_gtFine_labelIds.png / *_gtFine_instanceIds.png, not a *_color.png "
        f"visualisation): convert it to one id per pixel"
    )


def resize_photo(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (h, w, 3), BICUBIC (as the official codes, through PIL)."""
    h, w = size
    if array.shape[:2] == (h, w):
        return array
    return np.asarray(Image.fromarray(array).resize((w, h), Image.BICUBIC))


def resize_label(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Integer (H, W) -> int64 (h, w), NEAREST: ids are never blended."""
    h, w = size
    if array.shape[:2] == (h, w):
        return array
    if array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max:
        raise PixelwiseError("label/instance ids do not fit in 32 bits")
    image = Image.fromarray(array.astype(np.int32), mode=None)
    return np.asarray(image.resize((w, h), Image.NEAREST)).astype(np.int64)


def tensor_to_photo(tensor: torch.Tensor) -> np.ndarray:
    """float (3, H, W) or (B, 3, H, W) in [-1, 1] -> uint8 (H, W, 3) or (B, H, W, 3), rounded and clipped."""
    return quantize_photo(tensor.cpu()).movedim(-3, -1).numpy()


def label_to_tensor(array: np.ndarray) -> torch.Tensor:
    """Integer (H, W) -> int64 (1, H, W)."""
    return torch.from_numpy(np.array(array, dtype=np.int64)).unsqueeze(0)


def instance_to_tensor(array: np.ndarray) -> torch.Tensor:
    """Integer (H, W) -> int32 (1, H, W) (Cityscapes instance ids reach 33999)."""
    return torch.from_numpy(np.array(array, dtype=np.int32)).unsqueeze(0)


def load_size(height: int, width: int, load_height: int | None, load_width: int | None) -> tuple[int, int]:
    """Size after the load resize: both given -> exact; one given -> the other keeps the aspect ratio."""
    if load_height and load_width:
        return load_height, load_width
    if load_width:
        return max(1, round(load_width * height / width)), load_width
    if load_height:
        return load_height, max(1, round(load_height * width / height))
    return height, width


def crop_box(height: int, width: int, crop_height: int | None, crop_width: int | None, random: bool,
             where: str = "image") -> tuple[int, int, int, int]:
    """(top, left, h, w) of the crop: random (torch's global generator) when ``random``, else centred."""
    ch = crop_height or height
    cw = crop_width or width
    if ch > height or cw > width:
        raise PixelwiseError(
            f"{where} is {height}x{width} after resizing, smaller than the crop {ch}x{cw}; lower "
            f"data.crop_height/data.crop_width or raise data.load_height/data.load_width"
        )
    if random:
        top = int(torch.randint(0, height - ch + 1, ()).item())
        left = int(torch.randint(0, width - cw + 1, ()).item())
    else:
        top, left = (height - ch) // 2, (width - cw) // 2
    return top, left, ch, cw


def random_flip() -> bool:
    """A fair coin from torch's global generator (seeded per DataLoader worker)."""
    return bool(torch.rand(()) < 0.5)


def crop_flip(tensor: torch.Tensor, box: tuple[int, int, int, int], flip: bool) -> torch.Tensor:
    """Crop (..., H, W) to ``box`` then mirror left-right when ``flip``."""
    top, left, h, w = box
    out = tensor[..., top:top + h, left:left + w]
    return out.flip(-1).contiguous() if flip else out.contiguous()
