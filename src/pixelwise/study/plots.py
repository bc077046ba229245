"""The study's plots (matplotlib, headless): training losses from a run's ``metrics.jsonl``, metrics against
epoch for every model, and the runtime chart."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.imagegrid import pyplot, save_figure
from pixelwise.study.results import StudyResults
from pixelwise.study.tables import size_text


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file; a torn last line (a crash mid-write) is skipped."""
    records = []
    path = Path(path)
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


# keys of a metrics.jsonl record that are bookkeeping, not losses
_NON_LOSS_KEYS = {"step", "epoch", "time", "wall_time", "elapsed", "elapsed_s", "seconds", "lr", "lr_g", "lr_d",
                  "lr_G", "lr_D", "sec_per_step", "images_per_s", "it_per_s", "samples_per_s", "batch_size", "split",
                  "kind", "event"}


def loss_series(records: Sequence[Mapping[str, Any]]) -> dict[str, tuple[list[float], list[float]]]:
    """metrics.jsonl records -> {loss name: (steps, values)}: every numeric field except bookkeeping ones
    (step, epoch, time, learning rates, throughput). Records without a step use their index."""
    series: dict[str, tuple[list[float], list[float]]] = {}
    for index, record in enumerate(records):
        step = record.get("step", index)
        if not _is_number(step):
            continue
        for key, value in record.items():
            base = key.split("/")[-1] if "/" in key else key
            if key in _NON_LOSS_KEYS or base in _NON_LOSS_KEYS or not _is_number(value):
                continue
            if key.startswith(("eval", "val", "time", "lr", "study/")):
                continue
            xs, ys = series.setdefault(key, ([], []))
            xs.append(float(step))
            ys.append(float(value))
    return series


def _smooth(values: list[float], window: int) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    if window <= 1 or data.size < 3:
        return data
    window = min(window, data.size)
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, data[0]), data])
    return np.convolve(padded, kernel, mode="valid")


def smoothing_window(points: int) -> int:
    """Moving-average window (in logged values) of the loss plots: about a tenth of the points, at least 3;
    1 (no average: raw values only) when fewer than 6 points were logged."""
    return 1 if points < 6 else max(3, points // 10)


def loss_plot_caption(records: Sequence[Mapping[str, Any]]) -> str:
    """What :func:`plot_loss_curves` draws for these records, in words (raw only, or raw + moving average)."""
    series = loss_series(records)
    if not series:
        return "no losses were logged"
    points = max(len(ys) for _, ys in series.values())
    window = smoothing_window(points)
    if window <= 1:
        return f"raw logged values ({points} per loss; too few for a moving average)"
    return f"faint: raw logged values ({points} per loss); solid: moving average over {window} of them"


def plot_loss_curves(records: Sequence[Mapping[str, Any]], path: str | Path, title: str) -> Path:
    """One panel per loss term (raw values faint, moving average solid; :func:`smoothing_window`) against the
    training step."""
    plt = pyplot()
    series = loss_series(records)
    if not series:
        fig, ax = plt.subplots(figsize=(5, 2.5))
        ax.text(0.5, 0.5, "no losses logged", ha="center", va="center")
        ax.set_axis_off()
        fig.suptitle(title)
        return save_figure(fig, Path(path))
    names = sorted(series)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        xs, ys = series[name]
        window = smoothing_window(len(ys))
        if window > 1:
            ax.plot(xs, ys, color="tab:blue", alpha=0.3, linewidth=0.8, label="raw")
            ax.plot(xs, _smooth(ys, window), color="tab:blue", linewidth=1.6, label=f"moving average ({window})")
            ax.legend(fontsize=6, loc="upper right")
        else:
            ax.plot(xs, ys, color="tab:blue", linewidth=1.2, marker="o", markersize=2, label="raw")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, Path(path))


