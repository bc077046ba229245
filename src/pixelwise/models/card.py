"""The model card ``save_pretrained`` writes beside ``config.json``: ``README.md`` with Hugging Face style YAML
front matter (``library_name: pixelwise``, license, tags, pipeline tag, datasets, metrics), so a model folder
pushed to the Hub (:func:`pixelwise.hub.push_to_hub`) is described and searchable there.

Only the facts the folder itself knows are filled in (the registry name, the architecture config, the parameter
count); training data and measured metrics are given by the caller (``datasets=``, ``metrics=``), and so are
any further sections (``sections=``: (title, markdown) pairs, e.g. how the model was trained and what it
measured). :func:`training_section` and :func:`markdown_table` build the usual ones from plain data. A README.md
that pixelwise did not write (or whose mark line was deleted) is never overwritten.

:func:`read_card` reads a card back into a :class:`CardSummary` (title, parameters, training budget, data, the
held-out tables with gains) and :func:`summary_markdown` renders it short: ``pixelwise models --details NAME``
prints it and the app shows it beside its model choice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CARD_NAME = "README.md"
MARK = "<!-- written by pixelwise save_pretrained: delete this line to keep your edits when saving again -->"
DEFAULT_LICENSE = "mit"  # the package's licence; weights trained elsewhere may need another (license=)

_FAMILY = (("deblurgan-asap", ("asapnet", "deblurgan", "deblurring")),
           ("deblurgan", ("deblurgan", "deblurring")),
           ("asapnet", ("asapnet", "semantic-image-synthesis")),
           ("pix2pixhd", ("pix2pixhd", "semantic-image-synthesis")))


def family_tags(name: str) -> list[str]:
    for prefix, tags in _FAMILY:
        if name.startswith(prefix):
            return list(tags)
    return []


def _yaml_scalar(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)  # JSON strings are valid YAML scalars


def front_matter(name: str, license: str = DEFAULT_LICENSE, tags: Sequence[str] = (),
                 datasets: Sequence[str] = (), metrics: Mapping[str, float] | Iterable[str] | None = None) -> str:
    """The YAML front matter; ``metrics``: measured values by name (``"psnr@0.5"``) or just the names; the Hub
    lists each metric once, without what follows ``@``."""
    lines = ["---", "library_name: pixelwise", f"license: {_yaml_scalar(license)}", "pipeline_tag: image-to-image",
             "tags:"]
    for tag in dict.fromkeys(["pixelwise", "image-to-image", name, *family_tags(name), *tags]):
        lines.append(f"- {_yaml_scalar(tag)}")
    if datasets:
        lines.append("datasets:")
        lines += [f"- {_yaml_scalar(d)}" for d in datasets]
    if metrics:
        lines.append("metrics:")
        lines += [f"- {_yaml_scalar(m)}" for m in dict.fromkeys(k.split("@")[0].lower() for k in metrics)]
    lines.append("---")
    return "\n".join(lines)


def model_card(record: Mapping[str, Any], parameters: int | None = None, license: str = DEFAULT_LICENSE,
               tags: Sequence[str] = (), datasets: Sequence[str] = (), metrics: Mapping[str, float] | None = None,
               summary: str | None = None, sections: Iterable[tuple[str, str]] | Mapping[str, str] = (),
               metric_names: Sequence[str] = (), title: str | None = None) -> str:
    """The README.md text for a model folder whose ``config.json`` holds ``record`` (:func:`model_record`).
    ``sections``: further ``## title`` sections, (title, markdown body) pairs in order (a mapping keeps its
    order), placed after the metrics and before the architecture config. ``metric_names``: metrics the front
    matter lists beyond ``metrics``' keys (for values reported in a section's table). ``title``: the heading
    (default ``<registry name> (pixelwise)``)."""
    name = record["model"]
    listed = [*(metrics or {}), *metric_names]
    body = [front_matter(name, license, tags, datasets, listed), MARK, "", f"# {title or f'{name} (pixelwise)'}", ""]
    if summary:
        body += [summary.strip(), ""]
    count = f", {parameters:,} parameters" if parameters is not None else ""
    body += [f"A `{name}` model{count}, saved by [pixelwise](https://pypi.org/project/pixelwise/): "
             f"`config.json` (registry name + architecture config) and `model.safetensors`.", "",
             "```python", "import pixelwise", 'model = pixelwise.from_pretrained("<this folder or org/name>")', "```",
             "", "```bash", "pixelwise infer <this folder or org/name> inputs/*.png --output out/", "```", ""]
    if metrics:
        body += ["## Metrics", "", "| metric | value |", "|---|---|"]
        body += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
        body.append("")
    for heading, text in (sections.items() if isinstance(sections, Mapping) else sections):
        body += [f"## {heading}", "", text.strip(), ""]
    body += ["## Architecture config", "", "```json", json.dumps(record.get("config", {}), indent=2, sort_keys=True),
             "```", ""]
    return "\n".join(body)


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "" if value is None else str(value).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 2,
                   align: str | None = None) -> str:
    """A markdown table; floats with ``digits`` decimals, None as an empty cell. ``align``: one character per
    column, ``l`` or ``r`` (default: the first column left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header):
        raise ValueError(f"align {align!r} has {len(align)} columns, the header {len(header)}")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {list(row)} has {len(row)} cells, the header {len(header)}")
        lines.append("| " + " | ".join(_cell(v, digits) for v in row) + " |")
    return "\n".join(lines)


