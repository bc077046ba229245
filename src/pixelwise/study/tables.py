"""The study's tables: Table 1 (label map -> photo) and Table 2 (deblurring) built from :class:`StudyResults`,
rendered as markdown and written beside their JSON.

A *table* is a JSON-able dict (``table1.json`` / ``table2.json``)::

    {"name": "table1", "title": ..., "columns": [{"key", "label", "description"}, ...],
     "rows": [{key: value, ...}, ...], "notes": [str, ...]}

``rows`` hold raw numbers (``None`` = not measured / not available); the markdown and HTML renderings
format them (FID is always shown with its sample count N, KID as mean ± std x 10^3).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pixelwise.data.strength import strength_label
from pixelwise.fileio import atomic_write_json, atomic_write_text
from pixelwise.runtime import json_safe
from pixelwise.study.results import ModelResult, Scores, StudyResults

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
LABEL_BASELINE_NAME = "Label colour (no model)"
DEBLUR_BASELINE_NAME = "Blurred input (no model)"


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


def write_table(table: Mapping[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<name>.json`` (the table dict, NaN -> null) and ``<name>.md``; return both paths."""
    out_dir = Path(out_dir)
    name = table["name"]
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    atomic_write_json(json_path, json_safe(dict(table)))
    atomic_write_text(md_path, table_markdown(table))
    return json_path, md_path


# --- the two study tables ------------------------------------------------------------------------------------
def _fid_description(n: int | None) -> str:
    return (f"Fréchet Inception Distance between the generated and the real evaluation images, lower is better; "
            f"N = images on each side{f' (here {n})' if n else ''}. FID is strongly biased at small N: compare "
            f"models only within one table, never with published numbers computed at N in the thousands")


def _kid_description() -> str:
    return ("Kernel Inception Distance (unbiased MMD on Inception features), mean ± std over random subsets "
            "(no ± when the subsets are the whole set, N <= 1000), x 10^3, lower is better; less biased than FID at "
            "small N")


def size_text(size: Any) -> str:
    return f"{size[0]}x{size[1]}" if size else "?"


def _runtime_columns(results: StudyResults, task: str) -> list[Column]:
    bench = results.bench
    device = results.device or "this device"
    size = results.task(task).data.size or bench.size
    size_text_ = f"{size[0]}x{size[1]}" if size else "the evaluation size"
    which = "trained study model" + (" (a pretrained row: the shipped model)" if results.task(task).pretrained
                                     else "")
    columns = [column("runtime_ms", f"Runtime (ms) @{size_text_}",
                      f"median milliseconds per image of the {which} at {size_text_}, batch 1, on {device}"),
               column("params", "Params", f"generator parameters of the {which}")]
    full = bench.fullsize
    if full.status == "ok" and full.size:
        fsize = full.size
        columns += [column("fullsize_runtime_ms", f"Full-size runtime (ms) @{fsize[0]}x{fsize[1]}",
                           f"median milliseconds per image of the generator at its default (paper) widths, "
                           f"{fsize[0]}x{fsize[1]}, batch 1, on {device}; random weights (speed does not depend "
                           f"on the weights)"),
                    column("fullsize_params", "Full-size params", "generator parameters at the default widths")]
    return columns


def fid_status(results: StudyResults) -> str:
    """"ok", or "unavailable: <reason>" (the ``fid_status`` field of every row)."""
    return "ok" if results.fid.available else f"unavailable: {results.fid.reason or ''}"


def common_notes(results: StudyResults, n: int | None = None) -> list[str]:
    notes = []
    n = n if n is not None else results.fid.n
    if not results.fid.available:
        notes.append(f"FID/KID unavailable: {results.fid.reason or ''}. The other columns are unaffected.")
    elif n is not None and n < 2000:
        notes.append(f"FID/KID are computed from only N={n} images per side: at this N, FID is dominated by its "
                     f"small-sample bias and is not comparable with published values (which use thousands of "
                     f"images). It is reported because the study's protocol asks for it; read KID and the "
                     f"images instead.")
    if results.demo:
        notes.append("Demo run: tiny models trained for minutes on bundled photos. The numbers show that the "
                     "pipeline works end to end and what these tiny models reach at this budget, not the models' "
                     "quality at full size.")
    return notes


