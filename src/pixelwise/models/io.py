"""Model files: ``config.json`` (registry name + architecture config) beside ``model.safetensors``,
so a model reloads without any training flags (the diffusers convention)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from pixelwise.errors import PixelwiseError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1


def model_record(model: nn.Module, name: str | None = None) -> dict[str, Any]:
    """The JSON-able description that rebuilds ``model``'s architecture."""
    from pixelwise.config import to_dict

    name = name or getattr(model, "registry_name", "")
    if not name:
        raise ValueError(f"{type(model).__name__} has no registry name; pass name=")
    return {"format_version": FORMAT_VERSION, "model": name, "config": to_dict(model.config)}


def model_from_record(record: dict[str, Any], where: str = "config.json") -> nn.Module:
    from pixelwise.config import from_dict
    from pixelwise.registry import create_model, get_entry

    if "model" not in record or "config" not in record:
        raise PixelwiseError(f"{where} lacks the 'model' and 'config' fields of a pixelwise model file")
    entry = get_entry(record["model"])
    config = from_dict(entry.config_cls, record["config"], where=f"{where}:config")
    return create_model(record["model"], config=config)


def save_state_dict(state: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Atomically write a state dict as safetensors (tensors made contiguous and moved to CPU)."""
    from pixelwise.fileio import atomic_write

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.exists():
        raise PixelwiseError(f"weights file {path} does not exist")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises several error types for damaged files
        raise PixelwiseError(f"weights file {path} is damaged or not safetensors ({exc})") from exc


def save_pretrained(model: nn.Module, directory: str | Path, name: str | None = None,
                    weights_name: str = WEIGHTS_NAME) -> Path:
    from pixelwise.fileio import atomic_write_json

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_state_dict(model.state_dict(), directory / weights_name, metadata={"format": "pt"})
    atomic_write_json(directory / CONFIG_NAME, model_record(model, name))
    return directory


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
    from pixelwise.models.checks import check_state_shapes

    check_state_shapes(model, state, str(directory / weights_name), str(config_path), record["model"])
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise PixelwiseError(
            f"{directory / weights_name} does not match {record['model']}: "
            f"missing {result.missing_keys[:8]}, unexpected {result.unexpected_keys[:8]}"
        )
    return model.to(device).eval()


# Layout of a training run, as written by pixelwise.train.checkpoint (that module owns it; these names are
# repeated here only so that inference can open a run without importing the training stack).
RUN_CHECKPOINTS = "checkpoints"
RUN_LATEST = "latest"
CHECKPOINT_GENERATOR = "generator.safetensors"


def resolve_generator(path: str | Path) -> tuple[Path, str]:
    """A model dir, a checkpoint dir (``step_N/``) or a run dir -> (directory, weights file name)."""
    path = Path(path)
    if not path.is_dir():
        raise PixelwiseError(f"{path} is not a directory: give a model dir (config.json + model.safetensors), "
                             f"a checkpoint dir or a run dir")
    from pixelwise.models.manifest import verify_for_loading

    for weights in (WEIGHTS_NAME, CHECKPOINT_GENERATOR):
        if (path / weights).exists():
            verify_for_loading(path, [weights, CONFIG_NAME])  # when a manifest.json exists: refuse damage
            return path, weights
    latest = path / RUN_CHECKPOINTS / RUN_LATEST
    if latest.exists():
        return resolve_generator(latest.resolve())
    raise PixelwiseError(
        f"{path} holds no model: expected {WEIGHTS_NAME} (model dir), {CHECKPOINT_GENERATOR} (checkpoint dir) "
        f"or {RUN_CHECKPOINTS}/{RUN_LATEST} (run dir)"
    )


def load_generator(path: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """Open a model dir, a training checkpoint dir or a run dir (its latest checkpoint), in eval mode."""
    directory, weights = resolve_generator(path)
    return from_pretrained(directory, weights_name=weights, device=device)
