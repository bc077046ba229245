"""The study's page: ``index.html`` from sections (paragraphs, a table, figures, links), the link check that
every relative image and link exists, and :func:`write_study_report`, which renders a whole study folder from
its :class:`StudyResults` (tables, plots, page), with captions written from the results."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pixelwise import rundir
from pixelwise.data.strength import strength_label
from pixelwise.errors import PixelwiseError
from pixelwise.fileio import atomic_write_text
from pixelwise.study import plots
from pixelwise.study.results import (
    RESULTS_NAME,
    Scores,
    StudyResults,
    TaskResults,
    load_results,
    results_from_json,
)
from pixelwise.study.tables import (
    DEBLUR_BASELINE_NAME,
    LABEL_BASELINE_NAME,
    busy_timing_note,
    common_notes,
    format_cell,
    is_below_baseline,
    study_table1,
    study_table2,
    write_table,
)

FIGURES_DIR = "figures"


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


def _fid_last_only(models: Sequence[Any]) -> bool:
    """True when the models' FID was computed at their last evaluation only (eval.fid_every_epoch=false)."""
    runs = [m.epochs for m in models if len(m.epochs) > 1]
    return bool(runs) and all(all(e.fid is None for e in epochs[:-1]) for epochs in runs)


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


def runtime_paragraphs(results: StudyResults, warn: bool = True) -> list[str]:
    """What the runtime chart measures, and (``warn``) a warning when the machine was busy."""
    text = [f"Median wall-clock time per image (batch 1, pixelwise bench's function) on {results.device}. "
            f"Study models are timed at their evaluation size with their trained architecture; the default-width "
            f"rows time each generator at its paper widths (random weights: speed does not depend on them)."]
    note = busy_timing_note(results) if warn else None
    if not warn and busy_timing_note(results):
        text.append("These timings were taken on a busy machine: see the warning at the top of the report.")
    return text + ([note] if note else [])


def _without_notes(table: Mapping[str, Any], shown: set[str]) -> dict[str, Any]:
    """A copy of ``table`` without the notes already shown elsewhere on the page (the banner)."""
    return {**table, "notes": [n for n in table.get("notes", []) if n not in shown]}


def run_files_paragraph(out_dir: Path, results: StudyResults) -> str:
    """What the training run folders really hold (read from disk, so that the report promises nothing the
    study switched off: the demo turns off sample grids and TensorBoard events)."""
    runs = [out_dir / m.run_dir for m in results.all_models() if m.run_dir]
    if not runs:
        return "No training runs are recorded in this study."
    have = [f"{rundir.RUN_CONFIG} (the resolved run config)", f"{rundir.METRICS} (losses and per-epoch metrics)"]
    if any((r / rundir.CHECKPOINTS).is_dir() for r in runs):
        have.append(f"{rundir.CHECKPOINTS}/ (the final generator and discriminator, loadable by pixelwise infer / "
                    f"eval)")
    missing = []
    if any((r / rundir.SAMPLES).is_dir() and any((r / rundir.SAMPLES).iterdir()) for r in runs):
        have.append(f"{rundir.SAMPLES}/ (input | output | target grids during training)")
    else:
        missing.append(f"{rundir.SAMPLES}/ grids (train.sample_every=0)")
    if any(any(r.glob("events.out.tfevents*")) or any(r.glob(f"{rundir.TENSORBOARD}/*")) for r in runs):
        have.append("TensorBoard events")
    else:
        missing.append("TensorBoard events (train.tensorboard=false)")
    text = f"Training runs are in runs/<model>/ and hold {', '.join(have)}."
    if missing:
        text += (f" This study switched off {' and '.join(missing)} to save time; set those options in the study's "
                 f"train_overrides to get them.")
    return text


def _baseline_line(task: TaskResults, name: str) -> tuple[str, Scores] | None:
    """The task's do-nothing scores as a dashed line in its metric curves (None when it was not scored)."""
    return (name, task.baseline) if task.baseline is not None else None


def _baseline_caption(task: TaskResults, what: str) -> str:
    return f" The dashed gray line is the {what} baseline (no model)." if task.baseline is not None else ""


