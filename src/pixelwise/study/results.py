"""Every number of a study, typed: :class:`StudyResults` holds two :class:`TaskResults` whose
:class:`ModelResult` rows carry their per-epoch :class:`EpochRecord` scores. ``results.json`` is
:func:`results_to_json` of it, read back with :func:`results_from_json` through the config machinery
(:func:`pixelwise.config.from_dict`), so a key the report expects and the runner does not write is an error,
never a silent "n/a".

Per-blur-strength scores are :attr:`Scores.strengths` (``{"0.25": {"psnr": .., "ssim": ..}}``); in JSON they
are flat keys ``psnr@0.25`` / ``ssim@0.25`` beside ``psnr``, as the tables have always used them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelwise.config import from_dict, to_dict
from pixelwise.errors import PixelwiseError
from pixelwise.runtime import json_safe

RESULTS_NAME = "results.json"
FORMAT_VERSION = 1
_STRENGTH_METRICS = ("psnr", "ssim")


@dataclass
class Scores:
    """One evaluation over a task's evaluation sets: overall means, FID/KID over all of them (with their N),
    and per blur strength PSNR/SSIM."""

    psnr: float | None = None
    ssim: float | None = None
    fid: float | None = None
    fid_n: int | None = None
    kid: float | None = None
    kid_std: float | None = None
    strengths: dict[str, dict[str, float]] = field(default_factory=dict)  # "0.25" -> {"psnr": .., "ssim": ..}

    def get(self, key: str) -> Any:
        """A table column's value: ``psnr``, ``fid``, ... or ``psnr@0.25`` (None when not measured)."""
        name, _, strength = key.partition("@")
        if strength:
            return self.strengths.get(strength, {}).get(name)
        return getattr(self, name, None)


@dataclass
class EpochRecord(Scores):
    """The scores after one epoch (or, ``partial_epoch``, after a run that stopped inside one)."""

    epoch: int | float = 0  # epochs completed (fractional when the run stopped inside one)
    step: int = 0
    eval_seconds: float | None = None
    partial_epoch: bool = False


@dataclass
class ModelResult:
    """One trained study model: what it is, its scores per epoch, its speed. A shipped model evaluated beside
    the trained ones (``pretrained``: not trained by the study) has no epochs, only ``final``, and names its
    ``source`` (``pixelwise/<name>``)."""

    key: str  # folder name under runs/
    name: str  # display name
    registry: str | None = None
    preset: str | None = None
    run_dir: str | None = None
    params: int | None = None
    epochs: list[EpochRecord] = field(default_factory=list)
    final: EpochRecord | None = None
    steps: int | None = None
    train_seconds: float | None = None
    runtime_ms: float | None = None
    runtime_size: list[int] | None = None
    runtime_error: str | None = None
    gflops: float | None = None
    fullsize_runtime_ms: float | None = None
    fullsize_params: int | None = None
    fullsize_gflops: float | None = None
    pretrained: bool = False
    source: str | None = None  # pretrained: where the model was loaded from, e.g. "pixelwise/deblurgan-asap-small"


@dataclass
class TaskData:
    """What a task was evaluated on."""

    format: str = ""
    description: str = ""
    eval_images: int | None = None
    size: list[int] | None = None
    split: str | None = None


@dataclass
class TaskResults:
    """One task (``labels`` or ``deblur``): its models, the do-nothing baseline, its data and its grids."""

    models: list[ModelResult] = field(default_factory=list)  # the models the study trained
    pretrained: list[ModelResult] = field(default_factory=list)  # deblur: shipped models, evaluated only
    data: TaskData = field(default_factory=TaskData)
    baseline: Scores | None = None  # deblur: the blurred input scored as the output
    strengths: list[float] = field(default_factory=list)  # deblur: evaluation blur strengths
    grid: str | None = None  # labels: the qualitative grid (relative path)
    grids: dict[str, str] = field(default_factory=dict)  # deblur: strength label -> grid

    def model_names(self) -> list[str]:
        return [m.name for m in self.models]

    def table_models(self) -> list[ModelResult]:
        """The rows of the task's table after its baseline: the trained models, then the pretrained ones."""
        return [*self.models, *self.pretrained]


@dataclass
class FidInfo:
    available: bool = False
    reason: str | None = None
    n: int | None = None  # images per side in Table 1
    n_deblur: int | None = None  # images per side in Table 2
    inception: str | None = None


@dataclass
class MachineLoad:
    """The machine's load when a timing was taken (:func:`pixelwise.runtime.machine_load`)."""

    load1: float
    cpus: int | None = None
    torch_threads: int | None = None


