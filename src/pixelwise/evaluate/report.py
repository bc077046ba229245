"""The study report: tables (markdown + JSON), plots (PNG) and ``index.html`` that shows them all.

Everything here takes plain data (dicts, lists, numpy arrays) and writes files; nothing trains or evaluates.
:mod:`pixelwise.evaluate.study` gathers the numbers and calls these functions.

A *table* is a JSON-able dict::

    {"name": "table1", "title": ..., "columns": [{"key", "label", "description"}, ...],
     "rows": [{key: value, ...}, ...], "notes": [str, ...]}

``rows`` hold raw numbers (``None`` = not measured / not available); the markdown and HTML renderings
format them (FID is always shown with its sample count N, KID as mean ± std x 10^3).
"""

from __future__ import annotations

import html
import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.errors import PixelwiseError
from pixelwise.fileio import atomic_write, atomic_write_json, atomic_write_text

# ----------------------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------------------

Column = dict[str, str]


def column(key: str, label: str, description: str) -> Column:
    """One documented table column."""
    return {"key": key, "label": label, "description": description}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def format_params(value: Any) -> str:
    """1234567 -> '1.23M'."""
    if not _is_number(value):
        return "—"
    value = float(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.2f}{suffix}"
    return f"{int(value)}"


BELOW_BASELINE_MARK = "▼"  # after a value that is worse than the table's baseline row (``row["below_baseline"]``)


def is_below_baseline(key: str, row: Mapping[str, Any]) -> bool:
    """True where ``row[key]`` is worse than the table's baseline row (listed in ``row["below_baseline"]``)."""
    return key in (row.get("below_baseline") or ())


def format_cell(key: str, row: Mapping[str, Any]) -> str:
    """The human rendering of ``row[key]`` (the same in markdown and HTML), marked with
    :data:`BELOW_BASELINE_MARK` where the value is worse than the table's baseline."""
    text = _format_value(key, row)
    return f"{text} {BELOW_BASELINE_MARK}" if is_below_baseline(key, row) else text


def _format_value(key: str, row: Mapping[str, Any]) -> str:
    value = row.get(key)
    if key in ("fid",) or key.startswith("fid@"):
        n_key = "fid_n" if key == "fid" else key.replace("fid@", "fid_n@")
        n = row.get(n_key)
        if not _is_number(value):
            return "n/a" if row.get("fid_status", "ok") != "ok" else "—"
        return f"{value:.1f} (N={n})" if n is not None else f"{value:.1f}"
    if key == "kid" or key.startswith("kid@"):
        if not _is_number(value):
            return "n/a" if row.get("fid_status", "ok") != "ok" else "—"
        std = row.get("kid_std" if key == "kid" else key.replace("kid@", "kid_std@"))
        text = f"{value * 1e3:.1f}"
        return f"{text} ± {std * 1e3:.1f}" if _is_number(std) and round(std * 1e3, 1) > 0 else text
    if key.startswith("params") or key.endswith("_params"):
        return format_params(value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if key.startswith("ssim"):
            return f"{value:.3f}"
        if key.startswith("psnr"):
            return f"{value:.2f}"
        if "ms" in key:
            return f"{value:.1f}" if value >= 10 else f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_markdown(table: Mapping[str, Any]) -> str:
    """A table dict -> GitHub markdown: title, the table, its notes and the column glossary."""
    columns = table["columns"]
    lines = [f"### {table['title']}", ""]
    lines.append("| " + " | ".join(_md_escape(c["label"]) for c in columns) + " |")
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|")
    for row in table["rows"]:
        lines.append("| " + " | ".join(_md_escape(format_cell(c["key"], row)) for c in columns) + " |")
    notes = list(table.get("notes", []))
    if notes:
        lines.append("")
        lines += [f"- {note}" for note in notes]
    lines += ["", "Columns:", ""]
    lines += [f"- **{_md_escape(c['label'])}**: {_md_escape(c['description'])}." for c in columns]
    return "\n".join(lines) + "\n"


_WORSE_CLASS = ' class="worse"'


def table_html(table: Mapping[str, Any]) -> str:
    """A table dict -> an HTML ``<table>`` with a caption, notes and column descriptions as tooltips."""
    columns = table["columns"]
    parts = ['<div class="table-scroll">', f'<table class="results" id="{html.escape(table.get("name", "table"))}">',
             f"<caption>{html.escape(table['title'])}</caption>", "<thead><tr>"]
    for c in columns:
        parts.append(f'<th title="{html.escape(c["description"])}">{html.escape(c["label"])}</th>')
    parts.append("</tr></thead><tbody>")
    for row in table["rows"]:
        cells = "".join(f"<td{_WORSE_CLASS if is_below_baseline(c['key'], row) else ''}>"
                        f"{html.escape(format_cell(c['key'], row))}</td>" for c in columns)
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table></div>")
    notes = list(table.get("notes", []))
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    glossary = "".join(f"<dt>{html.escape(c['label'])}</dt><dd>{html.escape(c['description'])}</dd>"
                       for c in columns)
    parts.append(f'<details><summary>Columns</summary><dl class="glossary">{glossary}</dl></details>')
    return "\n".join(parts)


def json_safe(value: Any) -> Any:
    """NaN/inf -> None and numpy scalars -> Python numbers, recursively (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_table(table: Mapping[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<name>.json`` (the table dict, NaN -> null) and ``<name>.md``; return both paths."""
    out_dir = Path(out_dir)
    name = table["name"]
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    atomic_write_json(json_path, json_safe(dict(table)))
    atomic_write_text(md_path, table_markdown(table))
    return json_path, md_path


# ----------------------------------------------------------------------------------------------------------
# Plots (matplotlib, Agg backend)
# ----------------------------------------------------------------------------------------------------------

def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig: Any, path: Path) -> Path:
    plt = _pyplot()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    finally:
        plt.close(fig)
    return path


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
    plt = _pyplot()
    series = loss_series(records)
    if not series:
        fig, ax = plt.subplots(figsize=(5, 2.5))
        ax.text(0.5, 0.5, "no losses logged", ha="center", va="center")
        ax.set_axis_off()
        fig.suptitle(title)
        return _save_figure(fig, Path(path))
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
    return _save_figure(fig, Path(path))


