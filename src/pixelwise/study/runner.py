"""``pixelwise study``: the report's whole experiment, end to end.

Trains ASAP-Net and pix2pixHD on label map -> photo, DeblurGAN and DeblurGAN-ASAP on graded motion blur, with
the real training loop; evaluates PSNR/SSIM/FID/KID after every epoch with the real metrics; times inference
with the real benchmark; and writes one folder::

    OUT/index.html            the report (relative links only; open it in a browser)
    OUT/table1.{md,json}      Table 1, label map -> photo
    OUT/table2.{md,json}      Table 2, deblurring (per blur strength and overall)
    OUT/results.json          every number, per epoch (re-render with pixelwise.study.html.write_study_report(OUT))
    OUT/study.yaml            the resolved study config (rerun: pixelwise study OUT/study.yaml)
    OUT/figures/*.png         curves, runtime chart, qualitative grids
    OUT/runs/<model>/         the training runs (config.yaml, metrics.jsonl, checkpoints/, samples/)

The schema is :mod:`pixelwise.study.config`, the numbers :mod:`pixelwise.study.results`, the evaluation sets
:mod:`pixelwise.study.evalsets`; tables, plots and the page are :mod:`~pixelwise.study.tables`,
:mod:`~pixelwise.study.plots` and :mod:`~pixelwise.study.html`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelwise import rundir
from pixelwise.config import apply_overrides
from pixelwise.errors import PixelwiseError
from pixelwise.imagegrid import save_image_grid
from pixelwise.input_kind import InputKind
from pixelwise.runtime import describe_device, machine_load, resolve_device
from pixelwise.study import html
from pixelwise.study.config import (
    TASKS,
    BenchSettings,
    EvalSettings,
    StudyConfig,
    StudyModel,
    StudyTask,
    check_data_roots,
    load_study_config,
    study_config_dict,
)
from pixelwise.study.evalsets import (
    BASELINE_COLUMN,
    EvalSet,
    bench_trained,
    build_eval_sets,
    evaluate_sets,
    grid_inputs,
    load_inception,
    predict_samples,
    task_baseline,
)
from pixelwise.study.pretrained import PRETRAINED_SUFFIX, evaluate_pretrained
from pixelwise.study.results import (
    RESULTS_NAME,
    EpochRecord,
    FidInfo,
    MachineLoad,
    ModelResult,
    StudyResults,
    TaskData,
    load_results,
    save_results,
    scores_from_record,
)
from pixelwise.study.tables import study_table1, study_table2, table_markdown


def _load(sample: dict[str, Any] | None) -> MachineLoad | None:
    return MachineLoad(**sample) if sample else None


def build_run_config(config: StudyConfig, task: str, spec: StudyModel, device: Any) -> Any:
    """The model's training preset, with the task's ``data`` merged over its data section, then the study's
    ``train_overrides``, the task's (or study's) epochs and decay epochs, the study seed/device, and the model's
    own overrides (last wins)."""
    from pixelwise.train.config import load_preset_dict, run_config_from_dict

    section: StudyTask = getattr(config, task)
    data = load_preset_dict(spec.preset)
    data.setdefault("data", {})
    data["data"] = {**(data["data"] or {}), **section.data}
    study_overrides = list(config.train_overrides)
    epochs = config.task_epochs(task)
    if epochs is not None:
        decay = section.decay_epochs
        study_overrides += [f"train.epochs={epochs - decay}", f"train.decay_epochs={decay}", "train.max_steps=null"]
    study_overrides += [f"train.seed={config.seed}", f"train.device={device}", f"train.progress={config.progress}"]
    apply_overrides(data, study_overrides + list(spec.overrides))
    run_config = run_config_from_dict(data, where=f"{task}.models ({spec.preset})")
    expected = InputKind.LABELS if task == "labels" else InputKind.PHOTO
    if run_config.data.resolved_task is not expected:
        raise PixelwiseError(f"{task}: model preset {spec.preset!r} with data.format={run_config.data.format} is a "
                             f"'{run_config.data.resolved_task}' task, but the {task} task needs '{expected}' data")
    return run_config


def _finite(record: dict[str, Any]) -> dict[str, float]:
    import math

    return {k: float(v) for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}


def train_and_evaluate(run_config: Any, run_dir: Path, sets: list[EvalSet], device: Any, extractor: Any | None,
                       settings: EvalSettings) -> tuple[Any, list[EpochRecord], Any]:
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
    epochs: list[EpochRecord] = []
    holder: dict[str, Any] = {}

    def evaluate(generator: Any, epoch: float, step: int, final: bool) -> dict[str, Any]:
        t0 = time.perf_counter()
        use = extractor if (settings.fid_every_epoch or final) else None  # eval.fid_every_epoch=false: the last only
        record = evaluate_sets(generator, sets, device, use, settings.batch_size, settings.kid_subsets)
        epochs.append(scores_from_record(record, EpochRecord, epoch=epoch, step=step,
                                         eval_seconds=time.perf_counter() - t0))
        return record

    def on_epoch_end(end: Any) -> dict[str, float]:
        holder["generator"] = end.generator
        if not settings.every_epoch and end.step < total:
            return {}
        record = evaluate(end.generator, end.epoch, end.step, final=end.step >= total)
        return {f"eval/{k}": v for k, v in _finite(record).items() if k != "fid_n"}

    summary = train(run_config, run_dir, resume=None, on_epoch_end=on_epoch_end, dataset=dataset)
    generator = holder.get("generator")
    if generator is None or not epochs or epochs[-1].step != summary.step:
        # the run stopped inside an epoch (train.max_steps): evaluate the final checkpoint as well
        from pixelwise.models.io import load_generator

        generator = load_generator(run_dir, device=device)
        with torch.no_grad():
            evaluate(generator, round(summary.step / steps_per_epoch, 2), summary.step, final=True)
        epochs[-1].partial_epoch = True
    elif extractor is not None and epochs[-1].fid is None:
        # the run ended early (before the planned last step) with FID/KID kept for the last evaluation: add them
        last = epochs.pop()
        with torch.no_grad():
            evaluate(generator, last.epoch, last.step, final=True)
    return summary, epochs, generator.eval()


def bench_fullsize(models: dict[str, tuple[str, dict[str, Any]]], device: Any, settings: BenchSettings,
                   progress: bool) -> dict[str, dict[str, Any]]:
    """key -> benchmark record of the registry model at its default (paper) widths at the full-size bench size."""
    from tqdm.auto import tqdm

    from pixelwise.bench import run_benchmark

    out = {}
    size = (settings.fullsize_height, settings.fullsize_width)
    for key, (registry, options) in tqdm(models.items(), desc="bench full-size", disable=not progress,
                                         unit="model"):
        out[key] = run_benchmark([registry], [size], device=device, runs=settings.fullsize_runs,
                                 warmup=settings.fullsize_warmup,
                                 model_options={registry: options} if options else None)[0]
    return out


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


@dataclass
class StudyOutput:
    """Where the report is, and its two tables (the dicts written as table1.json / table2.json)."""

    out_dir: Path
    index: Path
    table1: dict[str, Any]
    table2: dict[str, Any]
    results: StudyResults


def _train_one(config: StudyConfig, task: str, key: str, spec: StudyModel, run_config: Any, results: StudyResults,
               out_dir: Path, sets: list[EvalSet], device: Any, extractor: Any | None,
               grid_batches: list[tuple[EvalSet, list[dict[str, Any]]]]) -> tuple[ModelResult, list[list[Any]]]:
    """Train, evaluate and time one model; returns its result row and its grid outputs (one list per set)."""
    runs_dir = out_dir / "runs"
    if config.progress:
        print(f"pixelwise study: training {spec.name} ({spec.preset}) on {run_config.data.format} "
              f"-> {runs_dir / key}", flush=True)
    t0 = time.perf_counter()
    summary, epochs, generator = train_and_evaluate(run_config, runs_dir / key, sets, device, extractor, config.eval)
    train_seconds = time.perf_counter() - t0
    eval_seconds = sum(e.eval_seconds or 0.0 for e in epochs)
    results.timing.training_s += train_seconds - eval_seconds
    results.timing.evaluation_s += eval_seconds
    t0 = time.perf_counter()
    outputs = [predict_samples(generator, batches, es.data_config, device) for es, batches in grid_batches]
    registry = getattr(generator, "registry_name", None) or run_config.model.name
    results.bench.loads.append(_load(machine_load()))
    size = results.task(task).data.size or [0, 0]
    bench = bench_trained(registry, generator.config, size[0], size[1], device, config.bench)
    results.timing.bench_s += time.perf_counter() - t0
    final = epochs[-1] if epochs else None
    model = ModelResult(key=key, name=spec.name, registry=registry, preset=spec.preset, run_dir=f"runs/{key}",
                        params=sum(p.numel() for p in generator.parameters()), epochs=epochs, final=final,
                        steps=summary.step, train_seconds=train_seconds, runtime_ms=bench.get("median_ms"),
                        runtime_size=list(size), runtime_error=bench.get("error"), gflops=bench.get("gflops"))
    if config.progress:
        fid = f"FID {final.fid:.1f} (N={final.fid_n})" if final is not None and final.fid is not None else "FID n/a"
        print(f"pixelwise study: {spec.name}: {summary.step} steps, {summary.epoch} epochs in {train_seconds:.0f} s "
              f"({eval_seconds:.0f} s of it evaluating); PSNR {(final and final.psnr) or 0:.2f} dB, SSIM "
              f"{(final and final.ssim) or 0:.3f}, {fid}", flush=True)
    return model, outputs


def _run_task(config: StudyConfig, task: str, results: StudyResults, out_dir: Path, device: Any,
              extractor: Any | None) -> dict[str, tuple[str, dict[str, Any]]]:
    """Train, evaluate and time every model of ``task`` and draw its qualitative grids, filling
    ``results.<task>``. Returns key -> (registry name, options) for the full-size bench."""
    section: StudyTask = getattr(config, task)
    specs = config.models(task)
    run_configs = {key: build_run_config(config, task, spec, device) for key, spec in specs.items()}
    data_config = next(iter(run_configs.values())).data
    sets = build_eval_sets(task, data_config, section)
    sample = sets[0].dataset[0]["target"]
    size = [int(sample.shape[-2]), int(sample.shape[-1])]
    results.bench.size = results.bench.size or size
    task_result = results.task(task)
    task_result.data = TaskData(format=data_config.format, description=_data_description(data_config),
                                eval_images=len(sets[0].dataset), size=size, split=data_config.resolved_eval_split)
    grid_sets = [(es, *grid_inputs(task, es, section.grid_images)) for es in sets]
    outputs: dict[str, list[list[Any]]] = {}
    fullsize_models: dict[str, tuple[str, dict[str, Any]]] = {}
    baseline = task_baseline(task, data_config)
    task_result.baseline = scores_from_record(evaluate_sets(baseline, sets, device, extractor, config.eval.batch_size,
                                                            config.eval.kid_subsets))
    baseline_outputs = [predict_samples(baseline, batches, es.data_config, device)
                        for es, _, _, _, batches in grid_sets]
    grid_batches = [(es, batches) for es, _, _, _, batches in grid_sets]
    for key, spec in specs.items():
        model, outputs[key] = _train_one(config, task, key, spec, run_configs[key], results, out_dir, sets, device,
                                         extractor, grid_batches)
        task_result.models.append(model)
        fullsize_models[key] = (run_configs[key].model.name, dict(spec.fullsize_options))
        save_results(results, out_dir)
    shipped = (evaluate_pretrained(config, results, sets, grid_batches, size, device, extractor)
               if section.pretrained_rows else [])
    task_result.pretrained = [row for row, _ in shipped]
    columns = [(specs[k].name, outputs[k]) for k in specs]  # (grid column title, outputs per set)
    columns += [(row.name.replace(PRETRAINED_SUFFIX, f"\n{PRETRAINED_SUFFIX.strip()}"), grid) for row, grid in shipped]
    first_final = task_result.models[0].final if task_result.models else None
    n = first_final.fid_n if first_final is not None else None
    if task == "labels":
        results.fid.n = n
    else:
        results.fid.n_deblur = n
    # qualitative grids: one per evaluation set (per blur strength for deblurring); label task: label map | label
    # colour (the baseline) | models | photo; deblurring: the blurred input is both the first column and the baseline
    first, last = ("label map", "real photo") if task == "labels" else ("blurred input", "sharp")
    extra = [BASELINE_COLUMN] if task == "labels" else []
    column_titles = [first, *extra, *[title for title, _ in columns], last]
    grids = {}
    for index, (es, shown, targets, names, _) in enumerate(grid_sets):
        rows = [[shown[r], *([baseline_outputs[index][r]] if extra else []), *[grid[index][r] for _, grid in columns],
                 targets[r]] for r in range(len(shown))]
        rel = f"{html.FIGURES_DIR}/grid_{task}{f'_s{es.label}' if es.label else ''}.png"
        title = f"blur strength {es.label}" if es.label else ("label map → photo" if task == "labels" else "")
        save_image_grid(rows, out_dir / rel, column_titles, names, title or None)
        grids[es.label] = rel
    if task == "labels":
        task_result.grid = grids.get("")
    else:
        task_result.grids = {k: v for k, v in grids.items() if k} or {"all": grids.get("", "")}
    save_results(results, out_dir)
    return fullsize_models


def _fullsize(config: StudyConfig, results: StudyResults, models: dict[str, tuple[str, dict[str, Any]]],
              device: Any) -> None:
    """Time every model's generator at its default (paper) widths and record it on the model rows."""
    t0 = time.perf_counter()
    results.bench.load_before_fullsize = _load(machine_load())
    records = bench_fullsize(models, device, config.bench, config.progress)
    results.timing.fullsize_bench_s = time.perf_counter() - t0
    full = results.bench.fullsize
    full.status, full.size = "ok", [config.bench.fullsize_height, config.bench.fullsize_width]
    full.runs, full.warmup = config.bench.fullsize_runs, config.bench.fullsize_warmup
    full.errors = {k: r["error"] for k, r in records.items() if r.get("error")}
    for model in results.all_models():
        record = records.get(model.key, {})
        model.fullsize_runtime_ms = record.get("median_ms")
        model.fullsize_params = record.get("params")
        model.fullsize_gflops = record.get("gflops")


