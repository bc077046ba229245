"""ASAP-Net's fast high-res path against the reference path (and the official golden outputs)."""

from __future__ import annotations

import math

import pytest
import torch

from pixelwise import official
from pixelwise.errors import PixelwiseError
from pixelwise.kernels import available_backends, install
from pixelwise.models.asapnet import (
    ASAPNetGenerator,
    positional_encoding,
    positional_encoding_1d,
    tent_downsample,
    tent_downsample_labels,
)
from pixelwise.models.io import from_pretrained
from pixelwise.ops import one_hot, random_label_maps
from pixelwise.registry import create_model

from .helpers import load_fixture, randomise_weights

ASAP_CASES = ["asapnet_semantic", "asapnet_reflect", "asapnet_rgb"]
TINY = dict(lr_width=8, lr_max_width=16, lr_depth=1, hr_width=8, hr_depth=3)
# (name, config overrides): every input layout the MLP's first layer can see
CONFIGS = {
    "edge_lr_instance": dict(label_nc=5, downsampling=8, learned_ds_factor=2),
    "edge_in_mlp": dict(label_nc=5, lr_instance=False, downsampling=8, learned_ds_factor=4, padding="reflect"),
    "no_edge_drop_last": dict(label_nc=6, instance_edge=False, lr_instance=True, downsampling=4, learned_ds_factor=4),
    "dontcare": dict(label_nc=4, contain_dontcare_label=True, downsampling=16, learned_ds_factor=2,
                     padding="replicate"),
    "no_edge": dict(label_nc=3, instance_edge=False, lr_instance=False, downsampling=8, learned_ds_factor=8),
}
RGB = dict(downsampling=8, learned_ds_factor=4, lr_width=8, lr_max_width=16, lr_depth=1, hr_width=8, hr_depth=3)


def _state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[len("state/"):]: v for k, v in tensors.items() if k.startswith("state/")}


def _fixture_model(case: str) -> tuple[ASAPNetGenerator, dict[str, torch.Tensor]]:
    meta, tensors = load_fixture(case)
    model = official.build("asapnet", meta["architecture_options"])
    official.load(model, _state(tensors))
    return model, tensors


def _random(name: str, seed: int = 0) -> ASAPNetGenerator:
    torch.manual_seed(seed)
    return randomise_weights(create_model("asapnet", **TINY, **CONFIGS[name]).eval())


