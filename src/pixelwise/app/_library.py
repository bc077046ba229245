"""Every pixelwise name the app uses, imported in this one file (the app is application code on top of the
library; when library internals move, only this file changes). Imported lazily by the app's modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixelwise.bench import count_flops, parse_size, prepare_call, run_benchmark
from pixelwise.config import list_presets, load_yaml, to_dict
from pixelwise.data.blur import motion_blur, sample_kernel
from pixelwise.data.cityscapes import class_names as cityscapes_class_names
from pixelwise.data.config import DataConfig
from pixelwise.data.palette import label_palette
from pixelwise.data.strength import parse_strength
from pixelwise.data.transforms import (
    label_to_tensor,
    photo_to_tensor,
    read_label,
    read_photo,
    resize_label,
    tensor_to_photo,
)
from pixelwise.deblur import DEFAULT_DEBLUR_MODEL
from pixelwise.errors import PixelwiseError
from pixelwise.hub import PACKAGED_ORG, packaged_names
from pixelwise.inference import InputSpec, check_labels, input_spec, prepare_model, resolve_device, translate_image
from pixelwise.models.card import CARD_NAME, CardSummary, read_card, summary_markdown
from pixelwise.models.io import from_pretrained, load_generator, resolve_generator
from pixelwise.presets import is_preset
from pixelwise.registry import create_model, list_models
from pixelwise.rundir import STEP_DIR


def untrained_generator(preset: str) -> Any:
    """A randomly initialised generator of a training preset (its data section fixes the input layout)."""
    from pixelwise.train.config import load_run_config
    from pixelwise.train.recipes import build_generator

    return build_generator(load_run_config(preset))


def packaged_root() -> Path:
    """Where the shipped models live (read at call time: tests point it elsewhere)."""
    from pixelwise import hub

    return hub.PACKAGED_ROOT


def preset_data(preset: str) -> DataConfig:
    from pixelwise.train.config import load_run_config

    return load_run_config(preset).data


def bundled_labels_folder(label_nc: int) -> Path | None:
    """The bundled label maps' folder when it has already been made (never builds it: startup stays fast)."""
    from pixelwise.data.bundled import VERSION, cache_dir

    folder = cache_dir() / "bundled" / f"labels-k{label_nc}-{VERSION}"
    return folder if folder.is_dir() else None


__all__ = [
    "CARD_NAME",
    "DEFAULT_DEBLUR_MODEL",
    "PACKAGED_ORG",
    "STEP_DIR",
    "CardSummary",
    "DataConfig",
    "InputSpec",
    "PixelwiseError",
    "bundled_labels_folder",
    "check_labels",
    "cityscapes_class_names",
    "count_flops",
    "create_model",
    "from_pretrained",
    "input_spec",
    "is_preset",
    "label_palette",
    "label_to_tensor",
    "list_models",
    "list_presets",
    "load_generator",
    "load_yaml",
    "motion_blur",
    "packaged_names",
    "packaged_root",
    "parse_size",
    "parse_strength",
    "photo_to_tensor",
    "prepare_call",
    "prepare_model",
    "preset_data",
    "read_card",
    "read_label",
    "read_photo",
    "resize_label",
    "resolve_device",
    "resolve_generator",
    "run_benchmark",
    "sample_kernel",
    "summary_markdown",
    "tensor_to_photo",
    "to_dict",
    "translate_image",
    "untrained_generator",
]