def _pretrained_caption(task: TaskResults) -> str:
    return (f" Dotted lines: the shipped deblurrers ({_joined([m.name for m in task.pretrained])}), evaluated once "
            f"on the same photos, not trained by the study (no epochs)." if task.pretrained else "")


def _joined(names: Sequence[str]) -> str:
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


def _banner(results: StudyResults) -> tuple[list[str], set[str]]:
    """The caveats at the top of the page, and every note they stand for (the tables on the page drop those;
    table*.md / .json keep them)."""
    banner = [f"Study '{results.study}' on {results.device}, {(results.elapsed_s or 0) / 60:.1f} min."]
    notes = common_notes(results)
    n1, n2 = results.fid.n, results.fid.n_deblur
    if results.fid.available and n1 and n2 and n1 != n2:  # the two tables pool different N
        notes = [note.replace(f"only N={n1} images per side", f"only N={n1} (Table 1) and N={n2} (Table 2) images "
                                                              f"per side") for note in notes]
    banner += notes
    busy = busy_timing_note(results)
    if busy:
        banner.append(busy)
    shown = set(banner) | set(common_notes(results)) | set(common_notes(results, n2)) | ({busy} if busy else set())
    if results.demo:
        banner.append("Runtimes of the study models are of the demo widths on this machine; the default-width "
                      "rows time the paper-size generators at the stated size on the same machine.")
    return banner, shown


def _figures(out_dir: Path, results: StudyResults) -> tuple[list[Figure], list[Figure], Figure]:
    """(loss figures, metric-curve figures, runtime figure), drawn into ``out_dir/figures``."""
    figures = out_dir / FIGURES_DIR
    loss_figs = []
    for model in results.all_models():
        name = f"{FIGURES_DIR}/loss_{model.key}.png"
        records = plots.read_jsonl(out_dir / model.run_dir / rundir.METRICS) if model.run_dir else []
        plots.plot_loss_curves(records, out_dir / name, f"{model.name}: training losses")
        loss_figs.append(Figure(name, f"{model.name}: losses against the training step "
                                      f"({plots.loss_plot_caption(records)}), from {model.run_dir or '?'}/"
                                      f"{rundir.METRICS}"))
    n1, n2 = results.fid.n, results.fid.n_deblur
    plots.plot_metric_curves({m.name: m.epochs for m in results.labels.models},
                             [("fid", f"FID, N={n1} (lower is better)"), ("kid", f"KID, N={n1} (lower is better)"),
                              ("psnr", "PSNR dB"), ("ssim", "SSIM")],
                             figures / "metrics_labels.png", "Label map → photo: metrics after every epoch",
                             baseline=_baseline_line(results.labels, LABEL_BASELINE_NAME))
    strengths = [strength_label(s) for s in results.deblur.strengths]
    plots.plot_metric_curves({m.name: m.epochs for m in results.deblur.models},
                             [("fid", f"FID, N={n2} (lower is better)"), ("kid", f"KID, N={n2} (lower is better)"),
                              ("psnr", "PSNR dB, all"), ("ssim", "SSIM, all"),
                              *[(f"psnr@{s}", f"PSNR dB, s={s}") for s in strengths]],
                             figures / "metrics_deblur.png", "Deblurring: metrics after every epoch",
                             baseline=_baseline_line(results.deblur, DEBLUR_BASELINE_NAME),
                             references=[(m.name, m.final) for m in results.deblur.pretrained if m.final])
    fid_last = {task: _fid_last_only(getattr(results, task).models) for task in ("labels", "deblur")}
    metric_figs = [
        Figure(f"{FIGURES_DIR}/metrics_labels.png", f"Table 1 models ({_joined(results.labels.model_names())}): "
                                                    + ("PSNR, SSIM on the evaluation split after every epoch, FID "
                                                       "and KID after the last one (eval.fid_every_epoch=false)."
                                                       if fid_last["labels"] else
                                                       "FID, KID, PSNR, SSIM on the evaluation split after every "
                                                       "epoch.") + _baseline_caption(results.labels, "label colour")),
        Figure(f"{FIGURES_DIR}/metrics_deblur.png", f"Table 2 models ({_joined(results.deblur.model_names())}): "
                                                    + ("PSNR and SSIM after every epoch, overall and per blur "
                                                       "strength; FID and KID after the last one "
                                                       "(eval.fid_every_epoch=false)." if fid_last["deblur"] else
                                                       "metrics after every epoch, overall and per blur strength.")
                                                    + _baseline_caption(results.deblur, "blurred input")
                                                    + _pretrained_caption(results.deblur)),
    ]
    plots.plot_runtime_bars(plots.runtime_groups(results), figures / "runtime.png", results.device)
    runtime_fig = Figure(f"{FIGURES_DIR}/runtime.png", f"Inference time per image, batch 1, on {results.device}.")
    return loss_figs, metric_figs, runtime_fig


