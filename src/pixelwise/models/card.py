"""The model card ``save_pretrained`` writes beside ``config.json``: ``README.md`` with Hugging Face style YAML
front matter (``library_name: pixelwise``, license, tags, pipeline tag, datasets, metrics), so a model folder
pushed to the Hub (:func:`pixelwise.hub.push_to_hub`) is described and searchable there.

Only the facts the folder itself knows are filled in (the registry name, the architecture config, the parameter
count); training data and measured metrics are given by the caller (``datasets=``, ``metrics=``). A README.md
that pixelwise did not write (or whose mark line was deleted) is never overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
                 datasets: Sequence[str] = (), metrics: Mapping[str, float] | None = None) -> str:
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
               summary: str | None = None) -> str:
    """The README.md text for a model folder whose ``config.json`` holds ``record`` (:func:`model_record`)."""
    name = record["model"]
    body = [front_matter(name, license, tags, datasets, metrics), MARK, "", f"# {name} (pixelwise)", ""]
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
    body += ["## Architecture config", "", "```json", json.dumps(record.get("config", {}), indent=2, sort_keys=True),
             "```", ""]
    return "\n".join(body)


def may_overwrite(existing: str | None) -> bool:
    """A README.md is rewritten only when there is none or it still carries pixelwise's mark line."""
    return existing is None or MARK in existing


__all__ = ["CARD_NAME", "DEFAULT_LICENSE", "family_tags", "front_matter", "may_overwrite", "model_card"]
