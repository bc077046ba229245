"""Per-image metrics on 8-bit images (conventions: :mod:`pixelwise.metrics`): quantisation, PSNR, SSIM
(scikit-image's 2-D per-channel definition, and MATLAB's 3-D one)."""

from __future__ import annotations

import numpy as np
import torch

from pixelwise.data.transforms import quantize_photo
from pixelwise.extras import require

DATA_RANGE = 255.0
SSIM_SIGMA = 1.5
SSIM_WINDOW = 11


def quantize(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> uint8 in [0, 255], same shape: ``round((clamp(x, -1, 1) + 1) * 127.5)``."""
    if images.dtype == torch.uint8:
        return images
    return quantize_photo(images)


def uint8_batch(images: torch.Tensor | np.ndarray, name: str = "images") -> torch.Tensor:
    """uint8 (3, H, W) or (B, 3, H, W) tensor/array -> (B, 3, H, W) uint8 tensor."""
    tensor = torch.as_tensor(images)
    if tensor.dtype != torch.uint8:
        raise ValueError(f"{name}: expected uint8 images (quantise [-1, 1] floats with quantize()), got {tensor.dtype}")
    if tensor.dim() == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 4 or tensor.shape[1] != 3:
        raise ValueError(f"{name}: expected RGB images of shape (B, 3, H, W) or (3, H, W), got {tuple(tensor.shape)}")
    return tensor


def pair(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    p, t = uint8_batch(pred, "pred"), uint8_batch(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target differ in shape: {tuple(p.shape)} vs {tuple(t.shape)}")
    return p, t


def _hwc(batch: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) uint8 tensor -> (B, H, W, 3) float64 array."""
    return batch.detach().cpu().permute(0, 2, 3, 1).numpy().astype(np.float64)


# --- PSNR / SSIM -------------------------------------------------------------------------------------------
def psnr(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per-image PSNR (dB) of uint8 RGB images, data range 255: shape (B,) float64 (+inf where identical)."""
    require("torchmetrics", "metrics", "PSNR")
    from torchmetrics.functional.image import peak_signal_noise_ratio

    p, t = pair(pred, target)
    values = peak_signal_noise_ratio(p.double(), t.to(p.device).double(), data_range=DATA_RANGE,
                                     reduction="none", dim=(1, 2, 3))
    return values.detach().cpu().numpy().astype(np.float64).reshape(-1)


def _ssim_matlab_3d(a: np.ndarray, b: np.ndarray) -> float:
    """MATLAB ``ssim(A, ref)`` for H x W x 3 float arrays in [0, 255]: a 3-D Gaussian over rows, columns and
    channels (11 taps each, sigma 1.5, replicate padding), SSIM map averaged over everything."""
    require("scipy", "metrics", "MATLAB-style SSIM")
    from scipy.ndimage import gaussian_filter

    radius = SSIM_WINDOW // 2

    def blur(x: np.ndarray) -> np.ndarray:
        # truncate * sigma = radius -> scipy uses exactly 2 * radius + 1 taps, like MATLAB's 11-tap filter
        return gaussian_filter(x, sigma=SSIM_SIGMA, mode="nearest", truncate=radius / SSIM_SIGMA)

    c1, c2 = (0.01 * DATA_RANGE) ** 2, (0.03 * DATA_RANGE) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def ssim(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, matlab_3d: bool = False) -> np.ndarray:
    """Per-image SSIM of uint8 RGB images: shape (B,) float64. ``matlab_3d`` selects MATLAB's 3-D variant."""
    require("skimage", "metrics", "SSIM")
    from skimage.metrics import structural_similarity

    p, t = pair(pred, target)
    if min(p.shape[2:]) < SSIM_WINDOW and not matlab_3d:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {tuple(p.shape[2:])}")
    a, b = _hwc(p), _hwc(t)
    values = []
    for x, y in zip(a, b):
        if matlab_3d:
            values.append(_ssim_matlab_3d(x, y))
        else:
            values.append(structural_similarity(x, y, channel_axis=-1, gaussian_weights=True, sigma=SSIM_SIGMA,
                                                use_sample_covariance=False, data_range=DATA_RANGE))
    return np.asarray(values, dtype=np.float64)



__all__ = ["DATA_RANGE", "SSIM_SIGMA", "SSIM_WINDOW", "psnr", "quantize", "ssim"]
