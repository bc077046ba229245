"""Datasets: files -> validated samples -> batches (integer label maps, images in [-1, 1]).

Public API: :class:`DataConfig`, :func:`build_dataset`, :func:`network_input`, :func:`input_channels`.
Torch is imported only when these functions run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pixelwise.data.config import DataConfig

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset


def build_dataset(config: DataConfig, split: str = "train", train: bool = True) -> Dataset:
    """See :func:`pixelwise.data.build.build_dataset`."""
    from pixelwise.data.build import build_dataset as _build

    return _build(config, split, train)


def network_input(batch: dict[str, Any], config: DataConfig) -> torch.Tensor:
    """See :func:`pixelwise.data.build.network_input`."""
    from pixelwise.data.build import network_input as _network_input

    return _network_input(batch, config)


def input_channels(config: DataConfig) -> int:
    """See :func:`pixelwise.data.build.input_channels`."""
    from pixelwise.data.build import input_channels as _input_channels

    return _input_channels(config)


__all__ = ["DataConfig", "build_dataset", "input_channels", "network_input"]
