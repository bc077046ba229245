"""Photos in and out, as users have them: the one place every photo file is read and written.

- :func:`read_photo` -> :class:`Photo`: the pixels as displayed (EXIF orientation applied), the alpha channel
  (kept as stored, never blended), the bit depth (8 or 16: 16-bit PNG, TIFF and PPM are read whole), the ICC
  profile, the EXIF block (orientation reset to 1, every other byte kept), the format and whether it is
  grayscale. Palette images become RGB (RGBA with a transparent colour), CMYK / YCbCr / LAB become RGB.
- :func:`write_photo`: a model's output written the way the input was (alpha back in byte for byte, 16 bits
  where the format holds them, ICC and EXIF where it carries them, grayscale as grayscale), PNG / JPEG / WebP /
  the input's own format at a chosen quality; atomically (:mod:`pixelwise.fileio`).
- :func:`plan_outputs` (:mod:`pixelwise.output_plan`): output names, collisions, refusing to overwrite an
  input, skipping existing outputs, all before any work.

The value range is the project's photo range (decided here, re-exported by :mod:`pixelwise.data.transforms`):
float (3, H, W) in [-1, 1], ``v / 127.5 - 1`` for 8-bit samples, ``v / 32767.5 - 1`` for 16-bit ones.
Colours are never converted: the ICC profile travels with the pixels. Label maps have their own reader
(:func:`pixelwise.data.transforms.read_label`: ids, never colour-managed).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixelwise import photo16
from pixelwise.errors import PixelwiseError
from pixelwise.fileio import atomic_write, atomic_write_bytes
from pixelwise.output_plan import (
    DEFAULT_FORMAT,
    OUTPUT_FORMATS,
    OutputPlan,
    output_format,
    output_suffix,
    plan_outputs,
    refuse_overwriting_inputs,
)

DEFAULT_QUALITY = 95  # JPEG / WebP quality when --quality is not given
NO_ALPHA = ("JPEG", "PPM")  # formats that cannot hold transparency
DEPTH16 = ("PNG", "TIFF", "PPM")  # formats written at 16 bits when the input had 16
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_GRAY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N")
_AS_RGB = ("RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")
_FOREIGN_ICC = ("CMYK", "LAB")  # their profile describes another colour space than the RGB we give the model
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as PIL's convert("L")


@dataclasses.dataclass
class Photo:
    """A photo as displayed: ``pixels`` uint8 or uint16, (H, W) grayscale or (H, W, 3) RGB, upright."""

    pixels: np.ndarray
    alpha: np.ndarray | None  # (H, W), same dtype as the file's alpha; None without an alpha channel
    bit_depth: int  # 8 or 16
    icc: bytes | None
    exif: bytes | None  # orientation already reset to 1 (the pixels are upright)
    format: str  # Pillow's name: PNG, JPEG, WEBP, TIFF, ...
    grayscale: bool
    orientation: int = 1  # the EXIF orientation the file had (applied to the pixels)
    path: Path | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) as displayed."""
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])

    @property
    def rgb(self) -> torch.Tensor:
        """float32 (3, H, W) in [-1, 1]; grayscale replicated to 3 channels (what a model sees)."""
        return photo_to_tensor(self.rgb_pixels())

    def rgb_pixels(self) -> np.ndarray:
        """(H, W, 3) samples at the file's depth, grayscale replicated."""
        if self.pixels.ndim == 2:
            return np.repeat(self.pixels[..., None], 3, axis=2)
        return self.pixels

    def rgb8(self) -> np.ndarray:
        """uint8 (H, W, 3), 16-bit samples rounded to 8 bits (what the training datasets read)."""
        rgb = self.rgb_pixels()
        return rgb if rgb.dtype == np.uint8 else ((rgb.astype(np.uint32) + 128) // 257).astype(np.uint8)


# --- the value convention ------------------------------------------------------------------------------------
def photo_to_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8 or uint16 (H, W, 3) -> float32 (3, H, W) in [-1, 1]."""
    if array.dtype == np.uint16:
        return torch.from_numpy(array.astype(np.float32)).permute(2, 0, 1).div(32767.5).sub(1.0)
    return torch.from_numpy(np.array(array, dtype=np.uint8)).permute(2, 0, 1).float().div(127.5).sub(1.0)


def quantize_photo(tensor: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """[-1, 1] floats -> uint8 (``round((clamp(x, -1, 1) + 1) * 127.5)``), or with ``bits=16`` int32 values in
    0..65535 (``* 32767.5``): the values a saved file holds. The one place this rounding is decided (metrics,
    grids and files all use it)."""
    x = tensor.detach().float().clamp(-1.0, 1.0) + 1.0
    if bits == 16:
        return (x * 32767.5).round().to(torch.int32)
    return (x * 127.5).round().to(torch.uint8)


# --- reading -------------------------------------------------------------------------------------------------
def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to (H, W, ...) samples, as PIL.ImageOps.exif_transpose does."""
    turns = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
             5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
             8: lambda a: np.rot90(a, 1)}
    return np.ascontiguousarray(turns.get(orientation, turns[1])(array))


