"""Name -> model constructor registry (after timm's): ``create_model("asapnet", downsampling=32)``.

Each entry pairs a config dataclass (with per-name default overrides) and the ``nn.Module`` class built
from it. Generators and discriminators share one table; ``list_models(kind=...)`` filters it. The registry owns
names: :func:`create_model` records the name in ``model.registry_name`` (the model classes carry none), and
``save_pretrained`` writes it. Nothing below :mod:`pixelwise.models.base` imports this module, so there is no
import cycle through it (``tests/test_layering.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.models.asapnet import ASAPNetConfig, ASAPNetGenerator
from pixelwise.models.deblurgan import DeblurGANConfig, ResnetGenerator
from pixelwise.models.discriminators import (
    DiscriminatorConfig,
    PatchGANCritic,
    Pix2PixHDDiscriminator,
    SpadeDiscriminator,
)
from pixelwise.models.pix2pixhd import GlobalGenerator, LocalEnhancer, Pix2PixHDConfig

Kind = Literal["generator", "discriminator"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    config_cls: type
    constructor: Callable[[Any], nn.Module]
    kind: Kind
    description: str
    defaults: dict[str, Any] = field(default_factory=dict)  # overrides of config_cls's own defaults
    execution: dict[str, Any] = field(default_factory=dict)  # how the model runs (model.set_execution), e.g. hr_path


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(entry: ModelEntry) -> None:
    if entry.name in _REGISTRY:
        raise ValueError(f"model name {entry.name!r} is registered twice")
    _REGISTRY[entry.name] = entry


def get_entry(name: str) -> ModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise PixelwiseError(f"unknown model {name!r}; known models: {', '.join(list_models(None))}") from None


def list_models(kind: Kind | None = "generator") -> list[str]:
    """Registered names (generators by default; ``kind=None`` for all)."""
    return [n for n, e in _REGISTRY.items() if kind is None or e.kind == kind]


def execution_keys(name: str) -> tuple[str, ...]:
    """The execution settings model ``name`` takes beside its config (the config class's ``execution_keys``, e.g.
    ASAP-Net's ``hr_path``, a config field in older config.json files)."""
    return tuple(getattr(get_entry(name).config_cls, "execution_keys", ()))


def option_names(name: str) -> set[str]:
    """Every option model ``name`` accepts: its config's fields and its :func:`execution_keys`."""
    return {f.name for f in dataclasses.fields(get_entry(name).config_cls)} | set(execution_keys(name))


def split_execution(name: str, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config options, execution options) of ``options``: the :func:`execution_keys` are execution settings."""
    keys = execution_keys(name)
    return ({k: v for k, v in options.items() if k not in keys}, {k: v for k, v in options.items() if k in keys})


def model_config(name: str, **overrides: Any) -> Any:
    """The config dataclass for ``name`` with the entry's defaults and then ``overrides`` applied (execution
    settings among them, such as ``hr_path``, are not part of a config: :func:`create_model` takes them)."""
    entry = get_entry(name)
    values, _ = split_execution(name, {**entry.defaults, **overrides})
    valid = {f.name for f in dataclasses.fields(entry.config_cls)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise PixelwiseError(f"model {name!r} has no option(s) {unknown}; valid options: {sorted(valid)}")
    return entry.config_cls(**values)


def create_model(name: str, config: Any | None = None, *, init: str | None = None, **overrides: Any) -> nn.Module:
    """Build model ``name`` from ``config`` (a config dataclass) or from its defaults plus ``overrides``.
    ``init``: a generator's weight-init scheme (:data:`pixelwise.models.layers.INIT_SCHEMES`; the model applies
    it, then its config's own initialisations, once; None: the constructor's default, PyTorch's).
    Execution settings (the entry's, then those among ``overrides``, e.g. ``hr_path``) go to
    ``model.set_execution``."""
    entry = get_entry(name)
    overrides, execution = split_execution(name, overrides)
    if config is None:
        config = model_config(name, **overrides)
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    from pixelwise.models.checks import check_model_config

    check_model_config(name, config)
    model = entry.constructor(config) if init is None else entry.constructor(config, init=init)
    model.registry_name = name  # instance attribute: which entry rebuilds it (save_pretrained records it)
    execution = {**entry.execution, **execution}
    if execution:
        model.set_execution(**execution)
    return model


_ASAP_RGB = dict(input_mode="rgb", label_nc=3, instance_edge=False, lr_instance=False)

register_model(ModelEntry("asapnet", ASAPNetConfig, ASAPNetGenerator, "generator",
                          "ASAP-Net generator, label maps -> photos (Cityscapes 256x512 defaults)"))
register_model(ModelEntry("pix2pixhd", Pix2PixHDConfig, GlobalGenerator, "generator",
                          "pix2pixHD global generator G1 (Cityscapes 512p defaults)"))
register_model(ModelEntry("pix2pixhd-local", Pix2PixHDConfig, LocalEnhancer, "generator",
                          "pix2pixHD local enhancer G2(G1) (Cityscapes 1024p defaults)",
                          dict(netG="local", ngf=32)))
register_model(ModelEntry("deblurgan", DeblurGANConfig, ResnetGenerator, "generator",
                          "DeblurGAN 2018 ResNet generator with the global skip"))
register_model(ModelEntry("deblurgan-asap", ASAPNetConfig, ASAPNetGenerator, "generator",
                          "ASAP-Net generator in RGB mode with DeblurGAN's global skip",
                          dict(_ASAP_RGB, global_residual=True)))
register_model(ModelEntry("asapnet-reference", ASAPNetConfig, ASAPNetGenerator, "generator",
                          "ASAP-Net with the reference high-res path (faithful port; same function, slower)",
                          execution=dict(hr_path="reference")))
register_model(ModelEntry("deblurgan-asap-reference", ASAPNetConfig, ASAPNetGenerator, "generator",
                          "DeblurGAN-ASAP with the reference high-res path (same function, slower)",
                          dict(_ASAP_RGB, global_residual=True), execution=dict(hr_path="reference")))
register_model(ModelEntry("pix2pixhd-multiscale", DiscriminatorConfig, Pix2PixHDDiscriminator, "discriminator",
                          "pix2pixHD multi-scale PatchGAN (3 scales, conditional, features for FM)"))
register_model(ModelEntry("spade-multiscale", DiscriminatorConfig, SpadeDiscriminator, "discriminator",
                          "SPADE/ASAP-Net multi-scale discriminator (spectral norm + InstanceNorm)",
                          dict(n_layers=4, num_D=2)))
register_model(ModelEntry("patchgan", DiscriminatorConfig, PatchGANCritic, "discriminator",
                          "DeblurGAN PatchGAN critic (unconditional, no sigmoid)",
                          dict(input_nc=3, n_layers=3, num_D=1)))