def training_section(command: str, budget: str | None = None, data: str | None = None, hardware: str | None = None,
                     notes: str | None = None) -> str:
    """The body of a "Training" section: the exact command (a code block), then budget, data and hardware."""
    lines = ["Trained with:", "", "```bash", command.strip(), "```", ""]
    for label, value in (("Budget", budget), ("Data", data), ("Hardware", hardware)):
        if value:
            lines.append(f"- **{label}**: {value.strip()}")
    if notes:
        lines += ["", notes.strip()]
    return "\n".join(lines).strip()


def update_card(text: str, sections: Iterable[tuple[str, str]] | Mapping[str, str] = (),
                metric_names: Iterable[str] = ()) -> str:
    """``text`` (a card :func:`model_card` wrote) with each ``## title`` section of ``sections`` replaced, or
    added before the architecture config when it has none, and ``metric_names`` added to the front matter's
    metrics; everything else (a training section, the summary, tags) is kept as it is."""
    head, sep, rest = text.partition("\n## ")
    parts = [head, *(f"## {p}" for p in rest.split("\n## "))] if sep else [head]
    for heading, body in (sections.items() if isinstance(sections, Mapping) else sections):
        block = f"## {heading}\n\n{body.strip()}\n"
        found = [i for i, p in enumerate(parts) if i and p.splitlines()[0].strip() == f"## {heading}"]
        if found:
            parts[found[0]] = block
        else:
            last = [i for i, p in enumerate(parts) if i and p.startswith("## Architecture config")]
            parts.insert(last[0] if last else len(parts), block)
    out = "\n".join(p.rstrip("\n") + "\n" for p in parts)
    names = list(dict.fromkeys(n.split("@")[0].lower() for n in metric_names))
    if not names or not out.startswith("---\n"):
        return out
    front, _, body = out[4:].partition("\n---\n")
    lines = front.splitlines()
    if "metrics:" in lines:
        at = lines.index("metrics:") + 1
        while at < len(lines) and lines[at].startswith("- "):
            at += 1
        have = {json.loads(x[2:]) if x[2:].startswith('"') else x[2:] for x in lines[lines.index("metrics:") + 1:at]}
        lines[at:at] = [f"- {_yaml_scalar(n)}" for n in names if n not in have]
    else:
        lines += ["metrics:", *(f"- {_yaml_scalar(n)}" for n in names)]
    return "---\n" + "\n".join(lines) + "\n---\n" + body


def may_overwrite(existing: str | None) -> bool:
    """A README.md is rewritten only when there is none or it still carries pixelwise's mark line."""
    return existing is None or MARK in existing


