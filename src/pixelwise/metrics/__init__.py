"""Image-quality metrics with stated conventions: PSNR, SSIM, FID, KID (and LPIPS when available).

Modules: :mod:`.image` (quantisation, PSNR, SSIM), :mod:`.inception` (offline Inception weights, the TF-graph name
mapping, feature extraction and its cache), :mod:`.distribution` (FID, KID from features), :mod:`.suite`
(:class:`MetricSuite`, the conventions record, LPIPS), :mod:`.evaluate` (``pixelwise eval``: a model over a dataset).

Conventions (this module is the one place that decides them; docs/metrics.md copies this list)
----------------------------------------------------------------------------------------------
- **Quantisation first.** Generators output float images in [-1, 1]. Every prediction and every target is
  quantised to 8 bits before any metric, as a saved PNG would be: ``uint8 = round((clamp(x, -1, 1) + 1) * 127.5)``.
  Metrics are computed on the images a user sees on disk.
- **PSNR**: on RGB (all three channels, no Y conversion, no border crop), data range 255:
  ``10 log10(255^2 / MSE)`` per image, MSE over all pixels and channels. The dataset value is the **mean of the
  per-image PSNRs** (not the PSNR of an MSE pooled over a batch). Identical images give +inf (null in JSON).
- **SSIM**: Wang et al. (2004), Gaussian window 11x11, sigma 1.5, K1 = 0.01, K2 = 0.03, data range 255,
  population covariance, per RGB channel over the valid region (the 5-pixel border is not scored) and averaged
  over the channels; per image, then the mean over images. This is scikit-image's
  ``structural_similarity(p, t, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=255)``.
- **SSIM, MATLAB 3-D** (option ``ssim_matlab``; what GoPro deblurring papers report, from MATLAB's
  ``ssim(deblurred, sharp)`` on H x W x 3 arrays): the RGB image is treated as a 3-D volume, filtered with an
  11x11x11 Gaussian (sigma 1.5) with replicate padding, and the SSIM map is averaged over every pixel and channel
  (no border crop). Values differ from the 2-D per-channel SSIM; never compare the two.
- **FID**: the TensorFlow Inception definition (Heusel et al. 2017, TTUR): the 2015-12-05 Inception-v3 graph,
  pool3 (2048-d) features; uint8 images resized to 299x299 by TensorFlow-1 bilinear resize (no antialiasing),
  then ``(x - 128) / 128``; means and covariances in float64 (unbiased covariance, N - 1); Frechet distance as in
  torch-fidelity (for N1 * N2 <= 2048^2 computed exactly through the centred features' nuclear norm, the same
  number without a 2048 x 2048 eigen-decomposition; see :func:`fid_from_features`). The network is
  torch-fidelity's ``FeatureExtractorInceptionV3`` (the module torchmetrics wraps as ``NoTrainInceptionV3`` when
  ``antialias=False``); never a re-implementation. Real set = the targets, fake set = the predictions (same N).
  FID is biased upward at small N, so **every FID is reported with its N**; compare FIDs only at equal N.
- **KID** (Binkowski et al. 2018) on the same features: polynomial kernel ``(x.y / 2048 + 1)^3``, unbiased
  MMD^2, mean and standard deviation over 100 random subsets of size ``min(1000, N)`` (torch-fidelity, seed 2020).
- **LPIPS** (optional, AlexNet, v0.1): reported only when the ``lpips`` package and the AlexNet weights are already
  on disk; otherwise skipped, with the reason in the result. Computed on the quantised images mapped back to
  [-1, 1], mean over images.

Where the Inception weights come from (offline, never downloaded): :mod:`pixelwise.metrics.inception`.
"""

from __future__ import annotations

from pixelwise.metrics.distribution import default_kid_subset_size, fid_from_features, kid_from_features
from pixelwise.metrics.image import psnr, quantize, ssim
from pixelwise.metrics.inception import (
    CachedFeatures,
    InceptionFeatureExtractor,
    InceptionSource,
    build_inception,
    convert_tf_inception_state_dict,
    find_inception_weights,
    get_feature_extractor,
    inception_features,
)
from pixelwise.metrics.suite import CONVENTIONS, MetricSuite, format_summary, load_lpips

__all__ = [
    "CONVENTIONS", "CachedFeatures", "InceptionFeatureExtractor", "InceptionSource", "MetricSuite", "build_inception",
    "convert_tf_inception_state_dict", "default_kid_subset_size", "fid_from_features", "find_inception_weights",
    "format_summary", "get_feature_extractor", "inception_features", "kid_from_features", "load_lpips", "psnr",
    "quantize", "ssim",
]
