"""``pixelwise study``: the report's whole experiment, end to end.

Trains ASAP-Net and pix2pixHD on label map -> photo, DeblurGAN and DeblurGAN-ASAP on graded motion blur, with
the real training loop; evaluates PSNR/SSIM/FID/KID after every epoch with the real metrics; times inference
with the real benchmark; and writes one folder::

    OUT/index.html            the report (relative links only; open it in a browser)
    OUT/table1.{md,json}      Table 1, label map -> photo
    OUT/table2.{md,json}      Table 2, deblurring (per blur strength and overall)
    OUT/results.json          every number, per epoch (re-render with report.write_study_report(OUT))
    OUT/study.yaml            the resolved study config (rerun: pixelwise study OUT/study.yaml)
    OUT/figures/*.png         curves, runtime chart, qualitative grids
    OUT/runs/<model>/         the training runs (config.yaml, metrics.jsonl, checkpoints/, samples/)

A study is described by a preset in ``configs/study/`` (``demo``: bundled photos, minutes on a CPU; ``seed``:
the report's full-size setup on Cityscapes + sharp photos, for a GPU) plus dotted overrides such as
``labels.data.root=/data/cityscapes epochs=5``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelwise.config import apply_overrides, from_dict, list_presets, load_yaml, resolve_preset, to_dict
from pixelwise.errors import PixelwiseError

STUDY_DIR = Path(__file__).resolve().parents[1] / "configs" / "study"
TASKS = ("labels", "deblur")


@dataclass
class StudyModel:
    """One model of the study: a training preset (``configs/<preset>.yaml``) plus overrides."""

    name: str  # display name in the tables, e.g. "ASAP-Net"
    preset: str  # training preset name or YAML path, e.g. "asapnet-tiny"
    overrides: list[str] = field(default_factory=list)  # dotted run-config overrides, e.g. ["train.lr_g=2e-4"]
    fullsize_options: dict[str, Any] = field(default_factory=dict)  # registry options of the full-size bench


@dataclass
class StudyTask:
    """One of the two tasks: its data (a ``DataConfig`` mapping merged over every model preset's ``data``),
    its models and its evaluation set size."""

    data: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # key -> StudyModel mapping (key names runs/<key>)
    eval_images: int | None = None  # evaluation images (per blur strength), evenly spaced over the evaluation
    #                                 split in name order; None: the whole split
    strengths: list[float] = field(default_factory=list)  # deblur: evaluation blur strengths (empty: dataset's)
    grid_images: int = 3  # rows of the qualitative grids
    cache_limit: int = 256  # evaluation samples kept in memory between evaluations


@dataclass
class EvalSettings:
    fid: bool = True  # FID and KID (need Inception weights; unavailable -> marked n/a, the study goes on)
    every_epoch: bool = True  # evaluate after every epoch (False: after the last one only)
    batch_size: int = 4
    inception_weights: str | None = None  # explicit weights file (else the offline search of metrics.py)
    kid_subsets: int = 100


@dataclass
class BenchSettings:
    runs: int = 20  # timed runs per model at the evaluation size
    warmup: int = 3
    fullsize: bool = True  # also time the default-width (paper-size) generators
    fullsize_height: int = 256
    fullsize_width: int = 512
    fullsize_runs: int = 3
    fullsize_warmup: int = 1


@dataclass
class StudyConfig:
    """A whole study. ``epochs`` sets every model's ``train.epochs`` (``decay_epochs`` 0) unless null."""

    description: str = ""
    demo: bool = False  # tiny models: the report says so loudly
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0
    epochs: int | None = None  # epochs per model (None: the presets' own schedule)
    train_overrides: list[str] = field(default_factory=list)  # dotted overrides for every model's run config
    labels: StudyTask = field(default_factory=StudyTask)
    deblur: StudyTask = field(default_factory=StudyTask)
    eval: EvalSettings = field(default_factory=EvalSettings)
    bench: BenchSettings = field(default_factory=BenchSettings)
    progress: bool = True

    def models(self, task: str) -> dict[str, StudyModel]:
        """The task's models as typed entries, in file order."""
        section: StudyTask = getattr(self, task)
        out = {}
        for key, value in section.models.items():
            if isinstance(value, StudyModel):
                out[key] = value
            elif isinstance(value, dict):
                out[key] = from_dict(StudyModel, value, where=f"{task}.models.{key}")
            else:
                raise PixelwiseError(f"{task}.models.{key}: expected a mapping with name and preset, got {value!r}")
        return out

    def validate(self) -> None:
        for task in TASKS:
            models = self.models(task)
            if not models:
                raise PixelwiseError(f"study config: {task}.models is empty; the study needs at least one model")
            for key in models:
                if not key or "/" in key or key.startswith("."):
                    raise PixelwiseError(f"{task}.models: {key!r} is not a usable folder name")
            section: StudyTask = getattr(self, task)
            if section.eval_images is not None and section.eval_images < 2:
                raise PixelwiseError(f"{task}.eval_images={section.eval_images} must be >= 2 (or null for all)")
            for s in section.strengths:
                if not 0.0 <= s <= 1.0:
                    raise PixelwiseError(f"{task}.strengths: {s} is outside [0, 1]")
        keys = list(self.models("labels")) + list(self.models("deblur"))
        if len(set(keys)) != len(keys):
            raise PixelwiseError(f"study config: model keys must be unique across tasks, got {keys}")
        if self.epochs is not None and self.epochs < 1:
            raise PixelwiseError(f"epochs={self.epochs} must be >= 1 (or null for the presets' schedules)")
        if self.bench.runs < 1 or self.bench.fullsize_runs < 1:
            raise PixelwiseError("bench.runs and bench.fullsize_runs must be >= 1")
        if self.eval.batch_size < 1:
            raise PixelwiseError("eval.batch_size must be >= 1")


def list_study_presets() -> list[str]:
    """Names of the bundled study presets (``configs/study/*.yaml``)."""
    return list_presets(STUDY_DIR)


def resolve_study_preset(name_or_path: str | Path) -> Path:
    """A study preset name (``demo``) or a YAML path (e.g. a previous ``OUT/study.yaml``) -> the path."""
    return resolve_preset(name_or_path, STUDY_DIR, kind="study preset")


def load_study_config(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> StudyConfig:
    """Study preset (name or path) + dotted overrides (``epochs=2 labels.data.root=/x``) -> StudyConfig."""
    path = resolve_study_preset(name_or_path)
    data = apply_overrides(load_yaml(path), list(overrides))
    config = from_dict(StudyConfig, data, where=str(path))
    config.validate()
    return config


def study_config_dict(config: StudyConfig) -> dict[str, Any]:
    """The config as a plain dict (models typed and complete), as saved in ``OUT/study.yaml``."""
    data = to_dict(config)
    for task in TASKS:
        data[task]["models"] = {k: to_dict(v) for k, v in config.models(task).items()}
    return data


def _clone(config: StudyConfig) -> StudyConfig:
    return dataclasses.replace(copy.deepcopy(config))


def default_out_dir(preset: str | Path) -> Path:
    """``runs/study-<preset name>``."""
    return Path("runs") / f"study-{Path(str(preset)).stem}"


# ----------------------------------------------------------------------------------------------------------
# Devices and Inception
# ----------------------------------------------------------------------------------------------------------

def resolve_device(name: str) -> Any:
    """``auto`` -> cuda when available, else cpu; other names are checked."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PixelwiseError(f"device={name!r} but CUDA is not available; use device=cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise PixelwiseError(f"device={name!r} is not a device name (auto, cpu, cuda, cuda:N)") from exc


def describe_device(device: Any) -> str:
    """'NVIDIA H100 80GB HBM3 (CUDA)' or 'CPU: <model name>, N threads'."""
    import platform

    import torch

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"CPU: {model}, {threads} thread{'s' if threads != 1 else ''}"


def machine_load() -> dict[str, Any] | None:
    """The 1-minute load average, the CPU count and torch's thread count (to tell when timings were taken on
    a busy machine); None where the OS has no load average."""
    import os

    import torch

    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    return {"load1": round(load, 2), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}


class CachedFeatures:
    """Wraps an Inception feature extractor and memoises per-image features by content hash: the real
    evaluation images repeat at every epoch and for every model, so their features are computed once.
    Results are identical to the wrapped extractor's (same network, same images)."""

    def __init__(self, extractor: Any) -> None:
        self.extractor = extractor
        self.source = extractor.source
        self._cache: dict[bytes, Any] = {}

    def __call__(self, images: Any) -> Any:
        import hashlib

        import numpy as np
        import torch

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


def load_inception(settings: EvalSettings, device: Any) -> tuple[Any | None, str | None]:
    """(cached feature extractor, None), or (None, reason) when FID is off or no weights can be found."""
    if not settings.fid:
        return None, "turned off (eval.fid=false)"
    from pixelwise.evaluate.metrics import get_feature_extractor

    try:
        return CachedFeatures(get_feature_extractor(settings.inception_weights, device)), None
    except PixelwiseError as exc:
        return None, str(exc)
    except Exception as exc:  # a broken weights file must not sink the whole study
        return None, f"the Inception network could not be built ({type(exc).__name__}: {exc})"


# ----------------------------------------------------------------------------------------------------------
# Evaluation sets and per-epoch evaluation
# ----------------------------------------------------------------------------------------------------------

@dataclass
class EvalSet:
    """An evaluation dataset: ``label`` is "" (label task) or the blur strength as text ("0.25")."""

    label: str
    dataset: Any
    data_config: Any


def strength_label(strength: float) -> str:
    """0.25 -> '0.25', 1.0 -> '1' (the ``@S`` suffix of per-strength result keys)."""
    return f"{float(strength):g}"


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


def _to_device(batch: dict[str, Any], device: Any) -> dict[str, Any]:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}