@functools.cache
def _pillow_orients_tiff() -> bool:
    """Whether this Pillow applies a TIFF's orientation tag itself when it loads (and sizes) the image
    (Pillow 12 does): tried once on a 2 x 1 TIFF tagged "mirrored"."""
    import io

    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 2
    Image.fromarray(np.array([[0, 255]], dtype=np.uint8)).save(buffer, format="TIFF", exif=exif)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return int(np.asarray(image)[0, 0]) == 255


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise PixelwiseError(f"image {path} does not exist (was it moved or deleted while listing?)")
    try:
        return Image.open(path)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PixelwiseError(f"cannot read image {path} ({exc}); it is truncated or not an image: re-download "
                             f"or replace it") from exc


def _unsupported(path: Path, image: Image.Image) -> PixelwiseError:
    return PixelwiseError(
        f"photo {path} has mode {image.mode} ({len(image.getbands())} channel(s)), which is not a photo pixelwise "
        f"reads (8- or 16-bit RGB, RGBA, grayscale, grayscale + alpha or palette). If it is a label map, use a "
        f"label-map model or format (data.task=labels); otherwise convert it to 8- or 16-bit RGB")


def _samples(path: Path, image: Image.Image, sixteen: bool) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """(colour samples (H, W) or (H, W, 3), alpha or None, grayscale) of an opened image, as stored."""
    mode = image.mode
    if sixteen:
        data = photo16.read_16bit(path)
    else:
        image.load()
        if mode == "P":
            image = image.convert("RGBA" if image.has_transparency_data else "RGB")
        elif mode in ("PA", "RGBa"):
            image = image.convert("RGBA")
        elif mode == "La":
            image = image.convert("LA")
        elif mode == "1":
            image = image.convert("L")
        elif mode in _AS_RGB:
            image = image.convert("RGB")
        elif mode not in ("L", "LA", "RGBA", "I", "I;16", "I;16B", "I;16L", "I;16N"):
            raise _unsupported(path, image)
        data = np.asarray(image)
        if image.mode == "I":  # 32-bit integers: a 16-bit gray image as some readers give it
            if data.size and (data.min() < 0 or data.max() > 65535):
                raise _unsupported(path, image)
            data = data.astype(np.uint16)
        elif data.dtype != np.uint8:
            data = data.astype(np.uint16)
    gray = data.ndim == 2 or data.shape[2] == 2
    if data.ndim == 3 and data.shape[2] in (2, 4):
        return data[..., :-1].squeeze(-1) if gray else data[..., :3], data[..., -1], gray
    return data, None, gray