def busy_timing_note(results: StudyResults) -> str | None:
    """A warning when the machine was busier than the study itself while timing (1-minute load average above
    the CPU count + 0.5), else None."""
    samples = [x for x in [*results.bench.loads, results.bench.load_before_fullsize] if x]
    busy = [x for x in samples if x.cpus and x.load1 > x.cpus + 0.5]
    if not busy:
        return None
    worst = max(busy, key=lambda x: x.load1)
    return (f"Warning: other programs were running while the models were timed (load average up to "
            f"{worst.load1:.1f} on {worst.cpus} CPUs): the runtimes are inflated, possibly many times over "
            f"(CPU threads compete). Re-run on an idle machine for trustworthy timings.")


def _score_fields(scores: Scores | None) -> dict[str, Any]:
    """A score record as table fields (flat ``psnr@S`` keys)."""
    if scores is None:
        return {}
    out: dict[str, Any] = {f"{metric}@{s}": value for s, values in scores.strengths.items()
                           for metric, value in values.items()}
    out.update(psnr=scores.psnr, ssim=scores.ssim, fid=scores.fid, fid_n=scores.fid_n, kid=scores.kid,
               kid_std=scores.kid_std)
    return out


def _model_row(model: ModelResult, results: StudyResults) -> dict[str, Any]:
    final = model.final
    row: dict[str, Any] = {"model": model.name, "key": model.key, "registry": model.registry}
    row.update(_score_fields(final))
    if final is not None:
        row["step"], row["eval_seconds"] = final.step, final.eval_seconds
        if final.partial_epoch:
            row["partial_epoch"] = True
    row["fid_status"] = fid_status(results)
    for key in ("runtime_ms", "runtime_size", "params", "fullsize_runtime_ms", "fullsize_params"):
        row[key] = getattr(model, key)
    row["epochs"] = final.epoch if final is not None else len(model.epochs)
    row["steps"] = model.steps
    row["train_seconds"] = model.train_seconds
    row["pretrained"] = model.pretrained
    if model.pretrained:  # evaluated, not trained by the study: no epochs, steps or training time of its own
        row.update(source=model.source, step=None, epochs=None)
    return row


