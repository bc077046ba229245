"""Opening model files: ``config.json`` (registry name + architecture config) beside the weights, so a model
reloads without any training flags (the diffusers convention). Writing them is
:meth:`pixelwise.models.base.PretrainedModel.save_pretrained`; the run-directory layout is :mod:`pixelwise.rundir`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixelwise import rundir
from pixelwise.errors import PixelwiseError
from pixelwise.hub import resolve_model_dir
from pixelwise.models.base import (
    CONFIG_NAME,
    FORMAT_VERSION,
    WEIGHTS_NAME,
    load_state_dict,
    model_record,
    save_pretrained,
    save_state_dict,
)
from pixelwise.models.checks import _int_fields, check_model_config
from pixelwise.registry import create_model, get_entry, split_execution


def model_from_record(record: dict[str, Any], where: str = "config.json") -> nn.Module:
    from pixelwise.config import from_dict

    if "model" not in record or "config" not in record:
        raise PixelwiseError(f"{where} lacks the 'model' and 'config' fields of a pixelwise model file")
    if not isinstance(record["config"], dict):
        raise PixelwiseError(f"{where}: 'config' must be a mapping of options, got {record['config']!r}")
    entry = get_entry(record["model"])
    options, execution = split_execution(record["model"], dict(record["config"]))  # older files: hr_path
    config = from_dict(entry.config_cls, options, where=f"{where}:config")
    return create_model(record["model"], config=config, **execution)


# --- does a state dict fit a model (one line naming the key, both shapes and the likely config field) ----------
def _mismatches(model: nn.Module, state: Mapping[str, torch.Tensor]) -> list[tuple[str, tuple, tuple]]:
    own = model.state_dict()
    return [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items()  # in the model's order
            if k in state and tuple(state[k].shape) != tuple(v.shape)]


def _candidates(value: int, file_shape: tuple, model_shape: tuple) -> list[int]:
    out = set()
    for a, b in zip(file_shape, model_shape):
        if a != b and b:
            if a * value % b == 0:
                out.add(a * value // b)
            out.add(a)
    return sorted(v for v in out if v >= 1 and v != value)


def likely_field(name: str, config: Any, state: Mapping[str, torch.Tensor], key: str, file_shape: tuple,
                 model_shape: tuple) -> str | None:
    """``"ngf=16 (config says 8)"`` when rebuilding with that one change makes every shape fit (or at least
    ``key``'s); None when no single integer field explains it."""
    partial = None
    for f in _int_fields(config):
        current = getattr(config, f.name)
        for value in _candidates(current, file_shape, model_shape):
            try:
                trial = dataclasses.replace(config, **{f.name: value})
                check_model_config(name, trial)
                with torch.device("meta"):
                    model = create_model(name, config=trial)
            except Exception:  # a candidate that does not build is simply not the answer
                continue
            own = model.state_dict()
            if key in own and tuple(own[key].shape) == file_shape:
                if not _mismatches(model, state) and set(own) == set(state):
                    return f"{f.name}={value} (config.json says {current})"
                partial = partial or f"{f.name}={value} (config.json says {current})"
    return partial


def check_state_shapes(model: nn.Module, state: Mapping[str, torch.Tensor], weights: str, config_file: str,
                       name: str | None = None) -> None:
    """Raise one line when a tensor of ``state`` has another shape than ``model``'s tensor of that name."""
    bad = _mismatches(model, state)
    if not bad:
        return
    key, file_shape, model_shape = bad[0]
    name = name or getattr(model, "registry_name", "")
    guess = None
    config = getattr(model, "config", None)
    if name and dataclasses.is_dataclass(config):
        guess = likely_field(name, config, state, key, file_shape, model_shape)
    hint = (f"the weights look like {guess}: fix that field in {config_file}" if guess else
            f"{config_file} does not describe the network these weights were trained with: use the config.json "
            f"saved with them")
    more = f" (and {len(bad) - 1} more tensors)" if len(bad) > 1 else ""
    raise PixelwiseError(
        f"{weights} does not match {config_file}: tensor {key} has shape {list(file_shape)} in the file but "
        f"{list(model_shape)} in the model built from the config{more}; {hint}"
    )


def from_pretrained(directory: str | Path, weights_name: str = WEIGHTS_NAME,
                    device: torch.device | str = "cpu", revision: str | None = None) -> nn.Module:
    """Rebuild a model from ``config.json`` + weights in ``directory``; strict key check; eval mode.
    ``directory``: a local folder, ``pixelwise/<shipped name>`` or a Hugging Face Hub repo id ``org/name``
    (``revision``: a Hub branch, tag or commit; :func:`pixelwise.hub.resolve_model_dir`)."""
    directory = resolve_model_dir(directory, revision=revision)
    config_path = directory / CONFIG_NAME
    if not config_path.exists():
        raise PixelwiseError(
            f"{directory} is not a pixelwise model directory: {CONFIG_NAME} is missing "
            f"(make one with model.save_pretrained(dir) or `pixelwise convert`)"
        )
    try:
        record = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise PixelwiseError(f"{config_path} is not valid JSON: {exc}") from exc
    model = model_from_record(record, where=str(config_path))
    state = load_state_dict(directory / weights_name)
    check_state_shapes(model, state, str(directory / weights_name), str(config_path), record["model"])
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise PixelwiseError(
            f"{directory / weights_name} does not match {record['model']}: "
            f"missing {result.missing_keys[:8]}, unexpected {result.unexpected_keys[:8]}"
        )
    return model.to(device).eval()


def write_model_card(directory: str | Path, update: bool = False, **card_info: Any) -> bool:
    """Rewrite the model card ``README.md`` of the saved model folder ``directory`` (weights and config.json
    untouched) with :func:`pixelwise.models.card.model_card`'s ``card_info`` (license, tags, datasets, metrics,
    summary, sections, metric_names, title). ``update``: keep the card there and only replace (or add) its
    ``sections`` and list ``metric_names`` (:func:`~pixelwise.models.card.update_card`). False, and nothing
    written, when the README.md there was not written by pixelwise (its mark line is gone)."""
    from pixelwise.fileio import atomic_write_text
    from pixelwise.models import card as cards

    directory = Path(directory)
    model = from_pretrained(directory)
    readme = directory / cards.CARD_NAME
    existing = readme.read_text(errors="replace") if readme.exists() else None
    if not cards.may_overwrite(existing):
        return False
    if update and existing is not None:
        unknown = sorted(set(card_info) - {"sections", "metric_names"})
        if unknown:
            raise ValueError(f"write_model_card(update=True) replaces sections only; got {unknown}")
        atomic_write_text(readme, cards.update_card(existing, card_info.get("sections", ()),
                                                    card_info.get("metric_names", ())))
        return True
    record = json.loads((directory / CONFIG_NAME).read_text())
    parameters = sum(p.numel() for p in model.parameters())
    atomic_write_text(readme, cards.model_card(record, parameters=parameters, **card_info))
    return True


def resolve_generator(path: str | Path) -> tuple[Path, str]:
    """A model dir, a checkpoint dir (``step_N/``), a run dir, ``pixelwise/<shipped name>`` or a Hugging Face
    Hub repo id ``org/name`` -> (directory, weights file name)."""
    path = resolve_model_dir(path)
    if not path.is_dir():
        raise PixelwiseError(f"{path} is not a directory: give a model dir (config.json + model.safetensors), "
                             f"a checkpoint dir, a run dir or a Hub repo id org/name")
    from pixelwise.models.manifest import verify_for_loading

    for weights in (WEIGHTS_NAME, rundir.GENERATOR):
        if (path / weights).exists():
            verify_for_loading(path, [weights, CONFIG_NAME])  # when a manifest.json exists: refuse damage
            return path, weights
    latest = rundir.latest_link(path)
    if latest.exists():
        return resolve_generator(latest.resolve())
    raise PixelwiseError(
        f"{path} holds no model: expected {WEIGHTS_NAME} (model dir), {rundir.GENERATOR} (checkpoint dir) "
        f"or {rundir.CHECKPOINTS}/{rundir.LATEST} (run dir)"
    )


def load_generator(path: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """Open a model dir, a training checkpoint dir or a run dir (its latest checkpoint), in eval mode."""
    directory, weights = resolve_generator(path)
    return from_pretrained(directory, weights_name=weights, device=device)


__all__ = ["CONFIG_NAME", "FORMAT_VERSION", "WEIGHTS_NAME", "from_pretrained", "load_generator", "load_state_dict",
           "model_from_record", "model_record", "resolve_generator", "save_pretrained", "save_state_dict",
           "write_model_card"]