def read_photo(path: str | Path) -> Photo:
    """Read a photo file as it is displayed (see the module docstring); one line naming the file and the fix
    for a file that cannot be read or is not a photo."""
    path = Path(path)
    image = _open(path)
    try:
        fmt, mode = image.format or "", image.mode
        fmt = "JPEG" if fmt == "MPO" else fmt  # phones' multi-picture JPEGs: the first picture, a JPEG
        if mode == "F":
            raise PixelwiseError(f"photo {path} holds 32-bit floating-point samples; save it as an 8- or 16-bit "
                                 f"photo (PNG or TIFF)")
        try:
            sixteen = photo16.is_16bit(image)  # before anything loads the image (loading empties its tiles)
            orientation = int(image.getexif().get(0x0112, 1) or 1)
            info = dict(image.info)
            colour, alpha, gray = _samples(path, image, sixteen)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise PixelwiseError(f"cannot read image {path} ({exc}); it is truncated or not an image: "
                                 f"re-download or replace it") from exc
    finally:
        image.close()
    orientation = orientation if 1 <= orientation <= 8 else 1
    applied = orientation if fmt == "TIFF" and _pillow_orients_tiff() else 1  # Pillow turned it while loading
    exif = info.get("exif") if fmt in ("JPEG", "PNG", "WEBP") else None
    if isinstance(exif, bytes) and exif and not exif.startswith(photo16.EXIF_PREFIX):
        exif = photo16.EXIF_PREFIX + exif
    if exif and orientation != 1:
        exif = photo16.reset_orientation(exif)
    icc = info.get("icc_profile") or None
    turn = 1 if applied != 1 else orientation
    return Photo(pixels=_orient(colour, turn), alpha=None if alpha is None else _orient(alpha, turn),
                 bit_depth=16 if colour.dtype == np.uint16 else 8, icc=None if mode in _FOREIGN_ICC else icc,
                 exif=exif or None, format=fmt, grayscale=gray, orientation=orientation, path=path)


@dataclasses.dataclass(frozen=True)
class PhotoHeader:
    """What a photo's header says (nothing decoded): format, mode, size as displayed, transparency."""

    format: str
    mode: str
    size: tuple[int, int]  # (height, width) after the EXIF orientation
    has_alpha: bool


def _header_orientation(image: Image.Image) -> int:
    exif = image.info.get("exif")  # JPEG / WebP, and PNG with eXIf before the pixels; TIFF: its own tags
    if not exif and image.format != "TIFF":
        return 1
    try:
        if exif:
            block = Image.Exif()
            block.load(exif)
        else:
            block = image.getexif()
        value = int(block.get(0x0112, 1) or 1)
    except (OSError, SyntaxError, ValueError, TypeError):
        return 1
    return value if 1 <= value <= 8 else 1


def photo_header(path: str | Path) -> PhotoHeader:
    """:class:`PhotoHeader` of ``path`` from the header only; one line when it cannot be opened."""
    with _open(Path(path)) as image:
        alpha = image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)
        height, width = image.height, image.width
        tiff_turned = image.format == "TIFF" and _pillow_orients_tiff()  # then its size is already as shown
        if not tiff_turned and _header_orientation(image) >= 5:
            height, width = width, height
        fmt = "JPEG" if image.format == "MPO" else image.format or ""
        return PhotoHeader(fmt, image.mode, (height, width), alpha)


# --- writing -------------------------------------------------------------------------------------------------
def _pil_image(samples: np.ndarray) -> Image.Image:
    if samples.ndim == 2:
        return Image.fromarray(samples, "L")
    return Image.fromarray(samples, {2: "LA", 3: "RGB", 4: "RGBA"}[samples.shape[2]])


