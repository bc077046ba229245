"""Checks between configs and weights, each one line naming the file or option and the fix:

- :func:`check_model_config`: an architecture config is sane before a model is built (positive widths and
  channel counts, non-negative block/layer counts, the family's own rules such as ASAP-Net's powers of two);
  called by :func:`pixelwise.registry.create_model`.
(Whether a state dict fits a model, :func:`pixelwise.models.io.check_state_shapes`, lives with the loaders:
it rebuilds models through the registry, which itself calls :func:`check_model_config`.)
"""

from __future__ import annotations

import dataclasses
from typing import Any

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
        # block / layer / downsampling counts (n_*, or named in the config's count_fields) may be 0
        counts = f.name.startswith("n_") or f.name in getattr(config, "count_fields", ())
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