def run_study(config: StudyConfig, out_dir: str | Path, name: str = "study") -> StudyOutput:
    """Run the whole study into ``out_dir`` and write its report; see the module docstring."""
    import platform
    from datetime import datetime, timezone

    import torch

    from pixelwise.config import save_yaml

    started = time.perf_counter()
    config.validate()
    check_data_roots(config)
    out_dir = Path(out_dir)
    runs_dir = out_dir / "runs"
    existing = [p for p in runs_dir.glob(f"*/{rundir.CHECKPOINTS}") if p.is_dir()] if runs_dir.exists() else []
    if existing:
        raise PixelwiseError(f"{out_dir} already holds training runs ({existing[0].parent}); choose a new --out "
                             f"folder or delete it (the study always trains from scratch)")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / html.FIGURES_DIR).mkdir(exist_ok=True)
    save_yaml(study_config_dict(config), out_dir / "study.yaml")
    device = resolve_device(config.device, option="device")
    torch.manual_seed(config.seed)
    extractor, fid_reason = load_inception(config.eval, device)
    if extractor is None and config.progress:
        print(f"pixelwise study: FID/KID unavailable ({fid_reason}); the rest of the study goes on", flush=True)
    results = StudyResults(study=name, description=config.description, demo=config.demo,
                           device=describe_device(device), torch=torch.__version__, python=platform.python_version(),
                           started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           fid=FidInfo(available=extractor is not None, reason=fid_reason,
                                       inception=extractor.source.describe() if extractor is not None else None))
    results.bench.runs, results.bench.warmup = config.bench.runs, config.bench.warmup
    results.deblur.strengths = list(config.deblur.strengths)
    fullsize_models: dict[str, tuple[str, dict[str, Any]]] = {}
    for task in TASKS:
        fullsize_models.update(_run_task(config, task, results, out_dir, device, extractor))
    if config.bench.fullsize:
        _fullsize(config, results, fullsize_models, device)
    results.elapsed_s = time.perf_counter() - started
    save_results(results, out_dir)
    index = html.write_study_report(out_dir, results)
    return StudyOutput(out_dir, index, study_table1(results), study_table2(results), results)