def write_photo(path: str | Path, photo: Photo | None, rgb: torch.Tensor, *, format: str | None = None,
                quality: int | None = None) -> Path:
    """Write ``rgb`` (float (3, H, W) in [-1, 1], a model's output for ``photo``) atomically to ``path``.

    ``photo`` (None: a plain 8-bit RGB image, e.g. a label model's output) gives what is restored: its alpha
    (byte for byte), grayscale (the luma of ``rgb``), 16 bits (PNG, TIFF, PPM), its ICC profile (PNG, JPEG,
    WebP, TIFF) and EXIF (PNG, JPEG, WebP). ``format``: png, jpg, webp, same (the input's), None (``path``'s
    suffix). ``quality`` (1-100, default :data:`DEFAULT_QUALITY`) applies to JPEG and WebP."""
    path = Path(path)
    fmt = output_format(format, path, None if photo is None else photo.format)
    alpha = None if photo is None else photo.alpha
    if alpha is not None and fmt in NO_ALPHA:
        raise PixelwiseError(f"{photo.path if photo else path} has an alpha channel, which {fmt} cannot hold: "
                             f"write PNG or WebP (--format png|webp) to keep it")
    if alpha is not None and tuple(alpha.shape) != tuple(rgb.shape[-2:]):
        raise PixelwiseError(f"output for {photo.path if photo else path} is {tuple(rgb.shape[-2:])}, its alpha "
                             f"{tuple(alpha.shape)}: the model changed the size, so the alpha cannot be restored")
    bits = 16 if photo is not None and photo.bit_depth == 16 and fmt in DEPTH16 else 8
    values = rgb.detach().float()
    if photo is not None and photo.grayscale:
        values = sum(w * values[i] for i, w in enumerate(_LUMA))[None]
    rows = max(1, (1 << 22) // max(1, values.shape[-1]))  # quantise in bands: no whole-image temporaries
    colour = np.concatenate([quantize_photo(values[..., y:y + rows, :], bits).numpy()
                             for y in range(0, values.shape[-2], rows)], axis=1)
    colour = np.moveaxis(colour.astype(np.uint16 if bits == 16 else np.uint8), 0, -1)
    if alpha is not None:
        if alpha.dtype == np.uint16 and bits == 8:
            alpha = ((alpha.astype(np.uint32) + 128) // 257).astype(np.uint8)
        colour = np.concatenate([colour, alpha[..., None]], axis=2)
    samples = colour[..., 0] if colour.shape[2] == 1 else colour
    icc = photo.icc if photo is not None else None
    exif = photo.exif if photo is not None else None
    if bits == 16:
        data = (photo16.encode_png(samples, icc, exif) if fmt == "PNG" else
                photo16.encode_tiff(samples, icc) if fmt == "TIFF" else photo16.encode_ppm(samples))
        atomic_write_bytes(path, data)
        return path
    image = _pil_image(samples)
    options: dict[str, object] = {}
    if fmt in ("PNG", "JPEG", "WEBP", "TIFF") and icc:
        options["icc_profile"] = icc
    if fmt in ("PNG", "JPEG", "WEBP") and exif and (fmt != "JPEG" or len(exif) <= 65533):  # JPEG: one segment
        options["exif"] = exif
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = DEFAULT_QUALITY if quality is None else int(quality)
    if fmt == "BMP" and image.mode == "LA":
        image = image.convert("RGBA")
    if fmt == "WEBP" and image.mode in ("L", "LA"):  # WebP has no grayscale: the gray values in RGB(A)
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")
    atomic_write(path, lambda tmp: image.save(tmp, format=fmt, **options))
    return path


def refuse_alpha_loss(jobs: Iterable[tuple[Path, Path]]) -> None:
    """One line, before any work, if an (input, output) pair would write a photo with alpha as JPEG or PPM."""
    for source, out in jobs:
        fmt = output_format(None, out)
        if fmt in NO_ALPHA and photo_header(source).has_alpha:
            raise PixelwiseError(f"photo {source} has an alpha channel, which {fmt} ({out.name}) cannot hold; "
                                 f"nothing was written: use --format png or webp to keep it")


def check_quality(fmt: str, quality: int | None) -> None:
    """One line for a --quality that cannot apply."""
    if quality is None:
        return
    if not 1 <= quality <= 100:
        raise PixelwiseError(f"--quality {quality} must be between 1 and 100 (JPEG / WebP quality, default "
                             f"{DEFAULT_QUALITY})")
    if fmt == "png":
        raise PixelwiseError(f"--quality {quality} applies to --format jpg or webp (PNG is lossless)")


__all__ = ["DEFAULT_FORMAT", "DEFAULT_QUALITY", "OUTPUT_FORMATS", "OutputPlan", "Photo", "PhotoHeader", "check_quality",
           "output_format", "output_suffix", "photo_header", "photo_to_tensor", "plan_outputs", "quantize_photo",
           "read_photo", "refuse_alpha_loss", "refuse_overwriting_inputs", "write_photo"]
