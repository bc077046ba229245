"""What the study evaluates on and how: evaluation sets (per blur strength for deblurring, evenly spaced over
the split, kept in memory), one scoring pass over all of a task's sets with ``pixelwise eval``'s function, each
task's do-nothing baseline (:mod:`pixelwise.metrics.baselines`), the Inception network with its feature cache,
and the qualitative grids' samples."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pixelwise.data.strength import strength_label
from pixelwise.errors import PixelwiseError
from pixelwise.runtime import to_device
from pixelwise.study.config import BenchSettings, EvalSettings, StudyTask


def load_inception(settings: EvalSettings, device: Any) -> tuple[Any | None, str | None]:
    """(cached feature extractor, None), or (None, reason) when FID is off or no weights can be found."""
    if not settings.fid:
        return None, "turned off (eval.fid=false)"
    from pixelwise.metrics.inception import CachedFeatures, get_feature_extractor

    try:
        return CachedFeatures(get_feature_extractor(settings.inception_weights, device)), None
    except PixelwiseError as exc:
        return None, str(exc)
    except Exception as exc:  # a broken weights file must not sink the whole study
        return None, f"the Inception network could not be built ({type(exc).__name__}: {exc})"


@dataclass
class EvalSet:
    """An evaluation dataset: ``label`` is "" (label task) or the blur strength as text ("0.25")."""

    label: str
    dataset: Any
    data_config: Any


def build_eval_sets(task: str, data_config: Any, section: StudyTask) -> list[EvalSet]:
    """The evaluation split of ``data_config``, ``section.eval_images`` of it (evenly spaced; ``data.max_images``
    applies to training only); for deblurring with
    strengths, one set per strength (same photos, fixed kernels from ``data.seed`` at that strength)."""
    from pixelwise.data import build_dataset

    config = dataclasses.replace(data_config, max_images=None)
    split = config.resolved_eval_split
    if task == "deblur" and section.strengths:
        if config.format not in ("blur", "bundled-blur"):
            raise PixelwiseError(f"deblur.strengths needs an on-the-fly blur format (blur, bundled-blur), not "
                                 f"data.format={config.format}; set deblur.strengths=[] for datasets with their "
                                 f"own blur (GoPro)")
        variants = [(strength_label(s), dataclasses.replace(config, blur_strength=[float(s), float(s)]))
                    for s in section.strengths]
    else:
        variants = [("", config)]
    return [EvalSet(label, MemoryDataset(spread_subset(build_dataset(cfg, split, train=False), section.eval_images),
                                         section.cache_limit), cfg)
            for label, cfg in variants]


def spread_subset(dataset: Any, count: int | None) -> Any:
    """``count`` samples evenly spaced over ``dataset`` (in its name order), so that a small evaluation set
    covers every photo of the split rather than the first one; all of it when ``count`` is None or larger."""
    from torch.utils.data import Subset

    n = len(dataset)
    if count is None or count >= n:
        return dataset
    indices = sorted({round(i * (n - 1) / max(count - 1, 1)) for i in range(count)})
    return Subset(dataset, indices)


class MemoryDataset:
    """An evaluation dataset whose samples are kept in memory after the first read (evaluation samples are
    deterministic, and the study reads them after every epoch for every model). Beyond ``limit`` samples
    nothing more is kept, so a large evaluation split costs no memory."""

    def __init__(self, dataset: Any, limit: int = 256) -> None:
        self.dataset = dataset
        self.limit = limit
        self._cache: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        if index in self._cache:
            return self._cache[index]
        sample = self.dataset[index]
        if len(self._cache) < self.limit:
            self._cache[index] = sample
        return sample


def _loader(dataset: Any, batch_size: int) -> Any:
    from torch.utils.data import DataLoader

    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)


def evaluate_sets(model: Any, sets: list[EvalSet], device: Any, extractor: Any | None, batch_size: int = 4,
                  kid_subsets: int = 100) -> dict[str, Any]:
    """Score ``model`` on every set with ``pixelwise eval``'s function (:func:`evaluate_model`, the real metric
    suite), all sets in one pass so that FID/KID pool every set: overall psnr, ssim, fid, fid_n, kid,
    kid_std, and ``psnr@S`` / ``ssim@S`` per labelled set (blur strength)."""
    import numpy as np
    from torch.utils.data import ConcatDataset

    from pixelwise.metrics.evaluate import evaluate_model

    use_fid = extractor is not None
    dataset = ConcatDataset([es.dataset for es in sets]) if len(sets) > 1 else sets[0].dataset
    result = evaluate_model(model, dataset, sets[0].data_config, device, batch_size=batch_size, fid=use_fid,
                            kid=use_fid, kid_subsets=kid_subsets, feature_extractor=extractor, grid_count=0)
    record: dict[str, Any] = {}
    per_image = result["per_image"]
    start = 0
    for es in sets:
        rows = per_image[start:start + len(es.dataset)]
        start += len(es.dataset)
        if es.label and rows:
            record[f"psnr@{es.label}"] = float(np.mean([r["psnr"] for r in rows]))
            record[f"ssim@{es.label}"] = float(np.mean([r["ssim"] for r in rows]))
    record.update(psnr=result.get("psnr"), ssim=result.get("ssim"), fid=result.get("fid"), fid_n=result["n"],
                  kid=result.get("kid_mean"), kid_std=result.get("kid_std"))
    return record


def bench_trained(registry: str, model_config: Any, height: int, width: int, device: Any,
                  settings: BenchSettings) -> dict[str, Any]:
    """The real benchmark (``pixelwise bench``'s function) for the study model's exact architecture at the
    evaluation size; speed does not depend on the weights."""
    from pixelwise.bench import run_benchmark
    from pixelwise.config import to_dict

    options = to_dict(model_config)
    return run_benchmark([registry], [(height, width)], device=device, runs=settings.runs,
                         warmup=settings.warmup, model_options={registry: options})[0]


BASELINE_COLUMN = "label colour"  # the label task's baseline column in the qualitative grid


def task_baseline(task: str, data_config: Any) -> Any:
    """The do-nothing baseline of a task, scored like a model: deblurring returns the blurred input; label map
    -> photo paints every label id with its mean colour over the training images (the models' training split,
    ``data.max_images`` included)."""
    from pixelwise.metrics.baselines import InputAsOutput, label_colour_baseline

    return label_colour_baseline(data_config) if task == "labels" else InputAsOutput()


def grid_samples(es: EvalSet, count: int) -> list[dict[str, Any]]:
    """``count`` samples evenly spaced over a set, each as a batch of one (the rows of a qualitative grid)."""
    return list(_loader(spread_subset(es.dataset, count), 1))


def grid_inputs(task: str, es: EvalSet, count: int) -> tuple[list[Any], list[Any], list[str], list[dict]]:
    """(input images for display, targets, names, raw batches) of ``count`` evenly spaced samples."""
    from pixelwise.data.palette import colorize_labels

    batches = grid_samples(es, count)
    shown = [colorize_labels(b["label"], es.data_config)[0] if task == "labels" else b["input"][0] for b in batches]
    targets = [b["target"][0] for b in batches]
    names = [str(b["name"][0]) for b in batches]
    return shown, targets, names, batches


def predict_samples(generator: Any, batches: list[dict[str, Any]], data_config: Any, device: Any) -> list[Any]:
    """The generator's outputs (CPU tensors) for batches of one."""
    import torch

    from pixelwise.data import network_input

    with torch.no_grad():
        return [generator(network_input(to_device(b, device), data_config))[0].float().cpu() for b in batches]