def run_study_preset(preset: str | Path, out_dir: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> (
        StudyOutput):
    """Load a study preset (name or YAML path) with overrides and run it into ``out_dir``."""
    config = load_study_config(preset, overrides)
    return run_study(config, out_dir, name=Path(str(preset)).stem)


def rerender_report(out_dir: str | Path) -> StudyOutput:
    """Re-render tables, plots and index.html of a finished study from ``out_dir/results.json``."""
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    index = html.write_study_report(out_dir, results)
    return StudyOutput(out_dir, index, study_table1(results), study_table2(results), results)


def format_summary(output: StudyOutput) -> str:
    """What the CLI prints at the end: both tables (markdown) and where the report is."""

    def short(table: dict[str, Any]) -> str:  # the tables without the long column glossary
        text = table_markdown(table)
        return text.split("\nColumns:")[0].rstrip()

    elapsed = output.results.elapsed_s
    lines = ["", short(output.table1), "", short(output.table2), ""]
    if elapsed:
        lines.append(f"Study finished in {elapsed / 60:.1f} min on {output.results.device}.")
    lines += [f"Report: {output.index.resolve()}",
              f"Tables: {(output.out_dir / 'table1.json').resolve()} and {(output.out_dir / 'table2.json').resolve()}"
              " (markdown beside them)"]
    return "\n".join(lines)


def print_summary(output: StudyOutput) -> None:
    print(format_summary(output), flush=True)


__all__ = ["RESULTS_NAME", "StudyOutput", "build_run_config", "format_summary", "print_summary", "rerender_report",
           "run_study", "run_study_preset", "train_and_evaluate"]
