"""Camera realism for synthetic motion blur (options of ``pixelwise blur`` and of the blur datasets; all off by
default, which keeps the plain model: blur the 8-bit photo as stored, round to 8 bits).

Real blurred photos differ from "convolve the stored image" in ways that matter for transfer to real photos
(Rim et al., "Realistic Blur Synthesis for Learning Image Deblurring", ECCV 2022 (RSBlur), found sensor noise
the most important; saturation and the camera pipeline next):

- ``gamma``: the shake integrates *light*, so blur in linear intensities: decode ``x ** gamma`` (sRGB is close to
  2.2), blur, encode ``x ** (1 / gamma)``. 0 or 1 = blur the stored values.
- ``highlight_gain``: pixels clipped in the sharp photo (>= 0.98) stand for light brighter than the sensor's
  range; they are multiplied by this gain (in linear light) before the blur, and the blurred photo is clipped
  again, so bright lights smear into saturated streaks as they do in a camera. 1 = off.
- ``shot_noise`` / ``read_noise``: Poisson-Gaussian sensor noise in linear light, variance ``shot * x + read^2``
  (the Gaussian approximation of the Poisson count), added after the blur. 0 = off.
- ``jpeg_quality``: the blurred photo goes through a JPEG encode/decode at this quality (1-100). 0 = off.

:func:`degrade` applies them to one image in [0, 1]; the kernel sums to 1, so without noise, clipping and JPEG
the mean linear intensity is kept exactly (tested).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch

from pixelwise.data.blur import motion_blur
from pixelwise.errors import PixelwiseError

CLIPPED = 0.98  # a sharp pixel at or above this (in [0, 1]) counts as a clipped highlight


@dataclass(frozen=True)
class CameraOptions:
    gamma: float = 0.0
    highlight_gain: float = 1.0
    shot_noise: float = 0.0
    read_noise: float = 0.0
    jpeg_quality: int = 0

    def __post_init__(self) -> None:
        if self.gamma < 0 or self.highlight_gain < 1 or self.shot_noise < 0 or self.read_noise < 0:
            raise PixelwiseError("camera options: gamma >= 0, highlight gain >= 1, shot and read noise >= 0")
        if not 0 <= self.jpeg_quality <= 100:
            raise PixelwiseError(f"JPEG quality {self.jpeg_quality} must be 1-100 (0: no JPEG)")

    @property
    def linear(self) -> bool:
        return self.gamma not in (0.0, 1.0)

    @property
    def active(self) -> bool:
        return (self.linear or self.highlight_gain > 1 or self.shot_noise > 0 or self.read_noise > 0
                or self.jpeg_quality > 0)


def jpeg_round_trip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """(C, H, W) in [0, 1] -> the same after an 8-bit JPEG encode/decode at ``quality`` (RGB or grey)."""
    from PIL import Image

    array = (image.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    mode_array = array[..., 0] if array.shape[2] == 1 else array
    buffer = io.BytesIO()
    Image.fromarray(mode_array).save(buffer, format="JPEG", quality=int(quality))
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float32) / 255.0
    decoded = decoded[..., None] if decoded.ndim == 2 else decoded
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).to(image.dtype)


def degrade(sharp: torch.Tensor, kernel: np.ndarray | torch.Tensor, options: CameraOptions,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Blur a (C, H, W) image in [0, 1] with ``kernel`` as a camera would under ``options``; returns [0, 1]
    (not yet rounded to 8 bits). Noise draws come from ``generator`` (reproducible per seed)."""
    x = sharp.float()
    if options.linear:
        x = x.clamp(0, 1).pow(options.gamma)
    if options.highlight_gain > 1:
        x = torch.where(sharp >= CLIPPED, x * options.highlight_gain, x)
    x = motion_blur(x, torch.as_tensor(kernel, dtype=torch.float32))
    if options.highlight_gain > 1:
        x = x.clamp(max=1.0)
    if options.shot_noise > 0 or options.read_noise > 0:
        variance = options.shot_noise * x.clamp(min=0) + options.read_noise**2
        x = x + variance.sqrt() * torch.randn(x.shape, generator=generator)
    x = x.clamp(0, 1)
    if options.linear:
        x = x.pow(1.0 / options.gamma)
    if options.jpeg_quality > 0:
        x = jpeg_round_trip(x, options.jpeg_quality)
    return x.to(sharp.dtype)


def blur_like_camera(image: torch.Tensor, kernel: np.ndarray, options: CameraOptions | None, seed: int,
                     signed: bool = False) -> torch.Tensor:
    """``image`` (C, H, W) in [0, 1] (in [-1, 1] when ``signed``) blurred with ``kernel``: through :func:`degrade`
    when ``options`` are active (its noise drawn from ``seed + 1``), else a plain convolution; same range out.
    The one place the ``pixelwise blur`` folders and the on-the-fly blur datasets make a blurred image."""
    if options is None or not options.active:
        return motion_blur(image, kernel.astype(np.float32))
    generator = torch.Generator().manual_seed(seed + 1)
    if signed:
        return degrade((image + 1) / 2, kernel, options, generator) * 2 - 1
    return degrade(image, kernel, options, generator)
