"""Synthetic camera-shake blur: random trajectories after Boracchi & Foi (2012), as DeblurGAN (Kupyn et al.,
2018) used them (anxiety drawn from its six exploration levels, 0.003-0.01), re-implemented with the published
implementation's flaws fixed.

A trajectory is a 2-D random walk of constant speed (so of fixed path length) whose velocity is perturbed by
Gaussian shake, pulled back toward the start (inertia), and now and then jerked by an impulsive turn. Its
first fraction ``strength`` of the path (the exposure) is rasterised with bilinear sub-pixel weights into a
point-spread function:

- the kernel sums to 1, so blurring preserves energy (a constant image stays constant; no min-max rescale);
- it is centred on its centre of mass, so blurred and sharp images stay aligned;
- the path length in pixels is explicit: ``strength * max_length`` (0 gives the identity kernel);
- it applies to any image size and aspect via reflect-padded FFT convolution in torch, batched;
- everything is reproducible from an integer seed (per image: the run seed and a hash of the file name).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pixelwise.data.strength import STRENGTH_SAMPLINGS
from pixelwise.ops import reflect_pad

REFERENCE_LENGTH = 60.0  # trajectories are drawn at the paper's 60-pixel scale, then normalised to length 1
NUM_STEPS = 2000  # samples along a full trajectory
MAX_STEP_PX = 0.25  # densify the path so consecutive samples are at most this far apart when rasterised
# The "anxiety" (exploration) of the walk, drawn from the levels DeblurGAN generated its training blur with
# (Kupyn et al. 2018): near-straight (0.003) to gently curved (0.01) camera paths whose length is the blur
# extent. Boracchi & Foi's default, uniform in [0, 0.1], curls a 60-pixel path into a ~2-pixel blob.
ANXIETY_LEVELS = (0.01, 0.009, 0.008, 0.007, 0.005, 0.003)


@dataclass
class MotionKernel:
    """A point-spread function (K, K) float64 summing to 1, centre of mass at ``(K // 2, K // 2)``, and the
    parameters that reproduce it."""

    kernel: np.ndarray
    params: dict[str, Any]


def image_seed(seed: int, name: str) -> int:
    """A stable per-image seed from the run seed and the image name (independent of listing order)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode("utf-8"))])
    return int(state.generate_state(1, dtype=np.uint32)[0])


def random_trajectories(rng: np.random.Generator, count: int = 1,
                        num_steps: int = NUM_STEPS) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``count`` random camera paths of unit length: complex (count, num_steps) positions starting at 0, and
    their parameters (arrays of length ``count``).

    Each step keeps the speed fixed and changes the velocity by ``shake * N(0, 1) - inertia * position``
    (scaled by the anxiety and the step length) plus, with probability ``impulse_prob * anxiety``, a jerk
    that turns the motion roughly backwards (Boracchi & Foi 2012, Sec. II-A).
    """
    step = REFERENCE_LENGTH / (num_steps - 1)
    inertia = 0.7 * rng.random(count)  # pull toward the start ("centripetal" term)
    impulse_prob = 0.2 * rng.random(count)
    shake = 10.0 * rng.random(count)  # Gaussian shake amplitude
    anxiety = rng.choice(np.asarray(ANXIETY_LEVELS), size=count)  # DeblurGAN's exploration levels
    angle = 2.0 * math.pi * rng.random(count)
    gauss = rng.standard_normal((num_steps - 1, count)) + 1j * rng.standard_normal((num_steps - 1, count))
    jerk_draw = rng.random((num_steps - 1, count))
    jerk_turn = np.exp(1j * (math.pi + (rng.random((num_steps - 1, count)) - 0.5)))

    positions = np.zeros((count, num_steps), dtype=np.complex128)
    for i in range(count):  # sequential in time (the speed is renormalised each step): plain complex scalars
        positions[i] = _walk(complex(np.exp(1j * angle[i])), float(inertia[i]), float(impulse_prob[i] * anxiety[i]),
                             float(shake[i]), float(anxiety[i]), gauss[:, i].tolist(), jerk_draw[:, i].tolist(),
                             jerk_turn[:, i].tolist(), step)
    params = {"angle_rad": angle, "inertia": inertia, "impulse_prob": impulse_prob, "shake": shake,
              "anxiety": anxiety}
    return positions / REFERENCE_LENGTH, params


def _walk(direction: complex, inertia: float, jerk_prob: float, shake: float, anxiety: float,
          gauss: list[complex], jerk_draw: list[float], jerk_turn: list[complex], step: float) -> list[complex]:
    position = 0j
    velocity = direction * step
    out = [position]
    for noise, draw, turn in zip(gauss, jerk_draw, jerk_turn):
        jerk = 2.0 * velocity * turn if draw < jerk_prob else 0j
        velocity = velocity + jerk + anxiety * (shake * noise - inertia * position) * step
        speed = abs(velocity)
        velocity = velocity / speed * step if speed > 0 else direction * step
        position = position + velocity
        out.append(position)
    return out


def rasterize(points: np.ndarray) -> np.ndarray:
    """Complex positions (pixels) -> a PSF: equal weight per sample, bilinear sub-pixel splatting, recentred
    so that its centre of mass is exactly the centre pixel, normalised to sum 1. Bilinear weights keep each
    sample's mean position, so the kernel's centre of mass equals the samples' mean."""
    points = points - points.mean()
    x, y = points.real, points.imag
    radius = max(0, math.ceil(max(np.abs(x).max(), np.abs(y).max()) - 1e-9)) + 1
    size = 2 * radius + 1
    x, y = x + radius, y + radius
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    index = np.concatenate([(y0 + dy) * size + (x0 + dx) for dy in (0, 1) for dx in (0, 1)])
    weight = np.concatenate([wy * wx for wy in (1.0 - fy, fy) for wx in (1.0 - fx, fx)])
    kernel = np.bincount(index, weights=weight, minlength=size * size).reshape(size, size)
    return kernel / kernel.sum()


