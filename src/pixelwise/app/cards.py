"""What the app says about each model: its card in short (name, parameters, where it comes from, training budget
and data, held-out gains over the do-nothing baseline), built from the model card (README.md) when the model has
one, else from its run (steps, data section) and its study's results; and one line per model for the Paint tab.
The card format is read by :func:`pixelwise.models.card.read_card`, as ``pixelwise models --details`` does."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from pixelwise.app import _library as lib
from pixelwise.app.models import AppModel

BASELINE_NAMES = {"photo": "Blurred input (no model)", "labels": "Label colours (no model)"}


def _score(scores: dict[str, Any] | None, metric: str, strength: str | None = None) -> float | None:
    if not scores:
        return None
    if strength is None:
        return scores.get(metric)
    return (scores.get("strengths") or {}).get(strength, {}).get(metric)


def study_table(model: AppModel, metric: str = "psnr") -> str | None:
    """The model's final score in its study beside the study's baseline row (per blur strength and overall),
    with the gain in brackets; None when the study has no such numbers."""
    study = model.study or {}
    final, baseline = study.get("final"), study.get("baseline")
    if not final or not baseline or final.get(metric) is None or baseline.get(metric) is None:
        return None
    columns: list[tuple[str, str | None]] = [(f"s={float(s):g}", str(s)) for s in study.get("strengths") or []]
    columns = [(title, key) for title, key in columns if _score(final, metric, key) is not None
               and _score(baseline, metric, key) is not None]
    columns.append(("all", None))
    digits = 3 if metric == "ssim" else 2
    base_cells = [f"{_score(baseline, metric, key):.{digits}f}" for _, key in columns]
    model_cells = []
    for _, key in columns:
        value, ref = _score(final, metric, key), _score(baseline, metric, key)
        model_cells.append(f"{value:.{digits}f} ({value - ref:+.{digits}f})")
    unit = "PSNR dB" if metric == "psnr" else metric.upper()
    return "\n".join([f"| {unit} | " + " | ".join(t for t, _ in columns) + " |",
                      "|---|" + "---:|" * len(columns),
                      f"| {BASELINE_NAMES.get(model.task, 'baseline')} | " + " | ".join(base_cells) + " |",
                      f"| {study.get('name') or model.key} | " + " | ".join(model_cells) + " |"])


def card_summary(model: AppModel) -> lib.CardSummary:
    """The model's card, completed with what its run and study know."""
    card = lib.CardSummary()
    if model.card_file is not None:
        with contextlib.suppress(OSError):
            card = lib.read_card(model.card_file.read_text(encoding="utf-8"))
    study = model.study or {}
    if not model.trained:
        card.budget = card.budget or "none: random weights (it shows the pipeline, not a result)"
    elif card.budget is None and model.steps is not None:
        seconds = study.get("train_seconds")
        card.budget = f"{model.steps} training steps" + (f" ({seconds / 60:.1f} min)" if seconds else "")
    card.data = card.data or model.trained_on
    card.registry = card.registry or model.registry
    if not card.tables:
        table = study_table(model)
        if table is not None:
            card.tables.append(table)
            where = study.get("data_description")
            kind = "the demo's" if model.origin.startswith("demo") else "its study's"
            card.results_note = f"{kind} evaluation" + (f" on {where}" if where else "")
    return card


def card_markdown(model: AppModel) -> str:
    """The card summary shown in the app for ``model``."""
    title = model.shipped or model.title or model.name
    text = lib.summary_markdown(card_summary(model), title, model.origin.replace("`", ""), parameters=model.params)
    if model.shipped:
        text += (f"\n\nShipped with pixelwise for your own photos: trained on real photos and measured on held-out "
                 f"ones (`pixelwise models --details {model.shipped}` prints this card).")
        if model.shipped == lib.DEFAULT_DEBLUR_MODEL:
            text += " The default of `pixelwise deblur`: the app preselects it unless you name a model with --model."
    elif model.origin.startswith("demo") and model.task == "photo":
        text += ("\n\nA demo model: tiny, trained in minutes on the bundled photos for the demo's report; on "
                 "your own photos a shipped deblurrer does better.")
    return text


def model_lines(models: Sequence[AppModel]) -> str:
    """One line per model: its name, where it comes from and what it was trained on (the Paint tab's list)."""
    lines = []
    for m in models:
        what = m.origin.replace("`", "") or m.source
        if not m.trained:
            what = f"untrained ({m.source})"
        on = f", on {m.trained_on}" if m.trained and m.trained_on else ""
        lines.append(f"- **{m.title or m.name}**: {what}{on}; {m.params:,} parameters")
    return "\n".join(lines)
