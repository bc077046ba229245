"""Compatibility with the official code bases (ASAP-Net f27f202, pix2pixHD 14b3b3c, DeblurGAN b15a520).

Public, stable API (users and acceptance checks rely on these names):
- :func:`build` (family, official options dict) -> our model in eval mode, with an equivalent config;
- :func:`load` (model, official .pth path or state dict): strict load, with checkpoint cleaning;
- :func:`preprocess_semantic` (label, instance, options): the official network input, bit-identical;
- :func:`convert`: official checkpoint + options -> a ``save_pretrained`` directory (``pixelwise convert``).

This module is the one place that knows official option names; everything else uses pixelwise configs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.ops import instance_edges, one_hot_labels
from pixelwise.registry import create_model

FAMILIES = ("asapnet", "pix2pixhd", "deblurgan")

# Defaults of the official option parsers. ASAP-Net's are those its parser gives for dataset_mode
# cityscapes (the paper's main setting), read off the full-size manifest.
ASAPNET_DEFAULTS: dict[str, Any] = {
    "label_nc": 35, "contain_dontcare_label": False, "no_instance_edge": False, "no_instance_dist": True,
    "lr_instance": True, "no_one_hot": False, "crop_size": 512, "aspect_ratio": 2.0, "learned_ds_factor": 16,
    "lr_width": 64, "lr_max_width": 1024, "lr_depth": 7, "hr_width": 64, "hr_depth": 5, "hr_coor": "cosine",
    "reflection_pad": False, "replicate_pad": False, "norm_G": "instanceaffine", "output_nc": 3,
    "netG": "ASAPNets",
}
PIX2PIXHD_DEFAULTS: dict[str, Any] = {
    "label_nc": 35, "input_nc": 3, "output_nc": 3, "no_instance": False, "instance_feat": False,
    "label_feat": False, "feat_num": 3, "netG": "global", "ngf": 64, "n_downsample_global": 4,
    "n_blocks_global": 9, "n_local_enhancers": 1, "n_blocks_local": 3, "norm": "instance",
}
DEBLURGAN_DEFAULTS: dict[str, Any] = {
    "input_nc": 3, "output_nc": 3, "ngf": 64, "which_model_netG": "resnet_9blocks", "norm": "instance",
    "no_dropout": False, "learn_residual": False,
}
_DEFAULTS = {"asapnet": ASAPNET_DEFAULTS, "pix2pixhd": PIX2PIXHD_DEFAULTS, "deblurgan": DEBLURGAN_DEFAULTS}


def _with_defaults(family: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    if family not in _DEFAULTS:
        raise PixelwiseError(f"unknown official family {family!r}; use one of {FAMILIES}")
    return {**_DEFAULTS[family], **dict(options or {})}


def asapnet_downsampling(options: Mapping[str, Any]) -> int:
    """The official S = crop_size // (16 * aspect_ratio): the parameter grid is 16 cells tall."""
    return int(options["crop_size"] // (16 * options["aspect_ratio"]))


def config_from_options(family: str, options: Mapping[str, Any] | None) -> tuple[str, Any]:
    """Official options -> (registry name, pixelwise config)."""
    from pixelwise.registry import model_config

    opt = _with_defaults(family, options)
    if family == "asapnet":
        if opt.get("netG", "ASAPNets") != "ASAPNets":
            raise PixelwiseError(f"netG={opt['netG']!r}: only the ASAPNets generator is supported")
        if not opt["no_instance_dist"]:
            raise PixelwiseError("no_instance_dist=False (instance distance maps) is not supported; set it to True")
        if opt.get("hr_coor", "cosine") != "cosine":
            raise PixelwiseError(f"hr_coor={opt['hr_coor']!r}: only the cosine positional encoding is supported")
        if opt.get("norm_G", "instanceaffine") != "instanceaffine":
            raise PixelwiseError(f"norm_G={opt['norm_G']!r}: only instanceaffine is supported")
        s = asapnet_downsampling(opt)
        if s < 2 or s & (s - 1):
            raise PixelwiseError(
                f"crop_size={opt['crop_size']} and aspect_ratio={opt['aspect_ratio']} give S={s}, "
                f"which is not a power of two >= 2"
            )
        padding = "reflect" if opt["reflection_pad"] else "replicate" if opt["replicate_pad"] else "zero"
        rgb = bool(opt["no_one_hot"])
        config = model_config(
            "asapnet", input_mode="rgb" if rgb else "semantic", label_nc=opt["label_nc"],
            contain_dontcare_label=bool(opt["contain_dontcare_label"]) and not rgb,
            instance_edge=not opt["no_instance_edge"] and not rgb, lr_instance=bool(opt["lr_instance"]),
            downsampling=s, learned_ds_factor=int(opt["learned_ds_factor"]), lr_width=opt["lr_width"],
            lr_max_width=opt["lr_max_width"], lr_depth=opt["lr_depth"], hr_width=opt["hr_width"],
            hr_depth=opt["hr_depth"], padding=padding, output_nc=opt["output_nc"],
        )
        return "asapnet", config
    if family == "pix2pixhd":
        input_nc = opt["input_nc"] if opt["label_nc"] == 0 else opt["label_nc"]
        if not opt["no_instance"]:
            input_nc += 1
        if opt["instance_feat"] or opt["label_feat"]:
            input_nc += opt["feat_num"]
        if opt["netG"] not in ("global", "local"):
            raise PixelwiseError(f"netG={opt['netG']!r}: supported are 'global' and 'local'")
        name = "pix2pixhd" if opt["netG"] == "global" else "pix2pixhd-local"
        config = model_config(
            name, netG=opt["netG"], input_nc=input_nc, output_nc=opt["output_nc"], ngf=opt["ngf"],
            input_mode="rgb" if opt["label_nc"] == 0 else "semantic", instance_edge=not opt["no_instance"],
            n_downsample_global=opt["n_downsample_global"], n_blocks_global=opt["n_blocks_global"],
            n_local_enhancers=opt["n_local_enhancers"], n_blocks_local=opt["n_blocks_local"], norm=opt["norm"],
        )
        return name, config
    blocks = {"resnet_9blocks": 9, "resnet_6blocks": 6}
    if opt["which_model_netG"] not in blocks:
        raise PixelwiseError(f"which_model_netG={opt['which_model_netG']!r}: supported are {sorted(blocks)}")
    config = model_config(
        "deblurgan", input_nc=opt["input_nc"], output_nc=opt["output_nc"], ngf=opt["ngf"],
        n_blocks=blocks[opt["which_model_netG"]], norm=opt["norm"], dropout=not opt["no_dropout"],
        learn_residual=bool(opt["learn_residual"]),
    )
    return "deblurgan", config


def build(family: str, options: Mapping[str, Any] | None = None) -> nn.Module:
    """Our model for the official ``family`` ("asapnet", "pix2pixhd", "deblurgan") and option dict, in eval
    mode. Missing options take the official defaults."""
    name, config = config_from_options(family, options)
    return create_model(name, config=config).eval()


def clean_state_dict(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Strip DataParallel ``module.`` prefixes and drop the PyTorch-0.3 InstanceNorm running buffers
    (``running_mean``/``running_var``/``num_batches_tracked``), which never affect an InstanceNorm output."""
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    cleaned = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        while key.startswith("module."):
            key = key[len("module."):]
        cleaned[key] = value
    return cleaned


def _drop_instance_norm_buffers(model: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    norm_prefixes = {
        f"{name}." for name, module in model.named_modules()
        if isinstance(module, nn.InstanceNorm2d) and not module.track_running_stats
    }
    suffixes = ("running_mean", "running_var", "num_batches_tracked")
    return {
        k: v for k, v in state.items()
        if not (k.rsplit(".", 1)[-1] in suffixes and f"{k.rsplit('.', 1)[0]}." in norm_prefixes)
    }


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.exists():
        raise PixelwiseError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        from pixelwise.models.io import load_state_dict

        return load_state_dict(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PixelwiseError(
            f"cannot read {path} as a weights-only PyTorch checkpoint ({exc}); official .pth files hold a plain "
            f"state dict, re-save anything else with torch.save(model.state_dict(), path)"
        ) from exc


def load(model: nn.Module, path_or_state_dict: str | Path | Mapping[str, Any]) -> nn.Module:
    """Strictly load an official checkpoint into ``model``. One error lists every missing, unexpected and
    mis-shaped key."""
    if isinstance(path_or_state_dict, (str, Path)):
        raw = read_checkpoint(path_or_state_dict)
        source = str(path_or_state_dict)
    else:
        raw = path_or_state_dict
        source = "the given state dict"
    state = _drop_instance_norm_buffers(model, clean_state_dict(raw))
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshaped = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                 for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or misshaped:
        lines = [f"{source} does not fit {type(model).__name__} (were the architecture options right?)"]
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if keys:
                lines.append(f"  {label} ({len(keys)}): " + ", ".join(keys[:20]) + (" ..." if len(keys) > 20 else ""))
        raise PixelwiseError("\n".join(lines))
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
    return model


def preprocess_semantic(label: torch.Tensor, instance: torch.Tensor | None,
                        options: Mapping[str, Any] | None = None, family: str | None = None) -> torch.Tensor:
    """The official semantic network input: one-hot labels (+ a dontcare channel for ASAP-Net's
    ``contain_dontcare_label``, where id 255 means label_nc) then the instance edge map as the last channel.

    ``options`` are official option names. The family is inferred from them (ASAP-Net options carry
    ``no_instance_edge``, pix2pixHD's ``no_instance``) unless given.
    """
    opt = dict(options or {})
    if family is None:
        family = "pix2pixhd" if "no_instance" in opt and "no_instance_edge" not in opt else "asapnet"
    opt = _with_defaults(family, opt)
    if family == "asapnet":
        if opt["no_one_hot"]:
            return label.float()
        channels = opt["label_nc"] + int(bool(opt["contain_dontcare_label"]))
        label = label.long()
        if opt["contain_dontcare_label"]:
            label = torch.where(label == 255, torch.full_like(label, opt["label_nc"]), label)
        use_edges = not opt["no_instance_edge"]
    elif family == "pix2pixhd":
        if opt["label_nc"] == 0:
            return label.float()
        channels = opt["label_nc"]
        use_edges = not opt["no_instance"]
    else:
        raise PixelwiseError(f"preprocess_semantic: family {family!r} has no semantic input")
    semantics = one_hot_labels(label, channels)
    if not use_edges:
        return semantics
    if instance is None:
        raise PixelwiseError("these options use an instance edge channel but no instance map was given")
    if instance.dim() == 3:
        instance = instance.unsqueeze(1)
    return torch.cat([semantics, instance_edges(instance.to(label.device))], dim=1)


def convert(checkpoint: str | Path, family: str, options: Mapping[str, Any] | None, output_dir: str | Path) -> Path:
    """Official checkpoint + options -> a pixelwise model directory (config.json + model.safetensors)."""
    model = load(build(family, options), checkpoint)
    model.save_pretrained(str(output_dir))
    return Path(output_dir)


__all__ = [
    "asapnet_downsampling",
    "build",
    "clean_state_dict",
    "config_from_options",
    "convert",
    "instance_edges",
    "load",
    "one_hot_labels",
    "preprocess_semantic",
]
