"""The metric accumulator (:class:`MetricSuite`) and the one-line record of the conventions that is saved
next to every result (the conventions themselves: :mod:`pixelwise.metrics`)."""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pixelwise.metrics.distribution import KID_MAX_SUBSET_SIZE, KID_SUBSETS, fid_from_features, kid_from_features
from pixelwise.metrics.image import pair, psnr, quantize, ssim
from pixelwise.metrics.inception import FEATURE_DIM, InceptionFeatureExtractor, get_feature_extractor
from pixelwise.runtime import resolve_device

LPIPS_ALEXNET_WEIGHTS = "alexnet-owt-7be5be79.pth"

# One line per metric, saved next to results (pixelwise eval's metrics.json) so that numbers carry their definition.
CONVENTIONS: dict[str, str] = {
    "images": "pred and target quantised to uint8 first: round((clamp(x, -1, 1) + 1) * 127.5)",
    "psnr": "RGB, data range 255, per image, mean over images (not pooled)",
    "ssim": "Gaussian 11x11 sigma 1.5, K1 0.01 K2 0.03, per channel on the valid region, mean over RGB, per image "
            "(scikit-image), mean over images",
    "ssim_matlab": "MATLAB ssim on HxWx3: 3-D Gaussian 11x11x11 sigma 1.5, replicate padding, mean over the map",
    "fid": "TF Inception pool3 (2015-12-05 graph via torch-fidelity), TF1 bilinear resize to 299 without "
           "antialiasing, (x-128)/128, float64 statistics; real = targets, fake = predictions; biased at small N",
    "kid": "same features, polynomial kernel (x.y/2048+1)^3, unbiased MMD^2, 100 subsets of min(1000, N)",
    "lpips": "AlexNet v0.1 on the quantised images, mean over images (only when available offline)",
}



# --- LPIPS (optional) --------------------------------------------------------------------------------------
def load_lpips(device: torch.device | str = "cpu") -> tuple[nn.Module | None, str | None]:
    """(LPIPS-AlexNet module, None) when the lpips package and AlexNet weights are on disk, else (None, reason).
    Never downloads."""
    if importlib.util.find_spec("lpips") is None:
        return None, "the lpips package is not installed"
    alexnet = Path(torch.hub.get_dir()) / "checkpoints" / LPIPS_ALEXNET_WEIGHTS
    if not alexnet.is_file():
        return None, f"the AlexNet weights {alexnet} are not on disk"
    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(net="alex", verbose=False)
    return model.to(device).eval(), None



# --- the accumulator ---------------------------------------------------------------------------------------
class MetricSuite:
    """Accumulates metrics over batches: ``update(pred, target)`` with [-1, 1] float (or uint8) batches,
    ``compute()`` -> dict. Per-image values are kept in ``per_image`` (in update order)."""

    def __init__(self, *, ssim: bool = True, ssim_matlab: bool = False, fid: bool = True, kid: bool = True,
                 lpips: bool = False, kid_subset_size: int | None = None, kid_subsets: int = KID_SUBSETS,
                 inception_weights: str | Path | None = None, device: torch.device | str | None = None,
                 feature_extractor: InceptionFeatureExtractor | None = None) -> None:
        self.device = resolve_device(device)
        self.use_ssim, self.use_ssim_matlab, self.use_fid, self.use_kid = ssim, ssim_matlab, fid, kid
        self.kid_subset_size, self.kid_subsets = kid_subset_size, kid_subsets
        self.extractor = feature_extractor
        if (fid or kid) and self.extractor is None:
            self.extractor = get_feature_extractor(inception_weights, self.device)
        self.lpips_model: nn.Module | None = None
        self.lpips_skipped: str | None = None
        if lpips:
            self.lpips_model, self.lpips_skipped = load_lpips(self.device)
        self.reset()

    def reset(self) -> None:
        self.per_image: list[dict[str, float]] = []
        self._fake: list[np.ndarray] = []
        self._real: list[np.ndarray] = []

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> list[dict[str, float]]:
        """Add a batch; returns the batch's per-image metric values."""
        p, t = pair(quantize(pred), quantize(target))
        values: dict[str, np.ndarray] = {"psnr": psnr(p, t)}
        if self.use_ssim:
            values["ssim"] = ssim(p, t)
        if self.use_ssim_matlab:
            values["ssim_matlab"] = ssim(p, t, matlab_3d=True)
        if self.lpips_model is not None:
            as_float = [x.to(self.device).float() / 127.5 - 1.0 for x in (p, t)]
            values["lpips"] = self.lpips_model(*as_float).reshape(-1).double().cpu().numpy()
        if self.extractor is not None:
            self._fake.append(self.extractor(p))
            self._real.append(self.extractor(t))
        rows = [{k: float(v[i]) for k, v in values.items()} for i in range(p.shape[0])]
        self.per_image.extend(rows)
        return rows

    def compute(self) -> dict[str, Any]:
        """Means over images (psnr, ssim, ...), fid, kid_mean, kid_std (None when N < 2) and n."""
        n = len(self.per_image)
        result: dict[str, Any] = {"n": n}
        for key in ("psnr", "ssim", "ssim_matlab", "lpips"):
            if n and key in self.per_image[0]:
                result[key] = float(np.mean([row[key] for row in self.per_image]))
        if self.lpips_skipped:
            result["lpips_skipped"] = self.lpips_skipped
        if self.extractor is not None:
            fake = np.concatenate(self._fake) if self._fake else np.zeros((0, FEATURE_DIM))
            real = np.concatenate(self._real) if self._real else np.zeros((0, FEATURE_DIM))
            result["inception_weights"] = self.extractor.source.describe()
            if self.use_fid:
                result["fid"] = fid_from_features(fake, real) if n >= 2 else None
            if self.use_kid:
                size = min(self.kid_subset_size or KID_MAX_SUBSET_SIZE, n)
                mean, std = kid_from_features(fake, real, size, self.kid_subsets) if n >= 2 else (None, None)
                result.update(kid_mean=mean, kid_std=std, kid_subset_size=size if n >= 2 else None,
                              kid_subsets=self.kid_subsets)
        return result


def format_summary(result: Mapping[str, Any]) -> str:
    """One line such as ``PSNR 23.41 dB | SSIM 0.7312 | FID 45.2 (N=500) | KID 0.0123 ± 0.0011 (N=500)``."""
    n = result.get("n")
    parts = []

    def number(value: Any, fmt: str) -> str:
        return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)

    if "psnr" in result:
        parts.append(f"PSNR {number(result['psnr'], '.2f')} dB")
    if "ssim" in result:
        parts.append(f"SSIM {number(result['ssim'], '.4f')}")
    if "ssim_matlab" in result:
        parts.append(f"SSIM(MATLAB 3-D) {number(result['ssim_matlab'], '.4f')}")
    if "lpips" in result:
        parts.append(f"LPIPS {number(result['lpips'], '.4f')}")
    if "fid" in result:
        parts.append(f"FID {number(result['fid'], '.2f')} (N={n})")
    if "kid_mean" in result:
        parts.append(f"KID {number(result['kid_mean'], '.4f')} ± {number(result['kid_std'], '.4f')} (N={n})")
    parts.append(f"N={n}")
    return " | ".join(parts)



__all__ = ["CONVENTIONS", "MetricSuite", "format_summary", "load_lpips"]