def plot_metric_curves(per_model: Mapping[str, Sequence[Mapping[str, Any]]], metrics: Sequence[tuple[str, str]],
                       path: str | Path, title: str) -> Path:
    """One panel per metric (``(key, label)``), one line per model, metric against epoch.

    ``per_model`` maps a model's display name to its per-epoch records ``{"epoch": e, key: value, ...}``;
    missing or null values are skipped (e.g. FID when Inception is unavailable)."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    cols = min(4, max(1, len(metrics)))
    rows = math.ceil(len(metrics) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 2.9 * rows), squeeze=False)
    for ax, (key, label) in zip(axes.flat, metrics):
        plotted = False
        for model, records in per_model.items():
            points = [(r["epoch"], r[key]) for r in records if _is_number(r.get(key)) and _is_number(r.get("epoch"))]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o", markersize=3, label=model)
                plotted = True
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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
    return _save_figure(fig, Path(path))


def plot_runtime_bars(groups: Mapping[str, Mapping[str, float | None]], path: str | Path, device: str,
                      title: str = "Inference runtime") -> Path:
    """Horizontal bars: ``groups`` = {setting label (e.g. 'demo widths @ 64x128'): {model: ms}}, one panel
    per setting (settings differ in scale). The device is named in the title."""
    plt = _pyplot()
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
    return _save_figure(fig, Path(path))


def to_uint8_image(image: Any) -> np.ndarray:
    """A (3, H, W) / (1, H, W) / (H, W) / (H, W, 3) tensor or array in [-1, 1] (floats) or uint8 ->
    (H, W, 3) uint8."""
    if hasattr(image, "detach"):
        image = image.detach().to("cpu").float().numpy()
    array = np.asarray(image)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.transpose(array, (1, 2, 0))
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.dtype != np.uint8:
        import torch

        from pixelwise.data.transforms import quantize_photo

        array = quantize_photo(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))).numpy()
    return array


def save_image_grid(rows: Sequence[Sequence[Any]], path: str | Path, column_titles: Sequence[str],
                    row_labels: Sequence[str] | None = None, title: str | None = None) -> Path:
    """A grid of images with column titles (and optional row labels); images as in :func:`to_uint8_image`."""
    if not rows:
        raise PixelwiseError("save_image_grid: no rows to draw")
    plt = _pyplot()
    images = [[to_uint8_image(im) for im in row] for row in rows]
    n_rows, n_cols = len(images), max(len(r) for r in images)
    h, w = images[0][0].shape[:2]
    cell_w = 2.0 if w >= h else 2.0 * w / h
    cell_h = cell_w * h / w
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * cell_w + 0.4, n_rows * cell_h + 0.7),
                             squeeze=False)
    for r, row in enumerate(images):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(row):
                ax.imshow(row[c], interpolation="nearest")
            if r == 0 and c < len(column_titles):
                ax.set_title(column_titles[c], fontsize=9)
            if c == 0 and row_labels is not None and r < len(row_labels):
                ax.set_ylabel(row_labels[r], fontsize=6)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save_figure(fig, Path(path))


# ----------------------------------------------------------------------------------------------------------
# index.html
# ----------------------------------------------------------------------------------------------------------

@dataclass
class Figure:
    """One image of the report: a path relative to the report folder and a caption."""

    src: str
    caption: str = ""


@dataclass
class Section:
    """A report section: heading, paragraphs, an optional table dict and figures, in that order."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    table: dict[str, Any] | None = None
    figures: list[Figure] = field(default_factory=list)
    anchor: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (relative href, text), shown as a list


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1360px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.banner { background: #fff7e0; border: 1px solid #f0c36d; padding: 0.6em 1em; border-radius: 6px; }
table.results { border-collapse: collapse; margin: 1em 0; font-size: 0.84em; }
table.results caption { text-align: left; font-weight: 600; margin-bottom: 0.4em; }
table.results th, table.results td { border: 1px solid #ccc; padding: 0.25em 0.4em; text-align: right; }
table.results td { white-space: nowrap; } table.results td:first-child { white-space: normal; min-width: 7em; }
table.results td.worse { background: #fde0dc; color: #8a1c12; font-weight: 600; }
.table-scroll { overflow-x: auto; max-width: 100%; }
table.results th:first-child, table.results td:first-child { text-align: left; }
table.results th { background: #f3f3f3; cursor: help; }
figure { display: inline-block; margin: 0.6em 1em 0.6em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; max-width: 60em; }
nav a { margin-right: 1em; } code { background: #f3f3f3; padding: 0 0.2em; }
dl.glossary dt { font-weight: 600; } dl.glossary dd { margin: 0 0 0.4em 1.5em; font-size: 0.9em; }
"""


def render_index_html(title: str, sections: Sequence[Section], banner: Sequence[str] = (),
                      footer: str = "") -> str:
    """The report page: a title, a banner (caveats), a section index, the sections, a footer. Text is
    escaped; image links are used exactly as given (relative to the report folder)."""
    anchors = [s.anchor or f"s{i}" for i, s in enumerate(sections)]
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
             f"<h1>{html.escape(title)}</h1>"]
    if banner:
        parts.append('<div class="banner">' + "".join(f"<p>{html.escape(b)}</p>" for b in banner) + "</div>")
    parts.append("<nav>" + "".join(f'<a href="#{a}">{html.escape(s.title)}</a>'
                                   for a, s in zip(anchors, sections)) + "</nav>")
    for anchor, section in zip(anchors, sections):
        parts.append(f'<section id="{html.escape(anchor)}"><h2>{html.escape(section.title)}</h2>')
        parts += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
        if section.links:
            parts.append("<ul>" + "".join(f'<li><a href="{html.escape(href, quote=True)}">{html.escape(text)}</a></li>'
                                          for href, text in section.links) + "</ul>")
        if section.table is not None:
            parts.append(table_html(section.table))
        for figure in section.figures:
            parts.append(f'<figure><img src="{html.escape(figure.src, quote=True)}" '
                         f'alt="{html.escape(figure.caption or figure.src, quote=True)}">'
                         f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>")
        parts.append("</section>")
    if footer:
        parts.append(f"<footer><p><small>{html.escape(footer)}</small></p></footer>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def write_index_html(out_dir: str | Path, title: str, sections: Sequence[Section], banner: Sequence[str] = (),
                     footer: str = "") -> Path:
    """Write ``out_dir/index.html`` and check that every image it links exists (PixelwiseError if not)."""
    path = Path(out_dir) / "index.html"
    atomic_write_text(path, render_index_html(title, sections, banner, footer))
    missing = missing_links(path)
    if missing:
        raise PixelwiseError(f"{path} links files that do not exist: {missing}")
    return path


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img" and values.get("src"):
            self.images.append(values["src"] or "")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")


def html_links(html_path: str | Path) -> tuple[list[str], list[str]]:
    """(image sources, link targets) of an HTML file, in document order."""
    collector = _LinkCollector()
    collector.feed(Path(html_path).read_text(encoding="utf-8"))
    return collector.images, collector.links


def missing_links(html_path: str | Path) -> list[str]:
    """Relative ``<img src>`` and ``<a href>`` targets of ``html_path`` that are absent or empty on disk
    (in-page anchors and absolute URLs are skipped; absolute links to anything are reported)."""
    html_path = Path(html_path)
    images, links = html_links(html_path)
    missing = []
    for target in images + links:
        if target.startswith("#") or "://" in target or target.startswith(("mailto:", "data:")):
            continue
        if target.startswith("/"):
            missing.append(target)  # a report must be movable: no absolute paths
            continue
        file = (html_path.parent / target.split("#")[0]).resolve()
        if not file.is_file() or file.stat().st_size == 0:
            missing.append(target)
    return missing


# ----------------------------------------------------------------------------------------------------------
# Real-browser check (headless Chromium)
# ----------------------------------------------------------------------------------------------------------

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--allow-file-access-from-files")

_CHECK_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); })
                   .map(function (im) { return im.getAttribute("src"); });
  var out = document.createElement("pre");
  out.id = "pixelwise-image-check";
  var clipped = Array.prototype.slice.call(document.querySelectorAll(".table-scroll"))
                     .filter(function (d) { return d.scrollWidth > d.clientWidth + 1; })
                     .map(function (d) { var t = d.querySelector("table"); return t ? t.id : "?"; });
  out.textContent = JSON.stringify({total: imgs.length, broken: broken,
                                    tables: document.querySelectorAll("table").length, clipped: clipped});
  document.body.appendChild(out);
});
</script>
"""


@dataclass
class BrowserCheck:
    """What headless Chromium saw: image counts, broken image sources, tables, the screenshot, and the ids of
    tables wider than their box at the window width (shown only behind a horizontal scroll bar)."""

    total_images: int
    broken_images: list[str]
    tables: int
    screenshot: Path | None
    screenshot_bytes: int
    clipped_tables: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken_images and self.total_images > 0 and self.screenshot_bytes > 0


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_chromium(chromium: str, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="pixelwise-chromium-") as profile:
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PixelwiseError(f"chromium did not finish within {timeout:.0f}s: {' '.join(command)}") from exc


def check_in_browser(html_path: str | Path, screenshot: str | Path | None = None, chromium: str | None = None,
                     window_size: tuple[int, int] = (1280, 2400), timeout: float = 120.0) -> BrowserCheck:
    """Open ``html_path`` in headless Chromium: (1) a copy of the page with a small script appended (in the
    same folder so relative links resolve, deleted afterwards) reports, after the load event, every
    ``<img>`` that is not ``complete`` with a positive ``naturalWidth`` and every table that does not fit its
    box at ``window_size``; the DOM is dumped and read back;
    (2) a screenshot of the unmodified page is taken (default: ``<report>/.browser-check.png``)."""
    html_path = Path(html_path).resolve()
    chromium = chromium or find_chromium()
    if chromium is None:
        raise PixelwiseError("no Chromium found (install Debian's `chromium` package) for the browser check")
    text = html_path.read_text(encoding="utf-8")
    probe_text = text.replace("</body>", _CHECK_SCRIPT + "</body>") if "</body>" in text else text + _CHECK_SCRIPT
    probe = html_path.parent / f".{html_path.stem}.browser-check.html"
    probe.write_text(probe_text, encoding="utf-8")
    width, height = window_size
    try:
        result = _run_chromium(chromium, [f"--window-size={width},{height}", "--virtual-time-budget=15000",
                                          "--dump-dom", probe.as_uri()], timeout)
    finally:
        probe.unlink(missing_ok=True)
    marker = '<pre id="pixelwise-image-check">'
    start = result.stdout.find(marker)
    if start < 0:
        raise PixelwiseError(
            f"chromium did not run the image check on {html_path} (exit {result.returncode}): "
            f"{result.stderr.strip()[-800:]}"
        )
    end = result.stdout.find("</pre>", start)
    report = json.loads(html.unescape(result.stdout[start + len(marker):end]))
    shot = Path(screenshot) if screenshot else html_path.parent / ".browser-check.png"
    shot = shot.resolve()
    shot.unlink(missing_ok=True)
    _run_chromium(chromium, [f"--screenshot={shot}", f"--window-size={width},{height}",
                             "--virtual-time-budget=15000", html_path.as_uri()], timeout)
    size = shot.stat().st_size if shot.exists() else 0
    return BrowserCheck(total_images=int(report["total"]), broken_images=list(report["broken"]),
                        tables=int(report["tables"]), screenshot=shot if size else None, screenshot_bytes=size,
                        clipped_tables=list(report.get("clipped", [])))


def screenshot_is_blank(path: str | Path) -> bool:
    """True if the PNG at ``path`` is a single flat colour (a page that rendered nothing)."""
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("L"))
    return bool(array.size == 0 or array.max() == array.min())


# ----------------------------------------------------------------------------------------------------------
# The study report: results.json -> table1/table2 (md + json), curves, runtime chart, index.html
# ----------------------------------------------------------------------------------------------------------

RESULTS_NAME = "results.json"
FIGURES_DIR = "figures"


def _fid_description(n: int | None) -> str:
    return (f"Fréchet Inception Distance between the generated and the real evaluation images, lower is better; "
            f"N = images on each side{f' (here {n})' if n else ''}. FID is strongly biased at small N: compare "
            f"models only within one table, never with published numbers computed at N in the thousands")


def _kid_description() -> str:
    return ("Kernel Inception Distance (unbiased MMD on Inception features), mean ± std over random subsets "
            "(no ± when the subsets are the whole set, N <= 1000), x 10^3, lower is better; less biased than FID at "
            "small N")


def _runtime_columns(results: Mapping[str, Any], task: str) -> list[Column]:
    bench = results.get("bench", {})
    device = results.get("device", "this device")
    size = results[task].get("data", {}).get("size") or bench.get("size")
    size_text = f"{size[0]}x{size[1]}" if size else "the evaluation size"
    columns = [column("runtime_ms", f"Runtime (ms) @{size_text}",
                      f"median milliseconds per image of the trained study model at {size_text}, batch 1, "
                      f"on {device}"),
               column("params", "Params", "generator parameters of the trained study model")]
    full = bench.get("fullsize") or {}
    if full.get("status") == "ok":
        fsize = full["size"]
        columns += [column("fullsize_runtime_ms", f"Full-size runtime (ms) @{fsize[0]}x{fsize[1]}",
                           f"median milliseconds per image of the generator at its default (paper) widths, "
                           f"{fsize[0]}x{fsize[1]}, batch 1, on {device}; random weights (speed does not depend "
                           f"on the weights)"),
                    column("fullsize_params", "Full-size params", "generator parameters at the default widths")]
    return columns


def _fid_status(results: Mapping[str, Any]) -> tuple[bool, str]:
    fid = results.get("fid", {})
    return bool(fid.get("available")), str(fid.get("reason") or "")


def _common_notes(results: Mapping[str, Any], n: int | None = None) -> list[str]:
    notes = []
    available, reason = _fid_status(results)
    n = n if n is not None else results.get("fid", {}).get("n")
    if not available:
        notes.append(f"FID/KID unavailable: {reason}. The other columns are unaffected.")
    elif n is not None and n < 2000:
        notes.append(f"FID/KID are computed from only N={n} images per side: at this N, FID is dominated by its "
                     f"small-sample bias and is not comparable with published values (which use thousands of "
                     f"images). It is reported because the study's protocol asks for it; read KID and the "
                     f"images instead.")
    if results.get("demo"):
        notes.append("Demo run: tiny models trained for minutes on bundled photos. The numbers show that the "
                     "pipeline works end to end and what these tiny models reach at this budget, not the models' "
                     "quality at full size.")
    return notes


def mark_below_baseline(rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    """Set ``row["below_baseline"]`` on every row after the first (the baseline): the ``keys`` (PSNR columns,
    higher is better) where the row's value is lower than the baseline's. Rows without a baseline value to
    compare get an empty list."""
    if not rows:
        return
    baseline = rows[0]
    for row in rows[1:]:
        row["below_baseline"] = [k for k in keys if _is_number(row.get(k)) and _is_number(baseline.get(k))
                                 and float(row[k]) < float(baseline[k])]


def baseline_sentences(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column],
                       consequence: str) -> list[str]:
    """One plain sentence per model row that is worse than the baseline row (rows[0]) on PSNR, naming the
    columns and the values; ``consequence`` says what that means for the task."""
    if not rows:
        return []
    baseline = rows[0]
    labels = {c["key"]: c["label"] for c in columns}
    out = []
    for row in rows[1:]:
        worse = list(row.get("below_baseline") or ())
        if not worse:
            continue
        key = "psnr" if "psnr" in worse else worse[0]
        values = f"{float(row[key]):.2f} vs {float(baseline[key]):.2f} dB"
        if len(worse) == 1:
            where = f"{labels.get(key, key)}: {values}"
        else:
            every = len(worse) == sum(1 for k in labels if k.startswith("psnr"))
            where = (f"{'every PSNR column' if every else ', '.join(labels.get(k, k) for k in worse)}; "
                     f"{labels.get(key, key)} {values}")
        out.append(f"{row['model']} is worse than the baseline ({baseline['model']}) on PSNR ({where}; marked "
                   f"{BELOW_BASELINE_MARK}): {consequence}")
    return out


def study_table1(results: Mapping[str, Any]) -> dict[str, Any]:
    """Table 1, label map -> photo: one row per model. Row fields (JSON): model, key, registry, fid, fid_n,
    fid_status, kid, kid_std, psnr, ssim, runtime_ms, runtime_size, params, fullsize_runtime_ms,
    fullsize_params, epochs, steps, train_seconds."""
    task = results["labels"]
    n = results.get("fid", {}).get("n")
    columns = [column("model", "Model", "generator trained by the study on the label-map task, or the label-colour "
                      "baseline: every label id painted with its mean colour over the training images (no model)"),
               column("fid", "FID (N)", _fid_description(n)),
               column("kid", "KID ×10³", _kid_description()),
               column("psnr", "PSNR (dB)", "peak signal-to-noise ratio against the real photo of each label map, "
                      "in dB, higher is better. Reference only: many photos fit one label map, so this measures "
                      "closeness to the one real photo, not realism"),
               column("ssim", "SSIM", "structural similarity against the real photo (same caveat as PSNR)"),
               *_runtime_columns(results, "labels")]
    rows = [_model_row(m, results) for m in task["models"]]
    if task.get("baseline"):  # results.json of studies before the baseline existed have none
        rows.insert(0, _baseline_row(results, task["baseline"], LABEL_BASELINE_NAME, "label-colour"))
        mark_below_baseline(rows, ["psnr"])
    data = task.get("data", {})
    notes = [f"Evaluation data: {data.get('description', data.get('format', '?'))}; "
             f"{data.get('eval_images', '?')} images at {_size_text(data.get('size'))}."]
    if task.get("baseline"):
        notes.append("Baseline row (label colour): every label id painted with its mean colour over the training "
                     "images; same evaluation images and metrics as the models.")
        notes += baseline_sentences(rows, columns, "at this budget it reproduces the real photo less closely "
                                                   "than painting each label with its mean colour.")
    notes += _common_notes(results)
    notes += [note for note in [busy_timing_note(results)] if note]
    return {"name": "table1", "title": "Table 1: label map → photo", "task": "labels", "study": results.get("study"),
            "device": results.get("device"), "columns": columns, "rows": rows, "notes": notes}


LABEL_BASELINE_NAME = "Label colour (no model)"
DEBLUR_BASELINE_NAME = "Blurred input (no model)"


def _baseline_row(results: Mapping[str, Any], scores: Mapping[str, Any], name: str, key: str) -> dict[str, Any]:
    available, reason = _fid_status(results)
    return {"model": name, "key": key, "registry": None, **scores,
            "fid_status": "ok" if available else f"unavailable: {reason}", "runtime_ms": None, "params": None,
            "fullsize_runtime_ms": None, "fullsize_params": None}


def _size_text(size: Any) -> str:
    return f"{size[0]}x{size[1]}" if size else "?"


def _model_row(model: Mapping[str, Any], results: Mapping[str, Any]) -> dict[str, Any]:
    available, reason = _fid_status(results)
    final = dict(model.get("final") or {})
    row: dict[str, Any] = {"model": model["name"], "key": model.get("key"), "registry": model.get("registry")}
    row.update(final)
    row.pop("epoch", None)
    row["fid_status"] = "ok" if available else f"unavailable: {reason}"
    for key in ("runtime_ms", "runtime_size", "params", "fullsize_runtime_ms", "fullsize_params"):
        row[key] = model.get(key)
    row["epochs"] = final.get("epoch", len(model.get("epochs", [])))
    row["steps"] = model.get("steps")
    row["train_seconds"] = model.get("train_seconds")
    return row


def _strength_key(strength: float) -> str:
    return f"{float(strength):g}"


def study_table2(results: Mapping[str, Any]) -> dict[str, Any]:
    """Table 2, deblurring: the blurred input (no model) as a baseline row, then one row per model. Row
    fields (JSON): model, key, registry, ``psnr@S`` and ``ssim@S`` for every blur strength S, psnr and ssim
    (overall = mean over all strengths' images), fid, fid_n, fid_status, kid, kid_std (overall), runtime_ms,
    runtime_size, params, fullsize_runtime_ms, fullsize_params, epochs, steps, train_seconds."""
    task = results["deblur"]
    strengths = [_strength_key(s) for s in task["strengths"]]
    n = results.get("fid", {}).get("n_deblur", results.get("fid", {}).get("n"))
    columns = [column("model", "Model", "generator trained by the study on graded motion blur, or the blurred "
                      "input itself as the do-nothing baseline")]
    for s in strengths:
        columns.append(column(f"psnr@{s}", f"PSNR s={s}", f"PSNR (dB) against the sharp photo at blur strength "
                              f"{s} (0 = none, 1 = heaviest), higher is better"))
        columns.append(column(f"ssim@{s}", f"SSIM s={s}", f"SSIM against the sharp photo at blur strength {s}"))
    columns += [column("psnr", "PSNR all", "PSNR (dB) over the images of every strength (mean)"),
                column("ssim", "SSIM all", "SSIM over the images of every strength (mean)"),
                column("fid", "FID (N)", _fid_description(n) + "; restored images of every strength vs sharp"),
                column("kid", "KID ×10³", _kid_description()),
                *_runtime_columns(results, "deblur")]
    baseline = _baseline_row(results, task.get("baseline", {}), DEBLUR_BASELINE_NAME, "input")
    rows = [baseline] + [_model_row(m, results) for m in task["models"]]
    mark_below_baseline(rows, [f"psnr@{s}" for s in strengths] + ["psnr"])
    data = task.get("data", {})
    notes = [f"Evaluation data: {data.get('description', data.get('format', '?'))}; "
             f"{data.get('eval_images', '?')} sharp images at {_size_text(data.get('size'))}, each blurred at "
             f"every strength with a fixed seed (the same blurred inputs for every model)."]
    notes += baseline_sentences(rows, columns, "where marked, it makes the blurred photos worse instead of "
                                               "restoring them.")
    notes += _common_notes(results, n)
    notes += [note for note in [busy_timing_note(results)] if note]
    return {"name": "table2", "title": "Table 2: motion deblurring", "task": "deblur", "study": results.get("study"),
            "strengths": [float(s) for s in task["strengths"]], "device": results.get("device"),
            "columns": columns, "rows": rows, "notes": notes}


def _runtime_groups(results: Mapping[str, Any]) -> dict[str, dict[str, float | None]]:
    label = "study models (demo widths)" if results.get("demo") else "study models"
    groups = {}
    for task in ("labels", "deblur"):
        size = _size_text(results[task].get("data", {}).get("size") or results.get("bench", {}).get("size"))
        groups[f"{label} @ {size}"] = {
            **groups.get(f"{label} @ {size}", {}), **{m["name"]: m.get("runtime_ms") for m in results[task]["models"]}}
    full = results.get("bench", {}).get("fullsize") or {}
    if full.get("status") == "ok":
        models = list(results["labels"]["models"]) + list(results["deblur"]["models"])
        groups[f"default (paper) widths @ {_size_text(full.get('size'))}"] = {
            m["name"]: m.get("fullsize_runtime_ms") for m in models}
    return groups


def busy_timing_note(results: Mapping[str, Any]) -> str | None:
    """A warning when the machine was busier than the study itself while timing (1-minute load average above
    the CPU count + 0.5), else None."""
    bench = results.get("bench", {})
    samples = [x for x in [*bench.get("loads", []), bench.get("load_before_fullsize")] if x]
    busy = [x for x in samples if x.get("cpus") and x["load1"] > x["cpus"] + 0.5]
    if not busy:
        return None
    worst = max(busy, key=lambda x: x["load1"])
    return (f"Warning: other programs were running while the models were timed (load average up to "
            f"{worst['load1']:.1f} on {worst['cpus']} CPUs): the runtimes are inflated, possibly many times over "
            f"(CPU threads compete). Re-run on an idle machine for trustworthy timings.")


def runtime_paragraphs(results: Mapping[str, Any], warn: bool = True) -> list[str]:
    """What the runtime chart measures, and (``warn``) a warning when the machine was busy."""
    text = [f"Median wall-clock time per image (batch 1, pixelwise bench's function) on {results.get('device')}. "
            f"Study models are timed at their evaluation size with their trained architecture; the default-width "
            f"rows time each generator at its paper widths (random weights: speed does not depend on them)."]
    note = busy_timing_note(results) if warn else None
    if not warn and busy_timing_note(results):
        text.append("These timings were taken on a busy machine: see the warning at the top of the report.")
    return text + ([note] if note else [])


def _without_notes(table: Mapping[str, Any], shown: set[str]) -> dict[str, Any]:
    """A copy of ``table`` without the notes already shown elsewhere on the page (the banner)."""
    return {**table, "notes": [n for n in table.get("notes", []) if n not in shown]}


def run_files_paragraph(out_dir: Path, results: Mapping[str, Any]) -> str:
    """What the training run folders really hold (read from disk, so that the report promises nothing the
    study switched off: the demo turns off sample grids and TensorBoard events)."""
    models = [m for task in ("labels", "deblur") for m in results[task]["models"] if m.get("run_dir")]
    if not models:
        return "No training runs are recorded in this study."
    runs = [out_dir / m["run_dir"] for m in models]
    have = ["config.yaml (the resolved run config)", "metrics.jsonl (losses and per-epoch metrics)"]
    if any((r / "checkpoints").is_dir() for r in runs):
        have.append("checkpoints/ (the final generator and discriminator, loadable by pixelwise infer / eval)")
    missing = []
    if any((r / "samples").is_dir() and any((r / "samples").iterdir()) for r in runs):
        have.append("samples/ (input | output | target grids during training)")
    else:
        missing.append("samples/ grids (train.sample_every=0)")
    if any(any(r.glob("events.out.tfevents*")) or any(r.glob("tensorboard/*")) for r in runs):
        have.append("TensorBoard events")
    else:
        missing.append("TensorBoard events (train.tensorboard=false)")
    text = f"Training runs are in runs/<model>/ and hold {', '.join(have)}."
    if missing:
        text += (f" This study switched off {' and '.join(missing)} to save time; set those options in the study's "
                 f"train_overrides to get them.")
    return text


def write_study_report(out_dir: str | Path, results: Mapping[str, Any] | None = None) -> Path:
    """Render a study folder: ``table1``/``table2`` (.md + .json), loss curves per model (from each run's
    metrics.jsonl), metric-vs-epoch curves, the runtime chart and ``index.html``. ``results`` defaults to
    ``out_dir/results.json`` (so a report can be re-rendered without retraining). Returns index.html."""
    out_dir = Path(out_dir)
    if results is None:
        path = out_dir / RESULTS_NAME
        if not path.exists():
            raise PixelwiseError(f"{path} does not exist: run `pixelwise study` into {out_dir} first")
        results = json.loads(path.read_text())
    figures = out_dir / FIGURES_DIR
    figures.mkdir(parents=True, exist_ok=True)
    t1, t2 = study_table1(results), study_table2(results)
    write_table(t1, out_dir)
    write_table(t2, out_dir)
    device = str(results.get("device", "unknown device"))

    loss_figs = []
    for task in ("labels", "deblur"):
        for model in results[task]["models"]:
            name = f"{FIGURES_DIR}/loss_{model['key']}.png"
            records = read_jsonl(out_dir / model["run_dir"] / "metrics.jsonl") if model.get("run_dir") else []
            plot_loss_curves(records, out_dir / name, f"{model['name']}: training losses")
            loss_figs.append(Figure(name, f"{model['name']}: losses against the training step "
                                          f"({loss_plot_caption(records)}), from "
                                          f"{model.get('run_dir', '?')}/metrics.jsonl"))

    metric_figs = []
    fid_info = results.get("fid", {})
    labels_curves = {m["name"]: m.get("epochs", []) for m in results["labels"]["models"]}
    plot_metric_curves(labels_curves, [("fid", f"FID, N={fid_info.get('n')} (lower is better)"),
                                       ("kid", f"KID, N={fid_info.get('n')} (lower is better)"),
                                       ("psnr", "PSNR dB"), ("ssim", "SSIM")],
                       figures / "metrics_labels.png", "Label map → photo: metrics after every epoch")
    metric_figs.append(Figure(f"{FIGURES_DIR}/metrics_labels.png",
                              "Table 1 models: FID, KID, PSNR, SSIM on the evaluation split after every epoch."))
    strengths = [_strength_key(s) for s in results["deblur"]["strengths"]]
    deblur_curves = {m["name"]: m.get("epochs", []) for m in results["deblur"]["models"]}
    n2 = fid_info.get("n_deblur")
    metric_keys = [("fid", f"FID, N={n2} (lower is better)"), ("kid", f"KID, N={n2} (lower is better)"),
                   ("psnr", "PSNR dB, all"),
                   ("ssim", "SSIM, all")] + [(f"psnr@{s}", f"PSNR dB, s={s}") for s in strengths]
    plot_metric_curves(deblur_curves, metric_keys, figures / "metrics_deblur.png",
                       "Deblurring: metrics after every epoch")
    metric_figs.append(Figure(f"{FIGURES_DIR}/metrics_deblur.png",
                              "Table 2 models: metrics after every epoch, overall and per blur strength."))

    plot_runtime_bars(_runtime_groups(results), figures / "runtime.png", device)
    runtime_fig = Figure(f"{FIGURES_DIR}/runtime.png", f"Inference time per image, batch 1, on {device}.")

    banner = [f"Study '{results.get('study')}' on {device}, {results.get('elapsed_s', 0) / 60:.1f} min."]
    n1, n2 = fid_info.get("n"), fid_info.get("n_deblur")
    notes = _common_notes(results)
    if fid_info.get("available") and n1 and n2 and n1 != n2 and notes and notes[0].startswith("FID/KID are"):
        notes[0] = notes[0].replace(f"only N={n1} images per side", f"only N={n1} (Table 1) and N={n2} (Table 2) "
                                                                    f"images per side")
    banner += notes
    busy = busy_timing_note(results)
    if busy:
        banner.append(busy)
    # the caveats are shown once, in the banner: the tables on the page drop them (table*.md / .json keep them)
    shown = set(banner) | set(_common_notes(results)) | set(_common_notes(results, n2)) | ({busy} if busy else set())
    if results.get("demo"):
        banner.append("Runtimes of the study models are of the demo widths on this machine; the default-width "
                      "rows time the paper-size generators at the stated size on the same machine.")
    sections = [
        Section("Table 1: label map → photo", [
            "ASAP-Net and pix2pixHD trained on the same label maps; scores on the evaluation split after the last "
            "epoch, with the label-colour baseline (no model) in the first row; a value marked ▼ is worse than the "
            "baseline. Also in table1.md and table1.json."], table=_without_notes(t1, shown), anchor="table1"),
        Section("Table 2: motion deblurring", [
            "DeblurGAN and DeblurGAN-ASAP trained on graded synthetic motion blur; PSNR/SSIM per blur strength "
            "and overall, with the blurred input (no model) in the first row; a value marked ▼ is worse than the "
            "baseline. Also in table2.md and table2.json."], table=_without_notes(t2, shown), anchor="table2"),
        Section("Runtime", runtime_paragraphs(results, warn=False), figures=[runtime_fig], anchor="runtime"),
    ]
    grids = []
    label_grid = results["labels"].get("grid")
    if label_grid:
        names = " | ".join(m["name"] for m in results["labels"]["models"])
        baseline = "label colour (the baseline) | " if results["labels"].get("baseline") else ""
        grids.append(Figure(label_grid, f"Label map → photo on evaluation images: label map | {baseline}{names} "
                                        f"| real photo."))
    for strength, src in (results["deblur"].get("grids") or {}).items():
        names = " | ".join(m["name"] for m in results["deblur"]["models"])
        grids.append(Figure(src, f"Blur strength {strength}: blurred input (the baseline) | {names} | sharp."))
    if grids:
        sections.append(Section("Qualitative results", [], figures=grids, anchor="qualitative"))
    sections.append(Section("Metrics per epoch", [], figures=metric_figs, anchor="curves"))
    sections.append(Section("Training losses", [], figures=loss_figs, anchor="losses"))
    files = [("table1.md", "table1.md: Table 1 (markdown)"), ("table1.json", "table1.json: Table 1 (JSON)"),
             ("table2.md", "table2.md: Table 2 (markdown)"), ("table2.json", "table2.json: Table 2 (JSON)"),
             (RESULTS_NAME, f"{RESULTS_NAME}: every number of this report, per epoch")]
    if (out_dir / "study.yaml").exists():
        files.append(("study.yaml", "study.yaml: the resolved study config (rerun with pixelwise study study.yaml)"))
    sections.append(Section("Files", [run_files_paragraph(out_dir, results)], links=files, anchor="files"))
    footer = f"pixelwise study, torch {results.get('torch', '?')}."
    return write_index_html(out_dir, f"pixelwise study: {results.get('study', '')}", sections, banner, footer)
