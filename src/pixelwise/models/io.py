"""Opening model files: ``config.json`` (registry name + architecture config) beside the weights, so a model
reloads without any training flags (the diffusers convention). Writing them is
:meth:`pixelwise.models.base.PretrainedModel.save_pretrained`; the run-directory layout is :mod:`pixelwise.rundir`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixelwise import rundir
from pixelwise.errors import PixelwiseError
from pixelwise.models.base import (
    CONFIG_NAME,
    FORMAT_VERSION,
    WEIGHTS_NAME,
    load_state_dict,
    model_record,
    save_pretrained,
    save_state_dict,
)


def model_from_record(record: dict[str, Any], where: str = "config.json") -> nn.Module:
    from pixelwise.config import from_dict
    from pixelwise.registry import create_model, get_entry

    if "model" not in record or "config" not in record:
        raise PixelwiseError(f"{where} lacks the 'model' and 'config' fields of a pixelwise model file")
    entry = get_entry(record["model"])
    config = from_dict(entry.config_cls, record["config"], where=f"{where}:config")
    return create_model(record["model"], config=config)


def from_pretrained(directory: str | Path, weights_name: str = WEIGHTS_NAME,
                    device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild a model from ``config.json`` + weights in ``directory``; strict key check; eval mode."""
    directory = Path(directory)
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
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise PixelwiseError(
            f"{directory / weights_name} does not match {record['model']}: "
            f"missing {result.missing_keys[:8]}, unexpected {result.unexpected_keys[:8]}"
        )
    return model.to(device).eval()


def resolve_generator(path: str | Path) -> tuple[Path, str]:
    """A model dir, a checkpoint dir (``step_N/``) or a run dir -> (directory, weights file name)."""
    path = Path(path)
    if not path.is_dir():
        raise PixelwiseError(f"{path} is not a directory: give a model dir (config.json + model.safetensors), "
                             f"a checkpoint dir or a run dir")
    if (path / WEIGHTS_NAME).exists():
        return path, WEIGHTS_NAME
    if (path / rundir.GENERATOR).exists():
        return path, rundir.GENERATOR
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
           "model_from_record", "model_record", "resolve_generator", "save_pretrained", "save_state_dict"]
