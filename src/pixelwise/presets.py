"""Training presets: their names, their ``base:`` overlays, and the old names that still work.

A preset is a YAML file ``configs/<model>-<data>-<size>.yaml`` (``configs/`` is the package's ``configs`` folder):

- ``<model>``: the registry name of the generator it trains (its ``model.name``);
- ``<data>``: what it trains on by default, one of :data:`PRESET_DATA` (agrees with ``data.format``);
- ``<size>``: what it is for, one of :data:`PRESET_SIZES`.

A preset may start with ``base:``, one preset (name or YAML path) or a list of them. Each is loaded with its own
``base:`` chain, they are merged in order, and the file's own keys are merged over the result: mappings merge
key by key, everything else replaces. An entry ending in ``.yaml`` / ``.yml`` is a path relative to the file that
names it, so presets share parts through ``configs/overlays/*.yaml`` (overlays are not presets: ``pixelwise
train`` does not list them). The presets' old names are :data:`PRESET_ALIASES`: they load the same config and
print nothing.

    pixelwise train deblurgan-bundled-tiny train.max_steps=4 --run-dir RUN
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixelwise.config import CONFIG_DIR, list_presets, load_yaml, resolve_preset
from pixelwise.errors import PixelwiseError

# the size word of a preset name -> what a preset of that size is for (docs/training.md lists the same)
PRESET_SIZES: dict[str, str] = {
    "paper": "the paper's architecture and recipe, faithful to the publication",
    "small": "the recipe of a shipped pretrained model: about an hour on a 2-core CPU",
    "medium": "the recipe of a larger shipped model (v2): hours on a 2-core CPU, photos at camera scale",
    "tiny": "the demo's size: minutes on a CPU, with small-budget engineering choices",
}

# the data word of a preset name -> the data.format values it stands for
PRESET_DATA: dict[str, tuple[str, ...]] = {
    "cityscapes": ("cityscapes",),
    "gopro": ("gopro",),
    "photos": ("blur",),  # any folder of sharp photos (data.root), blurred on the fly
    "bundled": ("bundled-labels", "bundled-blur"),  # the photos inside scikit-image's wheel
}

# old preset names -> today's; they load the same config and print nothing. Add a line here when a preset is
# renamed, never remove one.
PRESET_ALIASES: dict[str, str] = {
    "asapnet-cityscapes": "asapnet-cityscapes-paper",
    "asapnet-tiny": "asapnet-bundled-tiny",
    "pix2pixhd-cityscapes": "pix2pixhd-cityscapes-paper",
    "pix2pixhd-cityscapes-local": "pix2pixhd-local-cityscapes-paper",
    "pix2pixhd-tiny": "pix2pixhd-bundled-tiny",
    "pix2pixhd-local-tiny": "pix2pixhd-local-bundled-tiny",
    "deblurgan": "deblurgan-gopro-paper",
    "deblurgan-small": "deblurgan-photos-small",
    "deblurgan-tiny": "deblurgan-bundled-tiny",
    "deblurgan-asap": "deblurgan-asap-gopro-paper",
    "deblurgan-asap-small": "deblurgan-asap-photos-small",
    "deblurgan-asap-tiny": "deblurgan-asap-bundled-tiny",
    "deblurgan-medium": "deblurgan-photos-medium",
    "deblurgan-asap-medium": "deblurgan-asap-photos-medium",
}


def canonical_name(name: str) -> str:
    """An old preset name -> today's name; anything else unchanged."""
    return PRESET_ALIASES.get(name, name)


def is_preset(name: str) -> bool:
    """True for a preset name or an old name of one (not for paths)."""
    return canonical_name(name) in list_presets()


def preset_path(name_or_path: str | Path) -> Path:
    """A preset name, an old name (:data:`PRESET_ALIASES`) or a YAML path -> the YAML path."""
    if isinstance(name_or_path, str) and not Path(name_or_path).exists():
        name_or_path = canonical_name(name_or_path)
    return resolve_preset(name_or_path, CONFIG_DIR)


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` merged over ``base``: mappings key by key (recursively), everything else replaces."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def load_preset_dict(name_or_path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A preset (name, old name or YAML path) as a plain dict, its ``base:`` overlays merged in."""
    path = preset_path(name_or_path).resolve()
    if path in _seen:
        raise PixelwiseError(f"config file {path}: 'base' chain loops back to itself")
    data = load_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    merged: dict[str, Any] = {}
    for ref in base if isinstance(base, list) else [base]:
        if not isinstance(ref, str) or not ref.strip():
            raise PixelwiseError(f"config file {path}: 'base' takes preset names or YAML paths (one or a list), "
                                 f"got {ref!r}")
        if ref.endswith((".yaml", ".yml")) and not Path(ref).is_absolute():
            ref = str(path.parent / ref)
        merged = merge(merged, load_preset_dict(ref, (*_seen, path)))
    return merge(merged, data)


def split_name(name: str) -> tuple[str, str, str]:
    """``deblurgan-asap-bundled-tiny`` -> ("deblurgan-asap", "bundled", "tiny"); an error for a name that does not
    follow ``<model>-<data>-<size>``."""
    parts = name.split("-")
    if len(parts) < 3 or parts[-1] not in PRESET_SIZES or parts[-2] not in PRESET_DATA:
        raise PixelwiseError(f"preset {name!r} does not follow <model>-<data>-<size> (data one of "
                             f"{sorted(PRESET_DATA)}, size one of {sorted(PRESET_SIZES)})")
    return "-".join(parts[:-2]), parts[-2], parts[-1]


def describe_presets() -> list[dict[str, str]]:
    """One record per preset (name, model, data, size, description), in name order."""
    out = []
    for name in list_presets():
        _, data, size = split_name(name)
        loaded = load_preset_dict(name)
        out.append({"name": name, "model": str(loaded.get("model", {}).get("name", "?")), "data": data,
                    "size": size, "description": str(loaded.get("description", ""))})
    return out


__all__ = [
    "PRESET_ALIASES",
    "PRESET_DATA",
    "PRESET_SIZES",
    "canonical_name",
    "describe_presets",
    "is_preset",
    "load_preset_dict",
    "merge",
    "preset_path",
    "split_name",
]
