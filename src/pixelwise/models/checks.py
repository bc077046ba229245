"""Checks between configs and weights, each one line naming the file or option and the fix:

- :func:`check_model_config`: an architecture config is sane before a model is built (positive widths and
  channel counts, non-negative block/layer counts, the family's own rules such as ASAP-Net's powers of two);
  called by :func:`pixelwise.registry.create_model`.
- :func:`check_state_shapes`: a state dict fits a model tensor for tensor; a mismatch names the key, both
  shapes and the config field that most likely differs (found by rebuilding the model on the meta device
  with candidate values, so no memory is used).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from pixelwise.errors import PixelwiseError


def _int_fields(config: Any) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(config)
            if isinstance(getattr(config, f.name), int) and not isinstance(getattr(config, f.name), bool)]


def check_model_config(name: str, config: Any, where: str = "") -> None:
    """Raise a PixelwiseError for a config no model can be built from (e.g. ``ngf=-8``)."""
    if not dataclasses.is_dataclass(config):
        return
    prefix = f"{where}: " if where else ""
    for f in _int_fields(config):
        value = getattr(config, f.name)
        counts = f.name.startswith("n_")  # block / layer / downsampling counts may be 0
        low = 0 if counts else 1
        if value < low:
            kind = "a count, >= 0" if counts else "a width or channel count, >= 1"
            raise PixelwiseError(f"{prefix}model {name!r}: {f.name}={value} is invalid ({kind}); fix {f.name} "
                                 f"in the model config")
    validate = getattr(config, "validate", None)
    if callable(validate):
        try:
            validate()
        except ValueError as exc:
            if isinstance(exc, PixelwiseError):
                raise
            raise PixelwiseError(f"{prefix}model {name!r}: {exc}; fix the model config") from None


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
    from pixelwise.registry import create_model

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
