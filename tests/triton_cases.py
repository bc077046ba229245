"""Cases for the fused Triton high-res kernel against ASAP-Net's reference path (used by test_triton_kernel.py).

Run as a script under Triton's CPU interpreter (TRITON_INTERPRET must be set before triton is imported, hence a
subprocess): ``TRITON_INTERPRET=1 PYTHONPATH=src python tests/triton_cases.py`` prints one JSON line per case,
{"case", "err", "tol"}. On CUDA the tests call :func:`run_cases` in-process with ``full=True`` (whole fixtures,
larger sizes, bf16/fp16). Sizes are tiny on CPU: the interpreter costs ~20-60 ms per program.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

from pixelwise.ops import random_label_maps

try:
    from .helpers import randomise_weights
except ImportError:  # run as a script: tests/ is sys.path[0]
    from helpers import randomise_weights  # type: ignore[no-redef]

# ../shared/fixtures beside the checkout; PIXELWISE_FIXTURES overrides (e.g. a copy carried to a GPU machine)
FIXTURES = Path(os.environ.get("PIXELWISE_FIXTURES")
                or Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "official")
TINY = dict(lr_width=8, lr_max_width=16, lr_depth=1, hr_width=8, hr_depth=3)
# (name, config overrides): every input layout the MLP's first layer can see, S = 2..64, odd widths, depths
LAYOUTS = {
    "edge_lr_instance": dict(label_nc=5, downsampling=8, learned_ds_factor=2),
    "edge_in_mlp": dict(label_nc=5, lr_instance=False, downsampling=8, learned_ds_factor=4, padding="reflect"),
    "no_edge_drop_last": dict(label_nc=6, instance_edge=False, lr_instance=True, downsampling=4, learned_ds_factor=4),
    "dontcare": dict(label_nc=4, contain_dontcare_label=True, downsampling=16, learned_ds_factor=2),
    "no_edge_s2": dict(label_nc=3, instance_edge=False, lr_instance=False, downsampling=2, learned_ds_factor=2),
    "s64": dict(label_nc=5, downsampling=64, learned_ds_factor=2),
    "width20_depth2": dict(label_nc=5, downsampling=8, learned_ds_factor=2, hr_width=20, hr_depth=2),
    "width64_depth5": dict(label_nc=5, downsampling=4, learned_ds_factor=2, hr_width=64, hr_depth=5),
    # asapnet-tiny's MLP inputs: no positional encoding, label shares of a window (the dense path); one frequency
    "no_encoding_smoothed": dict(label_nc=5, instance_edge=False, lr_instance=False, downsampling=8,
                                 learned_ds_factor=2, pe_frequencies=0, hr_label_smoothing=3),
    "one_frequency": dict(label_nc=5, downsampling=8, learned_ds_factor=2, pe_frequencies=1),
}
RGB = dict(downsampling=8, learned_ds_factor=4, lr_width=8, lr_max_width=16, lr_depth=1, hr_width=8, hr_depth=3)
INTERPRETER_BLOCK = 4096  # one program per cell up to S = 64: the interpreter's cost is per program


def _randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    return randomise_weights(model, seed).eval()  # non-trivial norm affines and biases


def _labels(cfg, batch: int, height: int, width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    label, instance = random_label_maps(height, width, cfg.onehot_channels, batch, block=1,
                                        generator=torch.Generator().manual_seed(seed))
    if cfg.contain_dontcare_label:
        label = torch.where(label == cfg.label_nc, torch.full_like(label, 255), label)
    return label, instance


def _err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().max().item()


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.float() - b.float()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


def random_layout_cases(device: torch.device, full: bool) -> Iterator[tuple[str, float, float]]:
    from pixelwise.kernels import install
    from pixelwise.registry import create_model

    knobs = {} if full else {"block_pixels": INTERPRETER_BLOCK}
    for name, overrides in LAYOUTS.items():
        model = _randomise(create_model("asapnet", **{**TINY, **overrides}), 0).to(device)
        cfg = model.config
        s = cfg.downsampling
        grid = (2, 3) if full or s <= 16 else (1, 2)
        label, instance = (t.to(device) for t in _labels(cfg, 2 if s <= 16 else 1, grid[0] * s, grid[1] * s))
        x = model.dense_input(label, instance)
        model.set_execution(lowres_channels_last=True)  # as install("triton"): the same low-res convolutions for both
        with torch.no_grad():
            model.hr_path = "reference"
            reference = model(x)
            model.hr_path = "fast"
            install(model, "triton", device, **knobs)
            yield f"{name}/labels", _err(model.forward_labels(label, instance), reference), 1e-5
            yield f"{name}/dense", _err(model(x), reference), 1e-5
            model.to(memory_format=torch.channels_last)  # channels_last weights too
            yield f"{name}/labels_channels_last", _err(model.forward_labels(label, instance), reference), 1e-5
            if name == "edge_lr_instance":  # several programs per cell (BLOCK_T < S*S)
                install(model, "triton", device, block_pixels=16)
                yield f"{name}/labels_block16", _err(model.forward_labels(label, instance), reference), 1e-5


def strided_params_case(device: torch.device) -> Iterator[tuple[str, float, float]]:
    """Parameters with arbitrary strides (a slice of a larger, permuted buffer) give the same image."""
    from pixelwise.kernels.asapnet_hr_triton import TritonHRKernel
    from pixelwise.models.asapnet import ASAPNetConfig

    cfg = ASAPNetConfig(label_nc=5, downsampling=4, learned_ds_factor=2, hr_width=8, hr_depth=3)
    g = torch.Generator().manual_seed(3)
    big = torch.randn(2, 5, 3, cfg.params_per_cell + 7, generator=g).to(device) * 0.4  # (B, gw', gh, P')
    params = big.permute(0, 3, 2, 1)[:, 2:2 + cfg.params_per_cell, :, 1:4]  # (B, P, 3, 3), no unit stride on P
    label, _ = _labels(cfg, 2, 12, 12)
    kernel = TritonHRKernel(block_pixels=INTERPRETER_BLOCK)
    a = kernel(cfg, params, label=label.to(device))
    b = kernel(cfg, params.contiguous(), label=label.to(device))
    yield "strided_params", _err(a, b), 0.0


def rgb_residual_case(device: torch.device, full: bool) -> Iterator[tuple[str, float, float]]:
    from pixelwise.kernels import install
    from pixelwise.registry import create_model

    model = _randomise(create_model("deblurgan-asap", **RGB), 1).to(device)
    x = (torch.rand(2, 3, 16, 24, generator=torch.Generator().manual_seed(1)) * 2 - 1).to(device)
    model.set_execution(lowres_channels_last=True)
    with torch.no_grad():
        model.hr_path = "reference"
        reference = model(x)
        model.hr_path = "fast"
        install(model, "triton", device, **({} if full else {"block_pixels": INTERPRETER_BLOCK}))
        yield "rgb_global_residual", _err(model(x), reference), 1e-5


def fixture_cases(device: torch.device, full: bool) -> Iterator[tuple[str, float, float]]:
    """Every public ASAP-Net fixture: whole on CUDA; on CPU a 2 x 4 cell window of it (the high-res stream is
    local to each cell, so a window of the parameter grid and of the pixels gives that window of the output)."""
    from safetensors.torch import load_file

    from pixelwise import official
    from pixelwise.kernels.asapnet_hr_triton import TritonHRKernel

    for path in sorted(FIXTURES.glob("asapnet_*.json")):
        meta = json.loads(path.read_text())
        tensors = load_file(str(path.with_suffix(".safetensors")))
        model = official.build("asapnet", meta["architecture_options"])
        official.load(model, {k[len("state/"):]: v for k, v in tensors.items() if k.startswith("state/")})
        model = model.to(device).eval()
        cfg = model.config
        s = cfg.downsampling
        x, expected = tensors["input"].to(device), tensors["output"].to(device)
        with torch.no_grad():
            params = model.predict_params(x)
            pixels = model.hr_pixels(x)
            if not full:
                params = params[..., 1:3, 2:6]
                pixels = pixels[..., s:3 * s, 2 * s:6 * s]
                expected = expected[..., s:3 * s, 2 * s:6 * s]
            kernel = TritonHRKernel(block_pixels=None if full else INTERPRETER_BLOCK)
            out = kernel(cfg, params, pixels=pixels)
            if cfg.global_residual:
                out = torch.clamp(x + out, -1.0, 1.0)
            yield f"fixture/{path.stem}/dense", _err(out, expected), 1e-5
            if "label" in tensors:
                ids, edge = model.prepare_labels(tensors["label"].to(device), tensors.get("instance", None)
                                                 if cfg.instance_edge else None)
                edge_row = cfg.instance_edge and not cfg.lr_instance
                if not full:
                    ids = ids[..., s:3 * s, 2 * s:6 * s]
                    edge = edge[..., s:3 * s, 2 * s:6 * s] if edge is not None else None
                out = kernel(cfg, params, label=ids, edge=edge if edge_row else None)
                yield f"fixture/{path.stem}/labels", _err(out, expected), 1e-5


def half_cases(device: torch.device, full: bool) -> Iterator[tuple[str, float, float]]:
    """bf16 / fp16 through the kernel vs the float32 reference, compared with the PyTorch fast path in the same
    dtype: err = PSNR(torch half) - PSNR(kernel half) in dB, at most 3 (the kernel is no worse than torch)."""
    from pixelwise.kernels import install
    from pixelwise.registry import create_model

    for dtype, name in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16")):
        model = _randomise(create_model("asapnet", **{**TINY, **LAYOUTS["edge_lr_instance"]}), 0).to(device)
        label, instance = (t.to(device) for t in _labels(model.config, 2, 16, 24))
        model.set_execution(lowres_channels_last=True)
        with torch.no_grad():
            model.hr_path = "reference"
            reference = model(model.dense_input(label, instance))
            model.hr_path = "fast"
            model.to(dtype)
            torch_half = model.forward_labels(label, instance)
            install(model, "triton", device, **({} if full else {"block_pixels": INTERPRETER_BLOCK}))
            out = model.forward_labels(label, instance)
        yield f"half/{name}_psnr_loss_db", _psnr(torch_half, reference) - _psnr(out, reference), 3.0


def run_cases(device: torch.device, full: bool = False) -> Iterator[tuple[str, float, float]]:
    yield from random_layout_cases(device, full)
    yield from strided_params_case(device)
    yield from rgb_residual_case(device, full)
    yield from fixture_cases(device, full)
    yield from half_cases(device, full)


if __name__ == "__main__":
    torch.set_num_threads(1)
    for case, err, tol in run_cases(torch.device("cpu"), full=False):
        print(json.dumps({"case": case, "err": err, "tol": tol}), flush=True)
    sys.exit(0)