# --- reading a card back ------------------------------------------------------------------------------------
_GAIN = re.compile(r"\([+\-\u2212]\d")  # a table cell like "34.34 (+2.58)": a gain over a baseline row


@dataclass
class CardSummary:
    """What a model card says, in short (None / empty where the card does not say it)."""

    title: str | None = None  # the card's heading, e.g. "pixelwise/deblurgan-asap-small"
    summary: str | None = None  # the paragraph under the heading
    registry: str | None = None  # the registry name ("A `deblurgan` model, ...")
    parameters: int | None = None
    budget: str | None = None  # the Training section's "Budget" line
    data: str | None = None  # its "Data" line
    hardware: str | None = None  # its "Hardware" line
    results_note: str | None = None  # how the held-out results were measured (the text before the tables)
    tables: list[str] = field(default_factory=list)  # markdown tables of the results with gains over a baseline


def _sections(body: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in body.split("\n## ")[1:]:
        heading, _, text = part.partition("\n")
        out.setdefault(heading.strip(), text)
    return out


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, code blocks left out."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def read_card(text: str) -> CardSummary:
    """A model card's README.md text (one :func:`model_card` wrote, or any markdown) -> :class:`CardSummary`."""
    body = text
    if body.startswith("---\n"):
        body = body[4:].partition("\n---\n")[2] or body
    card = CardSummary()
    head, _, _ = body.partition("\n## ")
    title = re.search(r"^# (.+)$", head, re.M)
    if title:
        card.title = title.group(1).strip()
        after = [p for p in _paragraphs(head[title.end():]) if not p.startswith(("<!--", "A `"))]
        card.summary = after[0] if after else None
    counted = re.search(r"A `([^`]+)` model(?:, ([\d,]+) parameters)?", head)
    if counted:
        card.registry = counted.group(1)
        card.parameters = int(counted.group(2).replace(",", "")) if counted.group(2) else None
    sections = _sections(body)
    for label in ("Budget", "Data", "Hardware"):
        found = re.search(rf"^- \*\*{label}\*\*: (.+)$", sections.get("Training", ""), re.M)
        if found:
            setattr(card, label.lower(), found.group(1).strip())
    results = sections.get("Results") or sections.get("Metrics") or sections.get("Real-photo benchmark") or ""
    paragraphs = _paragraphs(results)
    for i, paragraph in enumerate(paragraphs):
        if paragraph.startswith("|") and _GAIN.search(paragraph):
            card.tables.append(paragraph)
            if card.results_note is None and i and not paragraphs[i - 1].startswith("|"):
                card.results_note = paragraphs[i - 1]
    return card


def summary_markdown(card: CardSummary, name: str | None = None, origin: str | None = None,
                     parameters: int | None = None) -> str:
    """A card in short, as markdown: name, parameters, where the model comes from, training budget and data,
    the held-out gain tables (or that the card has none)."""
    title = name or card.title or "model"
    count = card.parameters if card.parameters is not None else parameters
    facts = [f"`{card.registry}`" if card.registry else None, f"{count:,} parameters" if count is not None else None,
             origin]
    lines = [f"**{title}**: " + ", ".join(f for f in facts if f)]
    if card.summary:
        lines += ["", card.summary]
    lines.append("")
    lines.append(f"- **Training budget**: {card.budget}" if card.budget else "- **Training budget**: not stated")
    if card.data:
        lines.append(f"- **Training data**: {card.data}")
    if card.hardware:
        lines.append(f"- **Hardware**: {card.hardware}")
    if card.tables:
        note = card.results_note.rstrip(".:") if card.results_note else ""
        lines.append("- **Held-out results**" + (f", {note}:" if note else ":"))
        for table in card.tables:
            lines += ["", table]
    else:
        lines.append("- **Held-out results**: none in the card")
    return "\n".join(lines)


__all__ = ["CARD_NAME", "DEFAULT_LICENSE", "CardSummary", "family_tags", "front_matter", "markdown_table",
           "may_overwrite", "model_card", "read_card", "summary_markdown", "training_section", "update_card"]