def _grid_figures(results: StudyResults) -> list[Figure]:
    grids = []
    if results.labels.grid:
        baseline = ["label colour (the baseline)"] if results.labels.baseline is not None else []
        columns = " | ".join(["label map", *baseline, *results.labels.model_names(), "real photo"])
        grids.append(Figure(results.labels.grid, f"Label map → photo on evaluation images: {columns}."))
    columns = " | ".join(["blurred input (the baseline)", *[m.name for m in results.deblur.table_models()],
                          "sharp"])
    for strength, src in results.deblur.grids.items():
        grids.append(Figure(src, f"Blur strength {strength}: {columns}."))
    return grids


def write_study_report(out_dir: str | Path, results: StudyResults | Mapping[str, Any] | None = None) -> Path:
    """Render a study folder: ``table1``/``table2`` (.md + .json), loss curves per model (from each run's
    metrics.jsonl), metric-vs-epoch curves, the runtime chart and ``index.html``. ``results`` defaults to
    ``out_dir/results.json`` (so a report can be re-rendered without retraining). Returns index.html."""
    out_dir = Path(out_dir)
    if results is None:
        results = load_results(out_dir)
    elif not isinstance(results, StudyResults):  # a results.json dict
        results = results_from_json(dict(results))
    (out_dir / FIGURES_DIR).mkdir(parents=True, exist_ok=True)
    t1, t2 = study_table1(results), study_table2(results)
    write_table(t1, out_dir)
    write_table(t2, out_dir)
    loss_figs, metric_figs, runtime_fig = _figures(out_dir, results)
    banner, shown = _banner(results)
    label_baseline = (", with the label-colour baseline (no model) in the first row; a value marked ▼ is worse "
                      "than the baseline" if results.labels.baseline is not None else "")
    sections = [
        Section("Table 1: label map → photo", [
            f"{_joined(results.labels.model_names())} trained on the same label maps; scores on the evaluation "
            f"split after the last epoch{label_baseline}. Also in table1.md and table1.json."],
            table=_without_notes(t1, shown), anchor="table1"),
        Section("Table 2: motion deblurring", [
            f"{_joined(results.deblur.model_names())} trained on graded synthetic motion blur; PSNR/SSIM per blur "
            f"strength and overall, with the blurred input (no model) in the first row; a value marked ▼ is worse "
            f"than the baseline"
            + ("; rows marked (pretrained) are the deblurrers shipped with pixelwise, trained elsewhere and only "
               "evaluated here" if results.deblur.pretrained else "")
            + ". Also in table2.md and table2.json."], table=_without_notes(t2, shown),
            anchor="table2"),
        Section("Runtime", runtime_paragraphs(results, warn=False), figures=[runtime_fig], anchor="runtime"),
    ]
    grids = _grid_figures(results)
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
    footer = f"pixelwise study, torch {results.torch or '?'}."
    return write_index_html(out_dir, f"pixelwise study: {results.study}", sections, banner, footer)


__all__ = ["FIGURES_DIR", "Figure", "Section", "html_links", "missing_links", "render_index_html", "table_html",
           "write_index_html", "write_study_report"]
