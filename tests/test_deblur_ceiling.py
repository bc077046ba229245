"""benchmarks/deblur_ceiling.py: its non-blind Wiener reference inverts a known blur, its reference U-Net starts
as the identity, and its training batches are seeded blurred/sharp pairs (tiny inputs, no wallpapers needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from pixelwise.data.blur import motion_blur, sample_kernel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import deblur_ceiling as dc
from deblur_quality import psnr


def _photo(size: int = 64) -> np.ndarray:
    """A smooth colour image with edges (uint8 H, W, 3): a few random squares over gradients."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.stack([yy, xx, 1 - yy * xx], axis=2) * 120 + 60
    for _ in range(6):
        y, x, s = [*rng.integers(0, size - 12, 2).tolist(), int(rng.integers(6, 12))]
        image[y:y + s, x:x + s] = rng.integers(0, 256, 3)
    return image.astype(np.uint8)


def test_wiener_with_the_true_kernel_undoes_the_blur() -> None:
    sharp = _photo()
    kernel = sample_kernel(3, 0.3, 30.0).kernel
    blurred_float = motion_blur(torch.from_numpy(sharp / 255.0).permute(2, 0, 1), kernel)
    blurred = (blurred_float.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)
    restored = dc.wiener(blurred, kernel, 1e-2)  # 8-bit input: some regularisation (the script tries several)
    assert restored.dtype == np.uint8 and restored.shape == sharp.shape
    assert psnr(restored, sharp) > psnr(blurred, sharp) + 3.0  # measured: 30.1 -> 34.3 dB
    # the identity kernel with no regularisation returns the input
    assert np.array_equal(dc.wiener(blurred, np.ones((1, 1)), 0.0), blurred)


def test_unet_starts_as_the_identity_and_learns() -> None:
    torch.manual_seed(0)
    net = dc.UNet(width=4, levels=2)
    x = torch.rand(2, 3, 20, 28)  # not a multiple of 4: the skips are resized to fit
    assert torch.equal(net(x), x)
    loss = torch.nn.functional.mse_loss(net(x), torch.zeros_like(x))
    loss.backward()
    assert net.out.weight.grad is not None and net.out.weight.grad.abs().sum() > 0


def test_training_batch_is_seeded_and_blurred() -> None:
    tiles = [torch.from_numpy(_photo(48)).permute(2, 0, 1).float() / 255 for _ in range(2)]
    first = dc.training_batch(tiles, np.random.default_rng(5), 3, 32, 0.3, 20.0)
    again = dc.training_batch(tiles, np.random.default_rng(5), 3, 32, 0.3, 20.0)
    blurred, sharp = first
    assert blurred.shape == sharp.shape == (3, 3, 32, 32)
    assert torch.equal(blurred, again[0]) and torch.equal(sharp, again[1])
    assert torch.equal(blurred * 255, (blurred * 255).round())  # quantised to 8 bits, like a saved PNG
    assert not torch.allclose(blurred, sharp, atol=1 / 255)  # strength 0.3 of a 20-px path changes them