def evaluate_sets(model: Any, sets: list[EvalSet], device: Any, extractor: Any | None, batch_size: int = 4,
                  kid_subsets: int = 100) -> dict[str, Any]:
    """Score ``model`` on every set with ``pixelwise eval``'s function (:func:`evaluate_model`, the real metric
    suite), all sets in one pass so that FID/KID pool every set: overall psnr, ssim, fid, fid_n, kid,
    kid_std, and ``psnr@S`` / ``ssim@S`` per labelled set (blur strength)."""
    import numpy as np
    from torch.utils.data import ConcatDataset

    from pixelwise.evaluate.evaluation import evaluate_model

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


BASELINE_COLUMN = "label colour"  # the label task's baseline column in the qualitative grid


def task_baseline(task: str, data_config: Any) -> Any:
    """The do-nothing baseline of a task, scored like a model: deblurring returns the blurred input; label map
    -> photo paints every label id with its mean colour over the training images (the models' training split,
    ``data.max_images`` included)."""
    from pixelwise.evaluate.baselines import InputAsOutput, label_colour_baseline

    return label_colour_baseline(data_config) if task == "labels" else InputAsOutput()


def grid_samples(es: EvalSet, count: int) -> list[dict[str, Any]]:
    """``count`` samples evenly spaced over a set, each as a batch of one (the rows of a qualitative grid)."""
    return list(_loader(spread_subset(es.dataset, count), 1))