def plot_metric_curves(per_model: Mapping[str, Sequence[Any]], metrics: Sequence[tuple[str, str]],
                       path: str | Path, title: str, baseline: tuple[str, Any] | None = None,
                       references: Sequence[tuple[str, Any]] = ()) -> Path:
    """One panel per metric (``(key, label)``), one line per model, metric against epoch.

    ``per_model`` maps a model's display name to its per-epoch records (:class:`EpochRecord`, or mappings with
    ``"epoch"`` and the metric keys);
    missing or null values are skipped (e.g. FID when Inception is unavailable). ``baseline``: (name, scores
    with ``.get(key)``, e.g. the task's do-nothing :class:`Scores`), drawn as a dashed horizontal line in every
    panel where it has a value. ``references``: (name, scores) of models without epochs (the shipped, pretrained
    deblurrers: evaluated once, not trained here), each a dotted horizontal line of its own colour."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    cols = min(4, max(1, len(metrics)))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 2.9 * rows), squeeze=False)
    epochs = [r.get("epoch") for records in per_model.values() for r in records if _is_number(r.get("epoch"))]
    for ax, (key, label) in zip(axes.flat, metrics):
        plotted = False
        for model, records in per_model.items():
            points = [(r.get("epoch"), r.get(key)) for r in records
                      if _is_number(r.get(key)) and _is_number(r.get("epoch"))]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o", markersize=3, label=model)
                plotted = True
        if plotted and baseline is not None and _is_number(level := baseline[1].get(key)):
            ax.axhline(level, color="gray", linestyle="--", linewidth=1, label=baseline[0])
        for index, (name, scores) in enumerate(references):
            if plotted and _is_number(level := scores.get(key)):
                ax.axhline(level, color=f"C{len(per_model) + index}", linestyle=":", linewidth=1.4, label=name)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if epochs:  # one epoch axis for every panel, also one whose metric has a single point (FID at the end)
            low, high = min(epochs), max(epochs)
            pad = max(0.5, 0.04 * (high - low))
            ax.set_xlim(low - pad, high + pad)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if plotted:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "not available", ha="center", va="center", transform=ax.transAxes, color="gray")
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, Path(path))


def plot_runtime_bars(groups: Mapping[str, Mapping[str, float | None]], path: str | Path, device: str,
                      title: str = "Inference runtime") -> Path:
    """Horizontal bars: ``groups`` = {setting label (e.g. 'demo widths @ 64x128'): {model: ms}}, one panel
    per setting (settings differ in scale). The device is named in the title."""
    plt = pyplot()
    groups = {k: v for k, v in groups.items() if any(_is_number(x) for x in v.values())}
    if not groups:
        groups = {"no timings": {}}
    fig, axes = plt.subplots(len(groups), 1, figsize=(7, 0.5 + 0.45 * sum(max(1, len(g)) for g in groups.values())
                                                      + 0.6 * len(groups)), squeeze=False)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for ax, (setting, timings) in zip(axes[:, 0], groups.items()):
        names = list(timings)
        values = [float(timings[n]) if _is_number(timings[n]) else 0.0 for n in names]
        ax.barh(range(len(names)), values, color=[colors[i % len(colors)] for i in range(len(names))])
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ms per image (lower is better)", fontsize=8)
        ax.set_title(setting, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        top = max(values) if values else 1.0
        for i, (name, value) in enumerate(zip(names, values)):
            text = f"{value:.1f} ms" if _is_number(timings[name]) else "n/a"
            ax.text(value + top * 0.01, i, text, va="center", fontsize=7)
        ax.set_xlim(0, top * 1.18 if top > 0 else 1.0)
    fig.suptitle(f"{title} — {device}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, Path(path))


def runtime_groups(results: StudyResults) -> dict[str, dict[str, float | None]]:
    """The runtime chart's panels: {setting: {model name: ms}} (study models at their evaluation size, the
    pretrained rows of Table 2 beside them, and the default-width generators when they were timed)."""
    label = "study models (demo widths)" if results.demo else "study models"
    groups: dict[str, dict[str, float | None]] = {}
    for task in ("labels", "deblur"):
        section = results.task(task)
        size = size_text(section.data.size or results.bench.size)
        key = f"{label}{' and shipped (pretrained)' if section.pretrained else ''} @ {size}"
        groups[key] = {**groups.pop(f"{label} @ {size}", {}), **groups.get(key, {}),
                       **{m.name: m.runtime_ms for m in section.table_models()}}
    full = results.bench.fullsize
    if full.status == "ok":
        groups[f"default (paper) widths @ {size_text(full.size)}"] = {
            m.name: m.fullsize_runtime_ms for m in results.all_models()}
    return groups


__all__ = ["loss_plot_caption", "loss_series", "plot_loss_curves", "plot_metric_curves", "plot_runtime_bars",
           "read_jsonl", "runtime_groups", "smoothing_window"]