@dataclass
class FullsizeBench:
    status: str = "skipped: bench.fullsize=false"
    size: list[int] | None = None
    runs: int | None = None
    warmup: int | None = None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class BenchInfo:
    size: list[int] | None = None  # the evaluation size the study models are timed at
    runs: int | None = None
    warmup: int | None = None
    fullsize: FullsizeBench = field(default_factory=FullsizeBench)
    loads: list[MachineLoad | None] = field(default_factory=list)
    load_before_fullsize: MachineLoad | None = None


@dataclass
class Timing:
    training_s: float = 0.0
    evaluation_s: float = 0.0
    bench_s: float = 0.0
    fullsize_bench_s: float = 0.0


@dataclass
class StudyResults:
    format_version: int = FORMAT_VERSION
    study: str = "study"
    description: str = ""
    demo: bool = False
    device: str = ""
    torch: str = ""
    python: str = ""
    started: str = ""
    elapsed_s: float | None = None
    fid: FidInfo = field(default_factory=FidInfo)
    bench: BenchInfo = field(default_factory=BenchInfo)
    labels: TaskResults = field(default_factory=TaskResults)
    deblur: TaskResults = field(default_factory=TaskResults)
    timing: Timing = field(default_factory=Timing)

    def task(self, name: str) -> TaskResults:
        if name not in ("labels", "deblur"):
            raise KeyError(name)
        return self.labels if name == "labels" else self.deblur

    def all_models(self) -> list[ModelResult]:
        return [*self.labels.models, *self.deblur.models]


# --- JSON ----------------------------------------------------------------------------------------------------
def _flatten_scores(data: Any) -> Any:
    """to_dict output -> JSON layout: every mapping with a ``strengths`` dict of score dicts gets flat
    ``metric@strength`` keys instead (recursively)."""
    if isinstance(data, list):
        return [_flatten_scores(v) for v in data]
    if not isinstance(data, dict):
        return data
    out = {k: _flatten_scores(v) for k, v in data.items() if k != "strengths" or not _is_score_map(v)}
    if _is_score_map(data.get("strengths")):
        flat = {f"{metric}@{s}": value for s, values in data["strengths"].items() for metric, value in values.items()}
        out = {**flat, **out}
    return out


def _is_score_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()) and bool(value)


def _unflatten_scores(data: Any) -> Any:
    """The inverse of :func:`_flatten_scores`: ``metric@strength`` keys back into ``strengths``."""
    if isinstance(data, list):
        return [_unflatten_scores(v) for v in data]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    strengths: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        metric, at, strength = key.partition("@")
        if at and metric in _STRENGTH_METRICS:
            strengths.setdefault(strength, {})[metric] = value
        else:
            out[key] = _unflatten_scores(value)
    if strengths:
        out["strengths"] = strengths
    return out


def results_to_json(results: StudyResults) -> dict[str, Any]:
    """The strict-JSON dict written as ``results.json``."""
    return json_safe(_flatten_scores(to_dict(results)))


def results_from_json(data: dict[str, Any], where: str = RESULTS_NAME) -> StudyResults:
    """A ``results.json`` dict -> :class:`StudyResults` (unknown or mistyped keys are an error naming them)."""
    data = _unflatten_scores(data)
    for task in ("labels", "deblur"):
        section = data.get(task) or {}
        for model in [*section.get("models", []), *section.get("pretrained", [])]:
            if model.get("final") == {}:
                model["final"] = None
    return from_dict(StudyResults, data, where=where)


def save_results(results: StudyResults, out_dir: str | Path) -> Path:
    from pixelwise.fileio import atomic_write_json

    path = Path(out_dir) / RESULTS_NAME
    atomic_write_json(path, results_to_json(results))
    return path


def load_results(out_dir: str | Path) -> StudyResults:
    """``out_dir/results.json`` -> :class:`StudyResults`."""
    path = Path(out_dir) / RESULTS_NAME
    if not path.is_file():
        raise PixelwiseError(f"{path} does not exist: run `pixelwise study PRESET --out {Path(out_dir)}` first")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PixelwiseError(f"{path} is not valid JSON: {exc}") from exc
    return results_from_json(data, where=str(path))


def scores_from_record(record: dict[str, Any], cls: type[Scores] = Scores, **extra: Any) -> Any:
    """An evaluation record with flat ``psnr@S`` keys (as :func:`pixelwise.study.evalsets.evaluate_sets` returns
    it) -> a :class:`Scores` (or :class:`EpochRecord` with ``extra`` fields)."""
    return from_dict(cls, {**_unflatten_scores(dict(record)), **extra}, where="evaluation record")


__all__ = ["RESULTS_NAME", "BenchInfo", "EpochRecord", "FidInfo", "FullsizeBench", "MachineLoad", "ModelResult",
           "Scores", "StudyResults", "TaskData", "TaskResults", "Timing", "load_results", "results_from_json",
           "results_to_json", "save_results", "scores_from_record"]