# ----------------------------------------------------------------------------------------------------------
# Run configs of the study's models
# ----------------------------------------------------------------------------------------------------------

def build_run_config(config: StudyConfig, task: str, spec: StudyModel, device: Any) -> Any:
    """The model's training preset, with the task's ``data`` merged over its data section, then the study's
    ``train_overrides``, the study epochs/seed/device, and the model's own overrides (last wins)."""
    from pixelwise.train.config import load_preset_dict, run_config_from_dict

    section: StudyTask = getattr(config, task)
    data = load_preset_dict(spec.preset)
    data.setdefault("data", {})
    data["data"] = {**(data["data"] or {}), **section.data}
    study_overrides = list(config.train_overrides)
    if config.epochs is not None:
        study_overrides += [f"train.epochs={config.epochs}", "train.decay_epochs=0", "train.max_steps=null"]
    study_overrides += [f"train.seed={config.seed}", f"train.device={device}", f"train.progress={config.progress}"]
    apply_overrides(data, study_overrides + list(spec.overrides))
    run_config = run_config_from_dict(data, where=f"{task}.models ({spec.preset})")
    expected = "labels" if task == "labels" else "rgb"
    if run_config.data.resolved_task != expected:
        raise PixelwiseError(f"{task}: model preset {spec.preset!r} with data.format={run_config.data.format} is a "
                             f"{run_config.data.resolved_task!r} task, but the {task} task needs {expected!r} data")
    return run_config