def trajectory_kernel(trajectory: np.ndarray, strength: float, max_length: float) -> np.ndarray:
    """The PSF of the first ``strength`` fraction (exposure) of a unit-length trajectory scaled to
    ``max_length`` pixels: a path of ``strength * max_length`` pixels."""
    count = len(trajectory)
    used = max(1, round(strength * (count - 1)) + 1)
    points = trajectory[:used] * max_length
    step = max_length / (count - 1)
    factor = math.ceil(step / MAX_STEP_PX) if used > 1 else 1
    if factor > 1:  # densify by linear interpolation so no pixel between samples is skipped
        where = np.linspace(0, used - 1, (used - 1) * factor + 1)
        index = np.arange(used)
        points = np.interp(where, index, points.real) + 1j * np.interp(where, index, points.imag)
    return rasterize(points)


def draw_strength(u: float, lo: float, hi: float, sampling: str = "uniform", max_length: float = 60.0) -> float:
    """The strength for a uniform draw ``u`` in [0, 1): ``uniform`` in ``[lo, hi]``; ``log``: the path
    length log-uniform between ``max(lo * max_length, 1 px)`` and ``hi * max_length`` (each octave of path
    length equally likely, so light blur is as common as heavy; a 1-px path is all but sharp); ``mixed``: half
    the draws one way, half the other (u < 0.5: uniform)."""
    if sampling not in STRENGTH_SAMPLINGS:
        raise ValueError(f"strength sampling {sampling!r} is not one of {STRENGTH_SAMPLINGS}")
    if sampling == "mixed":
        sampling, u = ("uniform", 2 * u) if u < 0.5 else ("log", 2 * u - 1)
    if sampling == "uniform" or hi <= lo:
        return lo + (hi - lo) * u
    low = min(hi, max(lo, 1.0 / max_length)) if max_length > 0 else hi
    return float(low * (hi / low) ** u)


def sample_kernel(seed: int, strength: float | Sequence[float] = 0.5, max_length: float = 60.0,
                  sampling: str = "uniform") -> MotionKernel:
    """A random motion-blur kernel: strength (or drawn from the range ``[lo, hi]``, see :func:`draw_strength`)
    in [0, 1] times ``max_length`` pixels of camera path. Same seed and arguments -> same kernel; the
    trajectory depends on the seed only, so ``sample_kernel(seed, params["strength"], ...)`` rebuilds a kernel
    from its JSON."""
    rng = np.random.default_rng(seed)
    if isinstance(strength, (int, float)):
        lo = hi = float(strength)
    else:
        lo, hi = float(strength[0]), float(strength[-1])
    # always drawn: the trajectory depends on the seed only
    value = draw_strength(float(rng.random()), lo, hi, sampling, max_length)
    trajectory, traj_params = random_trajectories(rng, 1)
    kernel = trajectory_kernel(trajectory[0], value, max_length)
    params: dict[str, Any] = {
        "seed": int(seed), "strength": value, "path_length_px": value * max_length,
        "max_length_px": float(max_length), "kernel_size": int(kernel.shape[0]),
        "spread_px": kernel_spread(kernel),
    }
    params.update({k: float(v[0]) for k, v in traj_params.items()})
    return MotionKernel(kernel, params)


def kernel_spread(kernel: np.ndarray) -> float:
    """RMS distance (pixels) of the kernel's mass from its centre: 0 for the identity."""
    size = kernel.shape[0]
    coords = np.arange(size) - size // 2
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    return float(np.sqrt((kernel * (xx**2 + yy**2)).sum() / kernel.sum()))


def kernel_center_of_mass(kernel: np.ndarray) -> tuple[float, float]:
    """(row, column) of the kernel's centre of mass."""
    rows, cols = np.indices(kernel.shape)
    total = kernel.sum()
    return float((rows * kernel).sum() / total), float((cols * kernel).sum() / total)


def motion_blur(image: torch.Tensor, kernel: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Convolve (C, H, W) or (B, C, H, W) images with a (K, K) kernel (or one (B, K, K) per image), odd K,
    centred. The image is reflect-padded by K // 2 so borders are not darkened; convolution runs as an FFT
    product in the image's dtype. Output: same shape and dtype."""
    kernel = torch.as_tensor(kernel, device=image.device)
    squeeze = image.dim() == 3
    x = image.unsqueeze(0) if squeeze else image
    k = kernel.unsqueeze(0) if kernel.dim() == 2 else kernel
    size = k.shape[-1]
    if k.shape[-2] != size or size % 2 == 0:
        raise ValueError(f"kernel must be square with an odd size, got {tuple(k.shape[-2:])}")
    if size == 1:
        out = x * k.to(x.dtype).view(-1, 1, 1, 1)
        return out.squeeze(0) if squeeze else out
    pad = size // 2
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    padded = reflect_pad(x.to(dtype), pad)
    height, width = padded.shape[-2:]
    full = torch.zeros(k.shape[0], height, width, dtype=dtype, device=x.device)
    full[:, :size, :size] = k.to(dtype)
    full = torch.roll(full, shifts=(-pad, -pad), dims=(-2, -1))
    spectrum = torch.fft.rfft2(padded) * torch.fft.rfft2(full).unsqueeze(1)
    out = torch.fft.irfft2(spectrum, s=(height, width))[..., pad:pad + x.shape[-2], pad:pad + x.shape[-1]]
    out = out.to(image.dtype)
    return out.squeeze(0) if squeeze else out
