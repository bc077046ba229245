"""ASAP-Net's ``cell_blend`` option: every pixel blends the MLP outputs of its 4 nearest cells bilinearly."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pixelwise.models.asapnet import ASAPNetGenerator, positional_encoding, split_mlp_params
from pixelwise.models.io import from_pretrained
from pixelwise.registry import create_model

from .helpers import randomise_weights

TINY = dict(label_nc=5, instance_edge=False, lr_instance=False, downsampling=4, learned_ds_factor=2, lr_width=8,
            lr_max_width=16, lr_depth=1, hr_width=8, hr_depth=3)


def _model(seed: int = 0, **options) -> ASAPNetGenerator:
    torch.manual_seed(seed)
    # weights large enough that every cell's MLP differs (the official init is ~0)
    return randomise_weights(create_model("asapnet", **{**TINY, **options}), std=0.3)


def _naive_blend(model: ASAPNetGenerator, pixels: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Pixel by pixel: the 4 cells whose centres surround the pixel (clamped at the border), each cell's MLP
    on [pixel, positional encoding], weighted by the bilinear distance to the centres."""
    s = model.config.downsampling
    b, _, h, w = pixels.shape
    gh, gw = h // s, w // s
    features = torch.cat([pixels, positional_encoding(h, w, s).unsqueeze(0).expand(b, -1, -1, -1)], dim=1)
    out = torch.zeros(b, 3, h, w, dtype=torch.float64)

    def mlp(vector: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        h_ = feature.double()
        layers = split_mlp_params(vector.double(), model.config.mlp_channels)
        for i, (weight, bias) in enumerate(layers):
            h_ = h_ @ weight + bias[0]
            h_ = torch.tanh(h_) if i == len(layers) - 1 else F.leaky_relu(h_, 0.01)
        return h_

    for n in range(b):
        for y in range(h):
            for x in range(w):
                uy, ux = (y + 0.5) / s - 0.5, (x + 0.5) / s - 0.5
                iy, ix = math.floor(uy), math.floor(ux)
                fy, fx = uy - iy, ux - ix
                for cy, wy in ((iy, 1 - fy), (iy + 1, fy)):
                    for cx, wx in ((ix, 1 - fx), (ix + 1, fx)):
                        cell = params[n, :, min(max(cy, 0), gh - 1), min(max(cx, 0), gw - 1)]
                        out[n, :, y, x] += wy * wx * mlp(cell, features[n, :, y, x])
    return out


def test_cell_blend_is_the_bilinear_blend_of_the_four_nearest_cells():
    model = _model(cell_blend=True)
    x = F.one_hot(torch.randint(0, 5, (2, 8, 12)), 5).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        params = model.predict_params(x)
        out = model(x)
    assert out.shape == (2, 3, 8, 12)
    assert (out.double() - _naive_blend(model, x, params)).abs().max() <= 1e-5
    # not the official per-cell function: the blend changes the output wherever neighbouring cells differ
    assert (out - model.apply_mlp_reference(x, params)).abs().max() > 0.05


def test_cell_blend_equals_the_paper_model_when_all_cells_agree_and_is_continuous():
    model = _model(cell_blend=True)
    x = F.one_hot(torch.randint(0, 5, (1, 16, 16)), 5).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        params = model.predict_params(x)
        same = params[:, :, :1, :1].expand_as(params).contiguous()
        assert (model.apply_mlp_blended(x, same) - model.apply_mlp_reference(x, same)).abs().max() <= 1e-6
        # one label everywhere and the positional-encoding rows of every first layer zeroed: the output then
        # varies only with the cells' weights, which the official model switches at every border
        flat = torch.zeros(1, 5, 16, 16)
        flat[:, 2] = 1
        params = model.predict_params(flat)
        nci, nco = model.config.mlp_channels[:2]
        params[:, nco + 5 * nco: nco + nci * nco] = 0.0  # layer 0: nco biases, then input-major weights
        blended, official = model.apply_mlp_blended(flat, params), model.apply_mlp_reference(flat, params)
    inside, border = [1, 5, 9, 13], [3, 7, 11]  # a pixel inside each cell / the last before each border (S=4)
    step = lambda img, cols: (img[..., [c + 1 for c in cols]] - img[..., cols]).abs().mean()  # noqa: E731
    assert step(official, inside) == 0 and step(official, border) > 0.05
    assert step(blended, border) < 0.5 * step(official, border)
    assert step(blended, border) < 2 * step(blended, inside)  # no jump at the borders: a ramp


def test_cell_blend_label_path_gradients_and_round_trip(tmp_path):
    model = _model(cell_blend=True).train()
    label = torch.randint(0, 5, (2, 1, 8, 8))
    dense = model.dense_input(label)
    out = model.forward_labels(label)
    assert torch.equal(out, model(dense))  # the label entry point runs the same blended function
    out.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.eval().save_pretrained(str(tmp_path / "m"))
    again = from_pretrained(tmp_path / "m").eval()
    assert again.config.cell_blend is True
    with torch.no_grad():
        assert torch.equal(again.forward_labels(label), model.forward_labels(label))


@pytest.mark.parametrize("hr_path", ["fast", "reference"])
def test_cell_blend_ignores_hr_path_and_defaults_off(hr_path: str):
    model = _model(cell_blend=True, hr_path=hr_path)
    x = torch.rand(1, 5, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), model.apply_mlp_blended(x, model.predict_params(x)))
    assert create_model("asapnet", **TINY).config.cell_blend is False  # the paper's model by default
