"""The study's schema: which models, which data, how to evaluate and time them (a preset in ``configs/study/``
plus dotted overrides such as ``labels.data.root=/data/cityscapes epochs=5``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelwise.config import CONFIG_DIR, apply_overrides, from_dict, list_presets, load_yaml, resolve_preset, to_dict
from pixelwise.errors import PixelwiseError

STUDY_DIR = CONFIG_DIR / "study"
TASKS = ("labels", "deblur")


@dataclass
class StudyModel:
    """One model of the study: a training preset (``configs/<preset>.yaml``) plus overrides."""

    name: str  # display name in the tables, e.g. "ASAP-Net"
    preset: str  # training preset name or YAML path, e.g. "asapnet-bundled-tiny"
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
    epochs: int | None = None  # this task's epochs per model (None: the study's ``epochs``)
    decay_epochs: int = 0  # the last decay_epochs of those epochs decay the learning rates linearly (toward 0)
    cache_limit: int = 256  # evaluation samples kept in memory between evaluations
    # deblur: also evaluate every deblurrer shipped with pixelwise (pixelwise/<name>, trained elsewhere) on the
    # same evaluation sets and time it at the same size: rows marked "pretrained" in Table 2 (off: none)
    pretrained_rows: bool = False


@dataclass
class EvalSettings:
    fid: bool = True  # FID and KID (need Inception weights; unavailable -> marked n/a, the study goes on)
    every_epoch: bool = True  # evaluate after every epoch (False: after the last one only)
    # FID/KID at every evaluation (False: PSNR/SSIM after every epoch, FID/KID after the last one only; on a CPU
    # the Inception features are most of an evaluation's cost)
    fid_every_epoch: bool = True
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
    """A whole study. ``epochs`` sets every model's ``train.epochs`` (``decay_epochs`` 0) unless null; a task's
    ``epochs`` / ``decay_epochs`` replace that for its models (``epochs - decay_epochs`` at the initial rates,
    then ``decay_epochs`` of linear decay)."""

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

    def task_epochs(self, task: str) -> int | None:
        """Epochs per model of ``task``: its own ``epochs``, else the study's (None: the presets' schedules)."""
        section: StudyTask = getattr(self, task)
        return section.epochs if section.epochs is not None else self.epochs

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
            if task != "deblur" and section.pretrained_rows:
                raise PixelwiseError(f"{task}.pretrained_rows: only the deblurring task has shipped models to "
                                     f"compare with; set deblur.pretrained_rows instead")
            if section.epochs is not None and section.epochs < 1:
                raise PixelwiseError(f"{task}.epochs={section.epochs} must be >= 1 (or null for the study's epochs)")
            epochs = self.task_epochs(task)
            if section.decay_epochs < 0 or (section.decay_epochs and (epochs is None or section.decay_epochs > epochs)):
                raise PixelwiseError(f"{task}.decay_epochs={section.decay_epochs} must be between 0 and the task's "
                                     f"epochs ({epochs}; set epochs or {task}.epochs)")
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


def default_out_dir(preset: str | Path) -> Path:
    """``runs/study-<preset name>``."""
    return Path("runs") / f"study-{Path(str(preset)).stem}"


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