def mark_below_baseline(rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Set ``row["below_baseline"]`` on every row after the first (the baseline): the ``keys`` (PSNR columns,
    higher is better) where the row's value is lower than the baseline's. Rows without a baseline value to
    compare get an empty list."""
    if not rows:
        return
    baseline = rows[0]
    for row in rows[1:]:
        row["below_baseline"] = [k for k in keys if _is_number(row.get(k)) and _is_number(baseline.get(k))
                                 and float(row[k]) < float(baseline[k])]


def baseline_sentences(rows: list[dict[str, Any]], columns: list[Column], consequence: str) -> list[str]:
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


def _baseline_row(results: StudyResults, scores: Scores | None, name: str, key: str) -> dict[str, Any]:
    return {"model": name, "key": key, "registry": None, **_score_fields(scores), "fid_status": fid_status(results),
            "runtime_ms": None, "params": None, "fullsize_runtime_ms": None, "fullsize_params": None}


def _data_note(results: StudyResults, task: str, what: str) -> str:
    data = results.task(task).data
    return (f"Evaluation data: {data.description or data.format or '?'}; "
            f"{data.eval_images if data.eval_images is not None else '?'} {what} at {size_text(data.size)}")


def study_table1(results: StudyResults) -> dict[str, Any]:
    """Table 1, label map -> photo: one row per model. Row fields (JSON): model, key, registry, fid, fid_n,
    fid_status, kid, kid_std, psnr, ssim, runtime_ms, runtime_size, params, fullsize_runtime_ms,
    fullsize_params, epochs, steps, train_seconds."""
    n = results.fid.n
    columns = [column("model", "Model", "generator trained by the study on the label-map task, or the label-colour "
                      "baseline: every label id painted with its mean colour over the training images (no model)"),
               column("fid", "FID (N)", _fid_description(n)),
               column("kid", "KID ×10³", _kid_description()),
               column("psnr", "PSNR (dB)", "peak signal-to-noise ratio against the real photo of each label map, "
                      "in dB, higher is better. Reference only: many photos fit one label map, so this measures "
                      "closeness to the one real photo, not realism"),
               column("ssim", "SSIM", "structural similarity against the real photo (same caveat as PSNR)"),
               *_runtime_columns(results, "labels")]
    rows = [_model_row(m, results) for m in results.labels.models]
    baseline = results.labels.baseline
    if baseline is not None:  # results.json of studies before the baseline existed have none
        rows.insert(0, _baseline_row(results, baseline, LABEL_BASELINE_NAME, "label-colour"))
        mark_below_baseline(rows, ["psnr"])
    notes = [_data_note(results, "labels", "images") + "."]
    if baseline is not None:
        notes.append("Baseline row (label colour): every label id painted with its mean colour over the training "
                     "images; same evaluation images and metrics as the models.")
        notes += baseline_sentences(rows, columns, "at this budget it reproduces the real photo less closely "
                                                   "than painting each label with its mean colour.")
    notes += common_notes(results)
    notes += [note for note in [busy_timing_note(results)] if note]
    return {"name": "table1", "title": "Table 1: label map → photo", "task": "labels", "study": results.study,
            "device": results.device, "columns": columns, "rows": rows, "notes": notes}


def pretrained_note(results: StudyResults) -> str | None:
    """What the rows marked "(pretrained)" of Table 2 are (None when it has none)."""
    shipped = [m.source or m.name for m in results.deblur.pretrained]
    if not shipped:
        return None
    who = "this demo" if results.demo else "this study"
    return (f"Rows marked (pretrained): the deblurrers shipped with pixelwise ({', '.join(shipped)}), loaded as "
            f"shipped and evaluated on the same blurred photos with the same metrics, timed at the same size. They "
            f"were trained elsewhere, not by {who}: their training photos, blur, budget and hardware are on each "
            f"model card (README.md in the model's folder; `pixelwise models` lists them). The trained rows show "
            f"what {who}'s training budget reaches; the pretrained rows what the shipped models do at this blur.")


def study_table2(results: StudyResults) -> dict[str, Any]:
    """Table 2, deblurring: the blurred input (no model) as a baseline row, then one row per model. Row
    fields (JSON): model, key, registry, ``psnr@S`` and ``ssim@S`` for every blur strength S, psnr and ssim
    (overall = mean over all strengths' images), fid, fid_n, fid_status, kid, kid_std (overall), runtime_ms,
    runtime_size, params, fullsize_runtime_ms, fullsize_params, epochs, steps, train_seconds, pretrained; after
    the trained models, the shipped deblurrers (``deblur.pretrained_rows``) with ``pretrained: true`` and
    ``source`` ("pixelwise/<name>"), their epochs/steps/train_seconds null."""
    task = results.deblur
    strengths = [strength_label(s) for s in task.strengths]
    n = results.fid.n_deblur if results.fid.n_deblur is not None else results.fid.n
    columns = [column("model", "Model", "generator trained by the study on graded motion blur, a deblurrer shipped "
                      "with pixelwise marked (pretrained), or the blurred input itself as the do-nothing baseline")]
    for s in strengths:
        columns.append(column(f"psnr@{s}", f"PSNR s={s}", f"PSNR (dB) against the sharp photo at blur strength "
                              f"{s} (0 = none, 1 = heaviest), higher is better"))
        columns.append(column(f"ssim@{s}", f"SSIM s={s}", f"SSIM against the sharp photo at blur strength {s}"))
    columns += [column("psnr", "PSNR all", "PSNR (dB) over the images of every strength (mean)"),
                column("ssim", "SSIM all", "SSIM over the images of every strength (mean)"),
                column("fid", "FID (N)", _fid_description(n) + "; restored images of every strength vs sharp"),
                column("kid", "KID ×10³", _kid_description()),
                *_runtime_columns(results, "deblur")]
    rows = [_baseline_row(results, task.baseline, DEBLUR_BASELINE_NAME, "input")]
    rows += [_model_row(m, results) for m in task.table_models()]
    mark_below_baseline(rows, [f"psnr@{s}" for s in strengths] + ["psnr"])
    notes = [_data_note(results, "deblur", "sharp images") + ", each blurred at every strength with a fixed seed "
             "(the same blurred inputs for every model)."]
    notes += [note for note in [pretrained_note(results)] if note]
    notes += baseline_sentences(rows, columns, "where marked, it makes the blurred photos worse instead of "
                                               "restoring them.")
    notes += common_notes(results, n)
    notes += [note for note in [busy_timing_note(results)] if note]
    return {"name": "table2", "title": "Table 2: motion deblurring", "task": "deblur", "study": results.study,
            "strengths": [float(s) for s in task.strengths], "device": results.device,
            "columns": columns, "rows": rows, "notes": notes}


__all__ = [
    "BELOW_BASELINE_MARK",
    "DEBLUR_BASELINE_NAME",
    "LABEL_BASELINE_NAME",
    "baseline_sentences",
    "busy_timing_note",
    "column",
    "common_notes",
    "format_cell",
    "format_params",
    "is_below_baseline",
    "mark_below_baseline",
    "pretrained_note",
    "study_table1",
    "study_table2",
    "table_markdown",
    "write_table",
]
