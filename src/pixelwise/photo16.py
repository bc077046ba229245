"""16-bit photos that Pillow holds only at 8 bits: reading them whole, and writing 16-bit PNG, TIFF and PPM.

Pillow opens a 16-bit RGB(A) / LA PNG or TIFF as an 8-bit image: its unpacker keeps the high byte of each
sample. :func:`read_16bit` decodes the file twice with Pillow's own decoders (so every PNG filter, interlacing
and TIFF compression Pillow reads is covered), once keeping the high bytes and once, with the byte order of the
raw mode swapped, the low bytes, and joins them. Binary PPM with a maxval above 255 is read directly.

The writers produce plain, valid files (checked by reading them back with Pillow in the tests): PNG with the
``iCCP`` (ICC profile) and ``eXIf`` chunks, little-endian uncompressed TIFF with the ICC tag, binary PPM.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from pixelwise.errors import PixelwiseError

_SWAP = {"B": "L", "L": "B", "N": "B" if sys.byteorder == "little" else "L"}
EXIF_PREFIX = b"Exif\x00\x00"


def _rawmode(tile: object) -> str | None:
    args = getattr(tile, "args", None)
    mode = args if isinstance(args, str) else (args[0] if isinstance(args, tuple) and args else None)
    return mode if isinstance(mode, str) else None


def is_16bit(image: Image.Image) -> bool:
    """True for a not yet loaded multi-band image whose samples are 16-bit (Pillow would keep 8 of them)."""
    if image.mode not in ("RGB", "RGBA", "LA") or not image.tile:
        return False
    tile = image.tile[0]
    if tile.codec_name == "ppm":
        return isinstance(tile.args, tuple) and len(tile.args) > 1 and int(tile.args[1]) > 255
    rawmode = _rawmode(tile)
    return bool(rawmode) and rawmode[-4:-1] == ";16" and rawmode[-1] in _SWAP


def read_16bit(path: Path) -> np.ndarray:
    """The uint16 (H, W, C) samples of a file for which :func:`is_16bit` holds, as stored (no orientation)."""
    with Image.open(path) as image:
        tile = image.tile[0]
        if tile.codec_name == "ppm":
            maxval = int(tile.args[1])
            count = image.width * image.height * len(image.getbands())
            with open(path, "rb") as handle:
                handle.seek(tile.offset)
                data = np.frombuffer(handle.read(count * 2), dtype=">u2", count=count)
            data = data.reshape(image.height, image.width, -1).astype(np.uint32)
            return (data if maxval == 65535 else (data * 65535 + maxval // 2) // maxval).astype(np.uint16)
        image.load()
        high = np.asarray(image)
    with Image.open(path) as image:
        if _rawmode(image.tile[0]) == "LA;16B":  # 16-bit gray + alpha: its 4 bytes per pixel read as 8-bit RGBA
            image.tile = [t._replace(args="RGBA" if isinstance(t.args, str) else ("RGBA", *t.args[1:]))
                          for t in image.tile]
            image.load()
            data = np.asarray(image).astype(np.uint16)
            return np.stack([(data[..., 0] << 8) | data[..., 1], (data[..., 2] << 8) | data[..., 3]], axis=-1)
        swapped = []
        for tile in image.tile:
            rawmode = _rawmode(tile) or ""
            other = rawmode[:-1] + _SWAP[rawmode[-1]]
            args = other if isinstance(tile.args, str) else (other, *tile.args[1:])
            swapped.append(tile._replace(args=args))
        image.tile = swapped
        try:
            image.load()
        except (OSError, ValueError) as exc:
            raise PixelwiseError(f"cannot read the 16-bit samples of {path} ({exc}); save it as a 16-bit PNG "
                                 f"or convert it to 8 bits") from None
        low = np.asarray(image)
    return (high.astype(np.uint16) << 8) | low.astype(np.uint16)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(samples: np.ndarray, icc: bytes | None = None, exif: bytes | None = None) -> bytes:
    """uint16 (H, W) gray, (H, W, 2) gray + alpha, (H, W, 3) RGB or (H, W, 4) RGBA -> a 16-bit PNG file."""
    height, width = samples.shape[:2]
    channels = 1 if samples.ndim == 2 else samples.shape[2]
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = np.ascontiguousarray(samples, dtype=">u2").view(np.uint8).reshape(height, width * channels * 2)
    step = channels * 2  # PNG filter 1 (Sub): each byte minus the same byte of the pixel to its left
    filtered = rows.copy()
    filtered[:, step:] = rows[:, step:] - rows[:, :-step]
    data = np.concatenate([np.ones((height, 1), np.uint8), filtered], axis=1).tobytes()
    out = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0))]
    if icc:
        out.append(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    if exif:
        out.append(_chunk(b"eXIf", exif[len(EXIF_PREFIX):] if exif.startswith(EXIF_PREFIX) else exif))
    out += [_chunk(b"IDAT", zlib.compress(data, 6)), _chunk(b"IEND", b"")]
    return b"".join(out)


def encode_tiff(samples: np.ndarray, icc: bytes | None = None) -> bytes:
    """uint16 samples (as :func:`encode_png`) -> an uncompressed little-endian 16-bit TIFF (one strip)."""
    height, width = samples.shape[:2]
    channels = 1 if samples.ndim == 2 else samples.shape[2]
    pixels = np.ascontiguousarray(samples, dtype="<u2").tobytes()
    extra = b"".join(struct.pack("<H", 16) for _ in range(channels)) if channels > 2 else b""
    icc = icc or b""
    pixel_at, extra_at = 8, 8 + len(pixels)
    icc_at = extra_at + len(extra)
    ifd_at = icc_at + len(icc) + (icc_at + len(icc)) % 2
    short, long_, undefined = 3, 4, 7
    bits = (short, channels, extra_at) if channels > 2 else (short, channels, 16 | (16 << 16) if channels == 2 else 16)
    tags = [(256, long_, 1, width), (257, long_, 1, height), (258, *bits), (259, short, 1, 1),
            (262, short, 1, 2 if channels > 2 else 1), (273, long_, 1, pixel_at), (277, short, 1, channels),
            (278, long_, 1, height), (279, long_, 1, len(pixels)), (284, short, 1, 1)]
    if channels in (2, 4):
        tags.append((338, short, 1, 2))  # ExtraSamples: unassociated alpha
    if icc:
        tags.append((34675, undefined, len(icc), icc_at))
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", *t) for t in tags) + struct.pack("<I", 0)
    padding = b"\x00" * ((icc_at + len(icc)) % 2)
    return b"II*\x00" + struct.pack("<I", ifd_at) + pixels + extra + icc + padding + ifd


def encode_ppm(samples: np.ndarray) -> bytes:
    """uint16 (H, W) gray or (H, W, 3) RGB -> a binary 16-bit PGM / PPM file."""
    height, width = samples.shape[:2]
    kind = b"P5" if samples.ndim == 2 else b"P6"
    return kind + f"\n{width} {height}\n65535\n".encode() + np.ascontiguousarray(samples, dtype=">u2").tobytes()


def reset_orientation(exif: bytes) -> bytes | None:
    """``exif`` (TIFF-structured, with or without the ``Exif\\0\\0`` prefix) with its orientation tag set to 1
    in place (every other byte kept); None when it cannot be parsed (the tag could then not be reset)."""
    prefix = EXIF_PREFIX if exif.startswith(EXIF_PREFIX) else b""
    tiff = bytearray(exif[len(prefix):])
    order = {b"II": "<", b"MM": ">"}.get(bytes(tiff[:2]))
    if order is None:
        return None
    try:
        ifd = struct.unpack_from(order + "I", tiff, 4)[0]
        for i in range(struct.unpack_from(order + "H", tiff, ifd)[0]):
            entry = ifd + 2 + 12 * i
            tag, kind = struct.unpack_from(order + "HH", tiff, entry)
            if tag == 0x0112 and kind == 3:
                struct.pack_into(order + "H", tiff, entry + 8, 1)
    except struct.error:
        return None
    return prefix + bytes(tiff)
