"""The model card ``save_pretrained`` writes beside ``config.json``: ``README.md`` with Hugging Face style YAML
front matter (``library_name: pixelwise``, license, tags, pipeline tag, datasets, metrics), so a model folder
pushed to the Hub (:func:`pixelwise.hub.push_to_hub`) is described and searchable there.

Only the facts the folder itself knows are filled in (the registry name, the architecture config, the parameter
count); training data and measured metrics are given by the caller (``datasets=``, ``metrics=``), and so are
any further sections (``sections=``: (title, markdown) pairs, e.g. how the model was trained and what it
measured). :func:`training_section` and :func:`markdown_table` build the usual ones from plain data. A README.md
that pixelwise did not write (or whose mark line was deleted) is never overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
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


__all__ = ["CARD_NAME", "DEFAULT_LICENSE", "family_tags", "front_matter", "markdown_table", "may_overwrite",
           "model_card", "training_section", "update_card"]
