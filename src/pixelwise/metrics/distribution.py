"""Distribution metrics from Inception features (conventions: :mod:`pixelwise.metrics`): FID (with an exact
low-rank form for small sets) and KID."""

from __future__ import annotations

import math

import numpy as np
import torch

from pixelwise.extras import require

KID_SUBSETS = 100
KID_MAX_SUBSET_SIZE = 1000
KID_SEED = 2020


def _features(values: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    array = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a (N, D) feature array, got shape {array.shape}")
    return array


def fid_from_features(fake: np.ndarray | torch.Tensor, real: np.ndarray | torch.Tensor,
                      method: str = "auto") -> float:
    """Frechet distance between Gaussians fitted (float64, unbiased covariance) to two (N, D) feature sets:
    ``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2)``.

    ``method="eig"``: torch-fidelity's formula (eigenvalues of the D x D product S1 S2: O(D^3), seconds for
    D = 2048 on a CPU). ``method="low-rank"``: the same number computed exactly from the centred features A1, A2:
    the eigenvalues of S1 S2 = A1'A1 A2'A2 / c are those of (A1 A2')(A1 A2')' / c, so
    ``tr((S1 S2)^1/2) = ||A1 A2'||_* / sqrt(c)`` with c = (N1 - 1)(N2 - 1) (nuclear norm, an N1 x N2 SVD).
    ``"auto"`` takes the low-rank form when N1 * N2 <= D^2 (e.g. any N <= 2048 for Inception features), else
    torch-fidelity's."""
    require("torch_fidelity", "metrics", "FID")
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    a, b = _features(fake, "fake"), _features(real, "real")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"FID needs at least 2 samples per set, got {len(a)} and {len(b)}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} vs {b.shape[1]}")
    if method == "auto":
        method = "low-rank" if len(a) * len(b) <= a.shape[1] ** 2 else "eig"
    if method == "eig":
        stats_a = fid_features_to_statistics(torch.from_numpy(a))
        stats_b = fid_features_to_statistics(torch.from_numpy(b))
        return float(fid_statistics_to_metric(stats_a, stats_b, verbose=False)[KEY_METRIC_FID])
    if method != "low-rank":
        raise ValueError(f"method={method!r}: use 'auto', 'eig' or 'low-rank'")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    centred_a, centred_b = a - mean_a, b - mean_b
    scale = (len(a) - 1) * (len(b) - 1)
    trace_a = float(np.sum(centred_a**2)) / (len(a) - 1)
    trace_b = float(np.sum(centred_b**2)) / (len(b) - 1)
    trace_sqrt = float(np.linalg.norm(centred_a @ centred_b.T, ord="nuc")) / math.sqrt(scale)
    diff = mean_a - mean_b
    return float(diff @ diff + trace_a + trace_b - 2.0 * trace_sqrt)


def default_kid_subset_size(n_fake: int, n_real: int) -> int:
    return min(KID_MAX_SUBSET_SIZE, n_fake, n_real)


def kid_from_features(fake: np.ndarray | torch.Tensor, real: np.ndarray | torch.Tensor,
                      subset_size: int | None = None, subsets: int = KID_SUBSETS,
                      seed: int = KID_SEED) -> tuple[float, float]:
    """KID (mean, std over ``subsets`` random subsets of ``subset_size``, default min(1000, N))."""
    require("torch_fidelity", "metrics", "KID")
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    a, b = _features(fake, "fake"), _features(real, "real")
    size = default_kid_subset_size(len(a), len(b)) if subset_size is None else subset_size
    if size < 2 or size > min(len(a), len(b)):
        raise ValueError(f"KID subset size must be in [2, {min(len(a), len(b))}] for these sets, got {size}")
    out = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=subsets,
                                 kid_subset_size=size, rng_seed=seed, verbose=False)
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])



__all__ = ["KID_MAX_SUBSET_SIZE", "KID_SEED", "KID_SUBSETS", "default_kid_subset_size", "fid_from_features",
           "kid_from_features"]
