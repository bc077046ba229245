"""Typed configs: dataclasses <-> plain dicts <-> YAML, plus dotted ``key=value`` overrides.

A run is described by one :class:`RunConfig` built from a YAML preset in ``configs/`` (or any YAML path),
then overrides such as ``train.max_steps=4 data.root=/x``. The resolved config is saved in the run dir.

The section dataclasses live beside the code that uses them (``data.config.DataConfig``,
``train.config.TrainConfig``); this module only knows how to (de)serialise dataclasses generically.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from pixelwise.errors import PixelwiseError

T = TypeVar("T")

# Presets ship inside the package (``configs/`` at the repo root is a link to this folder).
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a YAML/JSON value to the annotated type, or raise a PixelwiseError naming ``where``."""
    tp, optional = _strip_optional(tp)
    if value is None:
        if optional or tp is Any:
            return None
        raise PixelwiseError(f"{where}: null is not allowed here (expected {getattr(tp, '__name__', tp)})")
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise PixelwiseError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise PixelwiseError(f"{where}: {value!r} is not one of {[m.value for m in tp]}") from None
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise PixelwiseError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise PixelwiseError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise PixelwiseError(f"{where}: {value!r} is not one of {list(allowed)}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise PixelwiseError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise PixelwiseError(f"{where}: expected an integer, got {value!r}")
        try:
            as_float = float(value)
        except ValueError as exc:
            raise PixelwiseError(f"{where}: expected an integer, got {value!r}") from exc
        if as_float != int(as_float):
            raise PixelwiseError(f"{where}: expected an integer, got {value!r}")
        return int(as_float)
    if tp is float:
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise PixelwiseError(f"{where}: expected a number, got {value!r}") from exc
    if tp is str:
        return str(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from a dict, checking keys and types. Unknown keys are an error."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise PixelwiseError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Dataclass (nested) -> plain dict/list/scalars, safe for YAML and JSON."""
    if isinstance(obj, enum.Enum):
        return obj.value
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=1e-4"`` -> (["train", "lr"], 1e-4). The value is parsed as YAML (so 4 -> int, true -> bool,
    [1,2] -> list); quote it to force a string."""
    if "=" not in text:
        raise PixelwiseError(f"override {text!r} must look like section.key=value (e.g. train.max_steps=4)")
    key, _, raw = text.partition("=")
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise PixelwiseError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return path, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply dotted overrides to a nested dict (in place) and return it. Free-form mappings (such as
    ``model.options``) accept new keys; dataclass sections reject unknown keys later, in from_dict."""
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise PixelwiseError(f"override {text!r}: {part!r} is a value, not a section")
            node = child
        node[path[-1]] = value
    return data


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise PixelwiseError(f"config file {path} does not exist") from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PixelwiseError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PixelwiseError(f"config file {path} must contain a mapping at the top level")
    return data


def save_yaml(data: Any, path: str | Path) -> None:
    from pixelwise.fileio import atomic_write_text

    atomic_write_text(Path(path), yaml.safe_dump(to_dict(data), sort_keys=False))


def list_presets(folder: Path = CONFIG_DIR) -> list[str]:
    """Names of the YAML presets in ``folder`` (training presets by default)."""
    return sorted(p.stem for p in folder.glob("*.yaml"))


def resolve_preset(name_or_path: str | Path, folder: Path = CONFIG_DIR, kind: str = "preset") -> Path:
    """A preset name (``deblurgan-bundled-tiny``) or a path to a YAML file -> the YAML path. ``folder`` and ``kind``
    ("preset", "study preset") select which presets a bare name refers to."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise PixelwiseError(f"{kind} file {candidate} does not exist")
        return candidate
    preset = folder / f"{name_or_path}.yaml"
    if not preset.is_file():
        raise PixelwiseError(
            f"unknown {kind} {name_or_path!r}; choose one of {list_presets(folder)} or give a path to a YAML file"
        )
    return preset