# ----------------------------------------------------------------------------------------------------------
# Training + per-epoch evaluation of one model
# ----------------------------------------------------------------------------------------------------------

def _finite(record: dict[str, Any]) -> dict[str, float]:
    import math

    return {k: float(v) for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}


def train_and_evaluate(run_config: Any, run_dir: Path, sets: list[EvalSet], device: Any, extractor: Any | None,
                       settings: EvalSettings) -> tuple[Any, list[dict[str, Any]], Any]:
    """Train with the real loop; after every epoch (or only after the last, ``eval.every_epoch=false``)
    evaluate the generator on ``sets``; the evaluation is also logged to metrics.jsonl as ``eval/*``.
    Returns (train summary, per-epoch records, the final generator in eval mode)."""
    import time

    import torch

    from pixelwise.data import build_dataset
    from pixelwise.train.loop import train
    from pixelwise.train.recipes import total_steps

    dataset = build_dataset(run_config.data, split=run_config.data.split, train=True)
    steps_per_epoch = max(1, len(dataset) // run_config.train.batch_size)
    total = total_steps(run_config.train, steps_per_epoch)
    epochs: list[dict[str, Any]] = []
    holder: dict[str, Any] = {}

    def evaluate(generator: Any, epoch: float, step: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        record = evaluate_sets(generator, sets, device, extractor, settings.batch_size, settings.kid_subsets)
        epochs.append({"epoch": epoch, "step": step, **record, "eval_seconds": time.perf_counter() - t0})
        return record

    def on_epoch_end(end: Any) -> dict[str, float]:
        holder["generator"] = end.generator
        if not settings.every_epoch and end.step < total:
            return {}
        record = evaluate(end.generator, end.epoch, end.step)
        return {f"eval/{k}": v for k, v in _finite(record).items() if k != "fid_n"}

    summary = train(run_config, run_dir, resume=None, on_epoch_end=on_epoch_end, dataset=dataset)
    generator = holder.get("generator")
    if generator is None or not epochs or epochs[-1]["step"] != summary.step:
        # the run stopped inside an epoch (train.max_steps): evaluate the final checkpoint as well
        from pixelwise.models.io import load_generator

        generator = load_generator(run_dir, device=device)
        with torch.no_grad():
            evaluate(generator, round(summary.step / steps_per_epoch, 2), summary.step)
        epochs[-1]["partial_epoch"] = True
    return summary, epochs, generator.eval()


# ----------------------------------------------------------------------------------------------------------
# Runtime
# ----------------------------------------------------------------------------------------------------------

def bench_trained(registry: str, model_config: Any, height: int, width: int, device: Any,
                  settings: BenchSettings) -> dict[str, Any]:
    """The real benchmark (``pixelwise bench``'s function) for the study model's exact architecture at the
    evaluation size; speed does not depend on the weights."""
    from pixelwise.evaluate.bench import run_benchmark

    options = to_dict(model_config)
    return run_benchmark([registry], [(height, width)], device=device, runs=settings.runs,
                         warmup=settings.warmup, model_options={registry: options})[0]


def bench_fullsize(models: dict[str, tuple[str, dict[str, Any]]], device: Any, settings: BenchSettings,
                   progress: bool) -> dict[str, dict[str, Any]]:
    """key -> benchmark record of the registry model at its default (paper) widths at the full-size bench size."""
    from tqdm.auto import tqdm

    from pixelwise.evaluate.bench import run_benchmark

    out = {}
    size = (settings.fullsize_height, settings.fullsize_width)
    for key, (registry, options) in tqdm(models.items(), desc="bench full-size", disable=not progress,
                                         unit="model"):
        out[key] = run_benchmark([registry], [size], device=device, runs=settings.fullsize_runs,
                                 warmup=settings.fullsize_warmup,
                                 model_options={registry: options} if options else None)[0]
    return out


# ----------------------------------------------------------------------------------------------------------
# Qualitative grids
# ----------------------------------------------------------------------------------------------------------

def _grid_inputs(task: str, es: EvalSet, count: int) -> tuple[list[Any], list[Any], list[str], list[dict]]:
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
        return [generator(network_input(_to_device(b, device), data_config))[0].float().cpu() for b in batches]


# ----------------------------------------------------------------------------------------------------------
# The study
# ----------------------------------------------------------------------------------------------------------

@dataclass
class StudyOutput:
    """Where the report is, and its two tables (the dicts written as table1.json / table2.json)."""

    out_dir: Path
    index: Path
    table1: dict[str, Any]
    table2: dict[str, Any]
    results: dict[str, Any]


def _data_description(config: Any) -> str:
    descriptions = {
        "bundled-labels": "bundled label maps derived from real scikit-image photos (a Cityscapes stand-in, not "
                          "Cityscapes)",
        "bundled-blur": "bundled real scikit-image photos, blurred on the fly with synthetic motion blur",
        "cityscapes": f"Cityscapes ({config.root})",
        "blur": f"sharp photos from {config.root}, blurred on the fly with synthetic motion blur",
        "gopro": f"GoPro ({config.root})",
    }
    return descriptions.get(config.format, f"{config.format} data from {config.root}")


def check_data_roots(config: StudyConfig) -> None:
    """Fail before any work when a task needs a dataset folder and none is set (the seed preset)."""
    for task in TASKS:
        data = getattr(config, task).data
        fmt = data.get("format", "")
        if fmt and not str(fmt).startswith("bundled") and not data.get("root"):
            example = {"cityscapes": "/data/cityscapes", "blur": "/data/sharp-photos",
                       "gopro": "/data/GOPRO_Large"}.get(fmt, "/path/to/data")
            raise PixelwiseError(f"{task}.data.format={fmt} needs its folder: add the override "
                                 f"{task}.data.root={example}")


def _run_task(config: StudyConfig, task: str, results: dict[str, Any], out_dir: Path, device: Any,
              extractor: Any | None, save_results: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    """Train, evaluate and time every model of ``task`` and draw its qualitative grids, filling
    ``results[task]``. Returns key -> (registry name, options) for the full-size bench."""
    import time

    from pixelwise.evaluate import report

    runs_dir = out_dir / "runs"
    section: StudyTask = getattr(config, task)
    specs = config.models(task)
    run_configs = {key: build_run_config(config, task, spec, device) for key, spec in specs.items()}
    data_config = next(iter(run_configs.values())).data
    sets = build_eval_sets(task, data_config, section)
    sample = sets[0].dataset[0]["target"]
    size = [int(sample.shape[-2]), int(sample.shape[-1])]
    results["bench"]["size"] = results["bench"]["size"] or size
    task_result = results[task]
    task_result["data"] = {"format": data_config.format, "description": _data_description(data_config),
                           "eval_images": len(sets[0].dataset), "size": size,
                           "split": data_config.resolved_eval_split}
    grid_sets = [(es, *_grid_inputs(task, es, section.grid_images)) for es in sets]
    outputs: dict[str, list[list[Any]]] = {}
    fullsize_models: dict[str, tuple[str, dict[str, Any]]] = {}
    baseline = task_baseline(task, data_config)
    task_result["baseline"] = evaluate_sets(baseline, sets, device, extractor, config.eval.batch_size,
                                            config.eval.kid_subsets)
    baseline_outputs = [predict_samples(baseline, batches, es.data_config, device)
                        for es, _, _, _, batches in grid_sets]
    for key, spec in specs.items():
        run_config = run_configs[key]
        if config.progress:
            print(f"pixelwise study: training {spec.name} ({spec.preset}) on {data_config.format} "
                  f"-> {runs_dir / key}", flush=True)
        t0 = time.perf_counter()
        summary, epochs, generator = train_and_evaluate(run_config, runs_dir / key, sets, device, extractor,
                                                        config.eval)
        train_seconds = time.perf_counter() - t0
        eval_seconds = sum(e.get("eval_seconds", 0.0) for e in epochs)
        results["timing"]["training_s"] += train_seconds - eval_seconds
        results["timing"]["evaluation_s"] += eval_seconds
        t0 = time.perf_counter()
        outputs[key] = [predict_samples(generator, batches, es.data_config, device)
                        for es, _, _, _, batches in grid_sets]
        registry = getattr(generator, "registry_name", run_config.model.name)
        results["bench"].setdefault("loads", []).append(machine_load())
        bench = bench_trained(registry, generator.config, size[0], size[1], device, config.bench)
        results["timing"]["bench_s"] += time.perf_counter() - t0
        fullsize_models[key] = (run_config.model.name, dict(spec.fullsize_options))
        final = epochs[-1] if epochs else {}
        task_result["models"].append({
            "key": key, "name": spec.name, "registry": registry, "preset": spec.preset,
            "run_dir": f"runs/{key}", "params": sum(p.numel() for p in generator.parameters()),
            "epochs": epochs, "final": final, "steps": summary.step,
            "train_seconds": train_seconds, "runtime_ms": bench.get("median_ms"), "runtime_size": size,
            "runtime_error": bench.get("error"), "gflops": bench.get("gflops"),
            "fullsize_runtime_ms": None, "fullsize_params": None,
        })
        save_results()
        if config.progress:
            fid = (f"FID {final['fid']:.1f} (N={final.get('fid_n')})" if final.get("fid") is not None
                   else "FID n/a")
            print(f"pixelwise study: {spec.name}: {summary.step} steps, {summary.epoch} epochs in "
                  f"{train_seconds:.0f} s ({eval_seconds:.0f} s of it evaluating); PSNR {final.get('psnr', 0):.2f} "
                  f"dB, SSIM {final.get('ssim', 0):.3f}, {fid}", flush=True)
    first_final = task_result["models"][0]["final"] if task_result["models"] else {}
    results["fid"]["n" if task == "labels" else "n_deblur"] = first_final.get("fid_n")
    # qualitative grids: one per evaluation set (per blur strength for deblurring)
    # label task: label map | label colour (the baseline) | models | photo; deblurring: the blurred input is
    # both the first column and the baseline
    first, last = ("label map", "real photo") if task == "labels" else ("blurred input", "sharp")
    extra = [BASELINE_COLUMN] if task == "labels" else []
    column_titles = [first, *extra, *[specs[k].name for k in specs], last]
    grids = {}
    for index, (es, shown, targets, names, _) in enumerate(grid_sets):
        rows = [[shown[r], *([baseline_outputs[index][r]] if extra else []), *[outputs[k][index][r] for k in specs],
                 targets[r]] for r in range(len(shown))]
        rel = f"{report.FIGURES_DIR}/grid_{task}{f'_s{es.label}' if es.label else ''}.png"
        title = f"blur strength {es.label}" if es.label else ("label map → photo" if task == "labels" else "")
        report.save_image_grid(rows, out_dir / rel, column_titles, names, title or None)
        grids[es.label] = rel
    if task == "labels":
        task_result["grid"] = grids.get("")
    else:
        task_result["grids"] = {k: v for k, v in grids.items() if k} or {"all": grids.get("", "")}
    save_results()
    return fullsize_models


def run_study(config: StudyConfig, out_dir: str | Path, name: str = "study") -> StudyOutput:
    """Run the whole study into ``out_dir`` and write its report; see the module docstring."""
    import platform
    import time
    from datetime import datetime, timezone

    import torch

    from pixelwise.config import save_yaml
    from pixelwise.evaluate import report
    from pixelwise.fileio import atomic_write_json

    started = time.perf_counter()
    config.validate()
    check_data_roots(config)
    out_dir = Path(out_dir)
    runs_dir = out_dir / "runs"
    existing = [p for p in runs_dir.glob("*/checkpoints") if p.is_dir()] if runs_dir.exists() else []
    if existing:
        raise PixelwiseError(f"{out_dir} already holds training runs ({existing[0].parent}); choose a new --out "
                             f"folder or delete it (the study always trains from scratch)")
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = out_dir / report.FIGURES_DIR
    figures.mkdir(exist_ok=True)
    save_yaml(study_config_dict(config), out_dir / "study.yaml")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    extractor, fid_reason = load_inception(config.eval, device)
    if extractor is None and config.progress:
        print(f"pixelwise study: FID/KID unavailable ({fid_reason}); the rest of the study goes on", flush=True)
    results: dict[str, Any] = {
        "format_version": 1, "study": name, "description": config.description, "demo": config.demo,
        "device": describe_device(device), "torch": torch.__version__, "python": platform.python_version(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "elapsed_s": None,
        "fid": {"available": extractor is not None, "reason": fid_reason, "n": None, "n_deblur": None,
                "inception": extractor.source.describe() if extractor is not None else None},
        "bench": {"size": None, "runs": config.bench.runs, "warmup": config.bench.warmup,
                  "fullsize": {"status": "skipped: bench.fullsize=false"}},
        "labels": {"models": []}, "deblur": {"models": [], "strengths": list(config.deblur.strengths)},
        "timing": {"training_s": 0.0, "evaluation_s": 0.0, "bench_s": 0.0, "fullsize_bench_s": 0.0},
    }

    def save_results() -> None:
        atomic_write_json(out_dir / report.RESULTS_NAME, report.json_safe(results))

    fullsize_models: dict[str, tuple[str, dict[str, Any]]] = {}
    for task in TASKS:
        fullsize_models.update(_run_task(config, task, results, out_dir, device, extractor, save_results))

    if config.bench.fullsize:
        t0 = time.perf_counter()
        results["bench"]["load_before_fullsize"] = machine_load()
        records = bench_fullsize(fullsize_models, device, config.bench, config.progress)
        results["timing"]["fullsize_bench_s"] = time.perf_counter() - t0
        size = [config.bench.fullsize_height, config.bench.fullsize_width]
        errors = {k: r["error"] for k, r in records.items() if r.get("error")}
        results["bench"]["fullsize"] = {"status": "ok", "size": size, "runs": config.bench.fullsize_runs,
                                        "warmup": config.bench.fullsize_warmup, "errors": errors}
        for task in TASKS:
            for model in results[task]["models"]:
                record = records.get(model["key"], {})
                model["fullsize_runtime_ms"] = record.get("median_ms")
                model["fullsize_params"] = record.get("params")
                model["fullsize_gflops"] = record.get("gflops")
    results["elapsed_s"] = time.perf_counter() - started
    save_results()
    index = report.write_study_report(out_dir, results)
    return StudyOutput(out_dir, index, report.study_table1(results), report.study_table2(results), results)


def run_study_preset(preset: str | Path, out_dir: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> (
        StudyOutput):
    """Load a study preset (name or YAML path) with overrides and run it into ``out_dir``."""
    config = load_study_config(preset, overrides)
    return run_study(config, out_dir, name=Path(str(preset)).stem)


def rerender_report(out_dir: str | Path) -> StudyOutput:
    """Re-render tables, plots and index.html of a finished study from ``out_dir/results.json``."""
    import json

    from pixelwise.evaluate import report

    out_dir = Path(out_dir)
    path = out_dir / report.RESULTS_NAME
    if not path.is_file():
        raise PixelwiseError(f"{path} does not exist: run `pixelwise study PRESET --out {out_dir}` first")
    results = json.loads(path.read_text())
    index = report.write_study_report(out_dir, results)
    return StudyOutput(out_dir, index, report.study_table1(results), report.study_table2(results), results)


def format_summary(output: StudyOutput) -> str:
    """What the CLI prints at the end: both tables (markdown) and where the report is."""
    from pixelwise.evaluate.report import table_markdown

    def short(table: dict[str, Any]) -> str:  # the tables without the long column glossary
        text = table_markdown(table)
        return text.split("\nColumns:")[0].rstrip()

    elapsed = output.results.get("elapsed_s")
    lines = ["", short(output.table1), "", short(output.table2), ""]
    if elapsed:
        lines.append(f"Study finished in {elapsed / 60:.1f} min on {output.results.get('device')}.")
    lines += [f"Report: {output.index.resolve()}",
              f"Tables: {(output.out_dir / 'table1.json').resolve()} and {(output.out_dir / 'table2.json').resolve()}"
              " (markdown beside them)"]
    return "\n".join(lines)


def print_summary(output: StudyOutput) -> None:
    print(format_summary(output), flush=True)
