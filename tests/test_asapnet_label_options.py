"""ASAP-Net's ``pe_frequencies`` (how much of the positional encoding the per-pixel MLP sees) and
``hr_label_smoothing`` (the MLP sees each label's share of a k x k window) options, used by asapnet-tiny."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pixelwise.errors import PixelwiseError
from pixelwise.models.asapnet import ASAPNetGenerator, positional_encoding, positional_encoding_1d
from pixelwise.models.io import from_pretrained
from pixelwise.ops import random_label_maps
from pixelwise.registry import create_model

from .test_asapnet_cell_blend import TINY as BLEND_TINY
from .test_asapnet_cell_blend import _model as _blend_model

TINY = {**BLEND_TINY, "downsampling": 8}  # S = 8: three encoding frequencies, 8x8 cells


def _model(seed: int = 0, **options) -> ASAPNetGenerator:
    """The cell-blend tests' model (random weights large enough to matter), S = 8, in eval mode."""
    return _blend_model(seed, **{"downsampling": 8, **options}).eval()


def _labels(h: int, w: int, classes: int = 5, seed: int = 0) -> torch.Tensor:
    return random_label_maps(h, w, classes, 2, block=1, generator=torch.Generator().manual_seed(seed))[0]


def _blocky_labels(h: int, w: int) -> torch.Tensor:
    """Labels constant over 8x8 blocks (so that windows inside a block see one label)."""
    return random_label_maps(h, w, 5, block=8, generator=torch.Generator().manual_seed(1))[0]


# --- pe_frequencies ------------------------------------------------------------------------------------------
def test_encoding_keeps_the_lowest_frequencies():
    full = positional_encoding(16, 24, 8)
    assert full.shape == (12, 16, 24)
    assert torch.equal(positional_encoding(16, 24, 8, frequencies=None), full)
    assert torch.equal(positional_encoding(16, 24, 8, frequencies=1), full[:4])  # f = S: one period per cell
    assert torch.equal(positional_encoding(16, 24, 8, frequencies=2), full[:8])
    assert positional_encoding(16, 24, 8, frequencies=0).shape == (0, 16, 24)
    table = positional_encoding_1d(8)
    assert torch.equal(positional_encoding_1d(8, frequencies=2), table[:, :4])
    assert positional_encoding_1d(8, frequencies=0).shape == (8, 0)


@pytest.mark.parametrize("frequencies", [0, 1, 2])
def test_pe_frequencies_fast_equals_reference(frequencies: int):
    model = _model(pe_frequencies=frequencies)
    assert model.config.mlp_channels[0] == 5 + 4 * frequencies
    label = _labels(16, 24)
    x = model.dense_input(label)
    with torch.no_grad():
        model.hr_path = "reference"
        reference = model(x)
        model.hr_path = "fast"
        fast, labels = model(x), model.forward_labels(label)
    assert reference.abs().max() > 0.1
    assert (fast - reference).abs().max() <= 1e-5
    assert (labels - reference).abs().max() <= 1e-5


def test_without_encoding_a_cell_paints_each_label_one_colour():
    """pe_frequencies 0: inside one cell the MLP's output depends on the pixel's label alone; with the paper's
    encoding it also varies with the position in the cell."""
    label = _labels(16, 24, classes=2)
    for frequencies, constant in ((0, True), (None, False)):
        model = _model(pe_frequencies=frequencies)
        with torch.no_grad():
            out = model.forward_labels(label)
        cell_out, cell_label = out[0, :, :8, :8].reshape(3, -1), label[0, 0, :8, :8].reshape(-1)
        spread = max((cell_out[:, cell_label == c] - cell_out[:, cell_label == c][:, :1]).abs().max().item()
                     for c in (0, 1))
        assert (spread < 1e-6) == constant, (frequencies, spread)


def test_pe_frequencies_validation():
    with pytest.raises(PixelwiseError, match="pe_frequencies"):
        create_model("asapnet", **{**TINY, "pe_frequencies": 4})  # S = 8 has 3
    with pytest.raises(PixelwiseError, match="pe_frequencies"):
        create_model("asapnet", **{**TINY, "pe_frequencies": -1})


# --- hr_label_smoothing --------------------------------------------------------------------------------------
def test_label_smoothing_is_each_labels_share_of_the_window():
    model = _model(hr_label_smoothing=3)
    label = _labels(8, 16)
    x = model.dense_input(label)
    shares = model.hr_pixels(x)
    assert shares.shape == x.shape
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    naive = sum(padded[:, :, dy:dy + 8, dx:dx + 16] for dy in range(3) for dx in range(3)) / 9
    assert torch.allclose(shares, naive, atol=1e-6)
    assert torch.allclose(shares.sum(1), torch.ones(2, 8, 16))  # shares of the window's labels sum to 1
    assert torch.equal(_model().hr_pixels(x), x)  # 1: the pixel's own one-hot (the paper)


def test_label_smoothing_changes_only_region_borders():
    """Same weights (the option adds none): identical outputs where the window holds one label, different at
    the borders between labels."""
    label = _blocky_labels(16, 32)
    plain, smooth = _model(), _model(hr_label_smoothing=5)
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in smooth.parameters())
    with torch.no_grad():
        a, b = plain.forward_labels(label), smooth.forward_labels(label)
    onehot = F.one_hot(label[:, 0], 5).permute(0, 3, 1, 2).float()
    window_max = F.max_pool2d(F.pad(onehot, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    pure = window_max.sum(1) == 1  # (1, H, W): one label in the 5x5 window
    diff = (a - b).abs().amax(1)
    assert pure.any() and (~pure).any()
    assert diff[pure].max() <= 1e-5  # float rounding: the two models run different (equal) fast-path routes
    assert diff[~pure].max() > 1e-3


def test_label_smoothing_labels_path_gradients_and_round_trip(tmp_path):
    model = _model(hr_label_smoothing=5, pe_frequencies=0, cell_blend=True)
    label = _labels(16, 24)
    x = model.dense_input(label)
    with torch.no_grad():
        dense = model(x)
        assert torch.allclose(model.forward_labels(label), dense, atol=1e-6)
    model.train()
    model(x).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.eval().save_pretrained(str(tmp_path / "m"))
    again = from_pretrained(tmp_path / "m")
    assert again.config.hr_label_smoothing == 5 and again.config.pe_frequencies == 0
    with torch.no_grad():
        assert torch.equal(again(x), dense)


def test_label_smoothing_validation():
    with pytest.raises(PixelwiseError, match="odd"):
        create_model("asapnet", **{**TINY, "hr_label_smoothing": 4})
    with pytest.raises(PixelwiseError, match="semantic"):
        create_model("deblurgan-asap", downsampling=8, learned_ds_factor=2, hr_label_smoothing=3)
