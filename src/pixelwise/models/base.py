"""What every pixelwise model shares: :class:`PretrainedModel` (a typed ``config`` + ``save_pretrained``), the
model-file format (``config.json`` beside ``model.safetensors``, the diffusers convention) and :class:`InputSpec`,
the contract by which a generator config says what input it takes.

Names belong to the registry (:mod:`pixelwise.registry`): :func:`pixelwise.create_model` records the name it
built a model under in ``model.registry_name``, and ``save_pretrained`` writes that name. Loading
(``from_pretrained``) lives in :mod:`pixelwise.models.io`, above the registry, so nothing here imports it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.input_kind import InputKind

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class InputSpec:
    """What a generator takes: integer label maps (``labels``: one-hot [+ dontcare] [+ instance edge] built from
    ids) or photos in [-1, 1] (``photo``). Every generator config answers ``input_spec()``; inference, bench,
    export, evaluation and the training recipes read it instead of looking at model classes."""

    kind: InputKind  # InputKind or its name ("labels", "photo"; the aliases too)
    multiple: int  # H and W must be multiples of this
    label_channels: int = 0  # one-hot channels (labels): ids must be < this (255 allowed when ``dontcare``)
    instance_edge: bool = False  # an instance edge channel follows the one-hot channels
    dontcare: bool = False  # id 255 maps to the last one-hot channel
    label_fast_path: bool = False  # the model has ``forward_labels`` (ASAP-Net): no dense one-hot is built
    channels: int = 0  # channels of the dense tensor ``forward`` takes

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", InputKind(self.kind))


def input_spec(model: nn.Module, instance_edge: bool | None = None) -> InputSpec:
    """The :class:`InputSpec` of a generator: its config's ``input_spec()`` (a module without one, but with a
    ``size_multiple`` attribute, is taken as a photo model). ``instance_edge`` overrides what a label model without
    the fast label path records about its last input channel (for pix2pixHD models saved before the config
    recorded it, where the official default, an edge map, is read)."""
    config = getattr(model, "config", None)
    if not hasattr(config, "input_spec"):
        return InputSpec("photo", int(getattr(model, "size_multiple", 1)))
    spec: InputSpec = config.input_spec()
    if instance_edge is not None and spec.kind == "labels" and not spec.label_fast_path:
        spec = dataclasses.replace(spec, instance_edge=instance_edge,
                                   label_channels=spec.channels - int(instance_edge))
    return spec


def model_record(model: nn.Module, name: str | None = None) -> dict[str, Any]:
    """The JSON-able description that rebuilds ``model``'s architecture: its registry name and config."""
    from pixelwise.config import to_dict

    name = name or getattr(model, "registry_name", None)
    if not name:
        raise ValueError(f"{type(model).__name__} has no registry name: build it with pixelwise.create_model, "
                         f"or pass name=")
    return {"format_version": FORMAT_VERSION, "model": name, "config": to_dict(model.config)}


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
                    weights_name: str = WEIGHTS_NAME, card: bool = True, weights_dtype: torch.dtype | None = None,
                    **card_info: Any) -> Path:
    """Write ``config.json`` (:func:`model_record`), the weights and (``card``) the model card ``README.md``
    into ``directory``. ``weights_dtype`` (e.g. ``torch.float16``: half the file size) stores the floating
    tensors in that dtype; loading casts them to the model's. ``card_info``:
    :func:`pixelwise.models.card.model_card`'s ``license``, ``tags``, ``datasets``, ``metrics`` (name -> value),
    ``summary``, ``sections`` and ``metric_names``."""
    from pixelwise.fileio import atomic_write_json, atomic_write_text
    from pixelwise.models import card as cards

    if weights_dtype is not None and not weights_dtype.is_floating_point:
        raise PixelwiseError(f"weights_dtype={weights_dtype}: give a floating dtype such as torch.float16")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record = model_record(model, name)
    state = model.state_dict()
    if weights_dtype is not None:
        state = {k: v.to(weights_dtype) if v.is_floating_point() else v for k, v in state.items()}
    save_state_dict(state, directory / weights_name, metadata={"format": "pt"})
    atomic_write_json(directory / CONFIG_NAME, record)
    readme = directory / cards.CARD_NAME
    if card and cards.may_overwrite(readme.read_text(errors="replace") if readme.exists() else None):
        parameters = sum(p.numel() for p in model.parameters())
        atomic_write_text(readme, cards.model_card(record, parameters=parameters, **card_info))
    return directory


class PretrainedModel(nn.Module):
    """Base of every pixelwise model: holds its typed ``config`` and the registry name it was built under.

    ``save_pretrained(dir)`` writes ``config.json`` + ``model.safetensors``; ``pixelwise.from_pretrained(dir)``
    rebuilds the model from those two files alone.
    """

    def __init__(self, config: Any) -> None:
        super().__init__()
        if not dataclasses.is_dataclass(config):
            raise TypeError(f"{type(self).__name__} needs a dataclass config, got {type(config).__name__}")
        self.config = config
        self.registry_name: str | None = None  # set by pixelwise.create_model

    def initialise_(self, init: str = "pytorch") -> None:
        """A fresh model's weights, each step once: the ``init`` scheme (:func:`pixelwise.models.layers.init_weights`;
        ``pytorch`` keeps the layers' own defaults), then the config's own initialisations (:meth:`special_init_`).
        Every generator's ``__init__(config, init=...)`` ends with it."""
        from pixelwise.models.layers import init_weights

        init_weights(self, init)
        self.special_init_()

    def special_init_(self) -> None:
        """The initialisations the config asks for on top of the scheme (e.g. ``zero_init_output``); none here."""

    def save_pretrained(self, directory: str | Path, name: str | None = None, **card_info: Any) -> None:
        """``config.json`` + ``model.safetensors`` + the model card ``README.md`` (``card_info``: license, tags,
        datasets, metrics, summary; ``card=False`` writes none)."""
        save_pretrained(self, directory, name=name, **card_info)

    def push_to_hub(self, repo_id: str, **options: Any) -> str:
        """Save into a temporary folder and upload it to the Hugging Face Hub (:func:`pixelwise.hub.push_to_hub`;
        needs ``pip install "pixelwise[hub]"``). Returns the commit URL."""
        from pixelwise.hub import push_to_hub

        return push_to_hub(self, repo_id, **options)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


__all__ = ["CONFIG_NAME", "FORMAT_VERSION", "WEIGHTS_NAME", "InputKind", "InputSpec", "PretrainedModel", "input_spec",
           "load_state_dict", "model_record", "save_pretrained", "save_state_dict"]