def _labels(model: ASAPNetGenerator, batch: int, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Blocky label and instance maps (regions, so instance edges are sparse as in real data)."""
    cfg = model.config
    label, instance = random_label_maps(height, width, cfg.onehot_channels, batch, block=4)
    if cfg.contain_dontcare_label:
        label = torch.where(label == cfg.label_nc, torch.full_like(label, 255), label)
    return label, instance


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR of images in [-1, 1] (peak-to-peak 2)."""
    mse = (a.float() - b.float()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


# --- golden fixtures -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ASAP_CASES)
def test_fixture_fast_path_is_default_and_matches_official(case: str):
    model, tensors = _fixture_model(case)
    assert model.hr_path == "fast"
    with torch.no_grad():
        fast = model(tensors["input"])
        model.hr_path = "reference"
        reference = model(tensors["input"])
    assert (fast - tensors["output"]).abs().max() <= 1e-5
    assert (reference - tensors["output"]).abs().max() <= 1e-5
    assert (fast - reference).abs().max() <= 1e-5


@pytest.mark.parametrize("case", ["asapnet_semantic", "asapnet_reflect"])
def test_fixture_from_integer_label_maps(case: str):
    model, tensors = _fixture_model(case)
    instance = tensors.get("instance") if model.config.instance_edge else None
    with torch.no_grad():
        assert torch.equal(model.dense_input(tensors["label"], instance), tensors["input"])
        for block in (None, 64, 3 * model.config.downsampling**2):  # one block, pieces of rows, whole rows
            model.set_execution(hr_block_pixels=block)
            out = model.forward_labels(tensors["label"], instance)
            assert (out - tensors["output"]).abs().max() <= 1e-5


# --- random weights, every input layout ----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fast_equals_reference_random_weights(name: str):
    model = _random(name)
    s = model.config.downsampling
    label, instance = _labels(model, 2, 2 * s, 3 * s)
    x = model.dense_input(label, instance)
    with torch.no_grad():
        model.hr_path = "reference"
        reference, ref_params = model.forward_with_params(x)
        assert torch.equal(model.forward_labels(label, instance), reference)
        model.hr_path = "fast"
        for block in (None, s * s, 4 * s * s, 6 * s * s):  # pieces of rows, whole rows, whole images
            model.set_execution(hr_block_pixels=block)
            fast, params = model.forward_with_params(x)
            assert torch.equal(params, ref_params)
            assert (fast - reference).abs().max() <= 1e-5
            assert (model.forward_labels(label, instance) - reference).abs().max() <= 1e-5


def test_fast_equals_reference_rgb_with_global_residual():
    torch.manual_seed(1)
    model = create_model("deblurgan-asap", **RGB).eval()
    x = torch.rand(2, 3, 24, 40) * 2 - 1
    with torch.no_grad():
        fast = model(x)
        reference = create_model("deblurgan-asap-reference", config=None, **RGB)
        reference.load_state_dict(model.state_dict())
        assert reference.hr_path == "reference"
        assert (fast - reference.eval()(x)).abs().max() <= 1e-5
    with pytest.raises(ValueError, match="semantic"):
        model.forward_labels(torch.zeros(1, 1, 8, 8, dtype=torch.long))


@pytest.mark.parametrize("labels", [False, True])
def test_gradients_equal_reference(labels: bool):
    model = _random("edge_in_mlp").train()
    label, instance = _labels(model, 2, 16, 24)
    x = model.dense_input(label, instance)
    weight = torch.linspace(-1, 1, 2 * 3 * 16 * 24).view(2, 3, 16, 24)

    def grads(path: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad()
        model.hr_path = path
        model.set_execution(hr_block_pixels=64 if path == "fast" else None)  # several blocks: exercise the block writes
        out = model.forward_labels(label, instance) if labels else model(x)
        (out * weight).sum().backward()
        return out.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}

    out_ref, g_ref = grads("reference")
    out_fast, g_fast = grads("fast")
    assert (out_ref - out_fast).abs().max() <= 1e-5
    for key in g_ref:
        scale = max(1.0, g_ref[key].abs().max().item())
        assert (g_ref[key] - g_fast[key]).abs().max() <= 1e-5 * scale, key


def test_dense_input_gradient_equal_reference():
    model = _random("no_edge")
    x = torch.rand(1, model.config.in_channels, 16, 16, requires_grad=True)
    grads = []
    for path in ("reference", "fast"):
        model.hr_path = path
        (g,) = torch.autograd.grad(model(x).square().sum(), x)
        grads.append(g)
    assert (grads[0] - grads[1]).abs().max() <= 1e-5


# --- building blocks -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_tent_downsample_of_labels_equals_dense(factor: int):
    label = torch.randint(0, 7, (2, 1, 8 * 5, 8 * 3))
    dense = tent_downsample(one_hot(label, 7), factor)
    assert (tent_downsample_labels(label, 7, factor) - dense).abs().max() <= 1e-6


@pytest.mark.parametrize(("factor", "height", "width"), [(2, 4, 6), (4, 8, 12), (4, 4, 8), (4, 16, 40), (8, 16, 24),
                                                     (8, 8, 16)])
def test_tent_downsample_equals_the_padded_filter(factor: int, height: int, width: int):
    """Without the materialised reflection pad (zero-padded convolution + the border's reflected taps) the tent
    filter is the official one: reflect-pad by factor/2, then the strided tent along the width, then the height;
    under tracing (export) it builds the pad, the same function; gradients agree too."""
    import torch.nn.functional as F

    from pixelwise.models.asapnet_lowres import tent_kernel_1d

    x = torch.randn(2, 3, height, width, dtype=torch.float64, requires_grad=True)
    k = tent_kernel_1d(factor, torch.float64)
    padded = F.pad(x, (factor // 2,) * 4, mode="reflect")
    expected = F.conv2d(padded, k.view(1, 1, 1, -1).expand(3, 1, 1, -1), stride=(1, factor), groups=3)
    expected = F.conv2d(expected, k.view(1, 1, -1, 1).expand(3, 1, -1, 1), stride=(factor, 1), groups=3)
    out = tent_downsample(x, factor)
    assert out.shape == expected.shape and (out - expected).abs().max() <= 1e-12
    (g_out,) = torch.autograd.grad(out.square().sum(), x)
    (g_exp,) = torch.autograd.grad(expected.square().sum(), x)
    assert (g_out - g_exp).abs().max() <= 1e-12
    traced = torch.jit.trace(lambda t: tent_downsample(t, factor), x.detach())
    assert (traced(x.detach()) - expected).abs().max() <= 1e-12


def test_dense_input_equals_official_preprocessing():
    model = _random("dontcare")
    label, instance = _labels(model, 1, 32, 48)
    options = dict(label_nc=4, contain_dontcare_label=True)
    assert torch.equal(model.dense_input(label, instance), official.preprocess_semantic(label, instance, options))


def test_encoding_table_gives_the_full_positional_encoding():
    s = 16
    table = positional_encoding_1d(s)
    full = positional_encoding(2 * s, 3 * s, s)  # channels per f: cos x, sin x, cos y, sin y
    xs, ys = torch.arange(3 * s) % s, torch.arange(2 * s) % s
    nf = int(math.log2(s))
    for j in range(nf):
        for k in range(2):
            assert torch.equal(full[4 * j + k, 0], table[xs, 2 * j + k])
            assert torch.equal(full[4 * j + 2 + k, :, 0], table[ys, 2 * j + k])


def test_encoding_cache_per_device_and_dtype_survives_size_and_batch_changes():
    model = _random("edge_lr_instance")
    reference = _random("edge_lr_instance")
    reference.hr_path = "reference"
    assert not any("encoding" in k for k in model.state_dict())
    assert list(model.state_dict()) == list(reference.state_dict())
    with torch.no_grad():
        for batch, h, w in ((1, 16, 16), (3, 24, 40), (1, 8, 64)):
            label, instance = _labels(model, batch, h, w)
            x = model.dense_input(label, instance)
            assert (model(x) - reference(x)).abs().max() <= 1e-5
        assert list(model._encoding_cache) == [(torch.device("cpu"), torch.float32)]
        model.double()
        reference.double()
        label, instance = _labels(model, 1, 16, 24)
        x = model.dense_input(label, instance, dtype=torch.float64)
        assert (model(x) - reference(x)).abs().max() <= 1e-10
    assert set(model._encoding_cache) == {(torch.device("cpu"), torch.float32), (torch.device("cpu"), torch.float64)}


@pytest.mark.parametrize(("dtype", "min_psnr"), [(torch.bfloat16, 45.0), (torch.float16, 60.0)])
def test_half_precision_close_to_float32(dtype: torch.dtype, min_psnr: float):
    model, tensors = _fixture_model("asapnet_semantic")
    with torch.no_grad():
        reference = model(tensors["input"])
        model.to(dtype)
        dense = model(tensors["input"].to(dtype))
        labels = model.forward_labels(tensors["label"], tensors["instance"])
    assert dense.dtype == dtype and labels.dtype == dtype
    assert psnr(dense, reference) >= min_psnr
    assert psnr(labels, reference) >= min_psnr


def test_channels_last_lowres_stream_is_the_same_function():
    model = _random("edge_lr_instance")
    label, instance = _labels(model, 1, 32, 32)
    with torch.no_grad():
        out = model.forward_labels(label, instance)
        model.set_execution(lowres_channels_last=True)
        model.to(memory_format=torch.channels_last)
        assert (model.forward_labels(label, instance) - out).abs().max() <= 1e-5


# --- selection, registry, errors -----------------------------------------------------------------------------
def test_registry_names_select_the_path(tmp_path):
    assert create_model("asapnet", **TINY).hr_path == "fast"
    reference = create_model("asapnet-reference", **TINY)
    assert reference.hr_path == "reference"
    reference.save_pretrained(str(tmp_path / "ref"))
    again = from_pretrained(tmp_path / "ref")
    assert again.hr_path == "reference" and again.registry_name == "asapnet-reference"
    with pytest.raises(ValueError, match="hr_path"):
        reference.hr_path = "turbo"
    with pytest.raises(ValueError, match="hr_path"):
        create_model("asapnet", hr_path="turbo")


def test_label_errors():
    model = _random("edge_lr_instance")
    label, instance = _labels(model, 1, 16, 16)
    with pytest.raises(ValueError, match="contains label id 9"):
        model.forward_labels(torch.full_like(label, 9), instance)
    with pytest.raises(ValueError, match="instance"):
        model.forward_labels(label)
    with pytest.raises(ValueError, match="divisible by 8"):
        model.forward_labels(label[..., :12], instance[..., :12])


def test_kernel_backends():
    model = _random("edge_lr_instance")
    assert "torch" in available_backends()
    assert install(model) == "torch" and model.hr_kernel is None
    with pytest.raises(PixelwiseError, match="cannot run here"):
        install(model, "triton", "cpu")
    calls = []
    model.set_execution(hr_kernel=lambda *args, **kwargs: calls.append(1))  # inference only: never with gradients
    label, instance = _labels(model, 1, 16, 16)
    model.forward_labels(label, instance)
    assert not calls


def test_per_cell_weights_reach_the_mlp_in_row_major_layout(monkeypatch):
    """A (cells, nci, nco) weight with unit stride on nco and nco on nci lets baddbmm use one batched GEMM
    (a transposed layout silently falls back to one GEMM per cell, several times slower): in the autograd path
    (mlp_tail, with gradients) and in the inference executor (run_mlp_blocks, without)."""
    import pixelwise.models.asapnet_mlp as asapnet  # the fast path calls both from there

    real_tail, real_blocks = asapnet.mlp_tail, asapnet.run_mlp_blocks
    seen = {"tail": [], "blocks": []}

    def spy_tail(h: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        seen["tail"] += [weight.stride()[1:] == (weight.shape[2], 1) for weight, _ in layers]
        return real_tail(h, layers)

    def spy_blocks(config, layers, *args):
        seen["blocks"] += [weight.stride()[1:] == (weight.shape[2], 1) for weight, _ in layers]
        return real_blocks(config, layers, *args)

    monkeypatch.setattr(asapnet, "mlp_tail", spy_tail)
    monkeypatch.setattr(asapnet, "run_mlp_blocks", spy_blocks)
    model = _random("edge_lr_instance")
    label, instance = _labels(model, 1, 16, 32)
    for block in (None, 64):
        model.set_execution(hr_block_pixels=block)
        with torch.no_grad():
            model.forward_labels(label, instance)
        model.forward_labels(label, instance).sum().backward()
    assert seen["tail"] and all(seen["tail"]) and seen["blocks"] and all(seen["blocks"])


# --- hr_neighbourhood: the per-pixel MLP sees a k x k window (an option for deblurring) -----------------------
def _neighbourhood_model(k: int, seed: int = 0) -> ASAPNetGenerator:
    torch.manual_seed(seed)
    model = create_model("deblurgan-asap", hr_neighbourhood=k, **RGB)
    with torch.no_grad():  # weights large enough that every MLP layer matters (the official init is ~0)
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    return model


@pytest.mark.parametrize("k", [3, 5])
def test_hr_neighbourhood_fast_equals_reference_with_gradients(k: int):
    model = _neighbourhood_model(k).train()
    assert model.config.mlp_channels[0] == 3 * k * k + 4 * 3  # S=8: 3 frequencies x (cos, sin) x (x, y)
    x = (torch.rand(2, 3, 16, 24) * 2 - 1).requires_grad_(True)
    weight = torch.linspace(-1, 1, 2 * 3 * 16 * 24).view(2, 3, 16, 24)

    def run(path: str) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad()
        model.hr_path = path
        model.set_execution(hr_block_pixels=64 if path == "fast" else None)  # several blocks
        out = model(x)
        (gx,) = torch.autograd.grad((out * weight).sum(), x, retain_graph=True)
        (out * weight).sum().backward()
        return out.detach(), gx, {n: p.grad.clone() for n, p in model.named_parameters()}

    out_ref, gx_ref, g_ref = run("reference")
    out_fast, gx_fast, g_fast = run("fast")
    assert out_ref.abs().max() > 0.1  # not a trivial (saturated or zero) output
    assert (out_ref - out_fast).abs().max() <= 1e-5
    assert (gx_ref - gx_fast).abs().max() <= 1e-5 * max(1.0, gx_ref.abs().max().item())
    for name in g_ref:
        scale = max(1.0, g_ref[name].abs().max().item())
        assert (g_ref[name] - g_fast[name]).abs().max() <= 1e-5 * scale, name


def test_hr_neighbourhood_windows_are_the_reflect_padded_neighbours():
    model = _neighbourhood_model(3)
    x = torch.rand(1, 3, 8, 16)
    windows = model.hr_pixels(x)
    assert windows.shape == (1, 27, 8, 16)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    for c in range(3):
        for dy in range(3):
            for dx in range(3):
                assert torch.equal(windows[:, c * 9 + dy * 3 + dx], padded[:, c, dy:dy + 8, dx:dx + 16])
    assert torch.equal(windows[:, 4::9], x)  # the centre of each channel's window is the pixel itself
    assert torch.equal(_neighbourhood_model(1).hr_pixels(x), x)  # k = 1: the official model's input


def test_hr_neighbourhood_identity_start_and_round_trip(tmp_path):
    model = create_model("deblurgan-asap", hr_neighbourhood=5, zero_init_output=True, **RGB).eval()
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x), x)  # global residual + zeroed last MLP layer: the identity
    model.save_pretrained(str(tmp_path / "m"))
    again = from_pretrained(tmp_path / "m")
    assert again.config.hr_neighbourhood == 5
    with torch.no_grad():
        assert torch.equal(again.eval()(x), model(x))


def test_hr_neighbourhood_validation():
    with pytest.raises(ValueError, match="odd"):
        create_model("deblurgan-asap", hr_neighbourhood=2, **RGB)
    with pytest.raises(ValueError, match="rgb"):
        create_model("asapnet", hr_neighbourhood=3, **TINY)
