"""pixelwise.limits: tiny inputs get the model's minimum size in one line; a forward that would not fit in memory is
refused before it starts, with a ``--tile N`` that does fit."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from pixelwise import limits
from pixelwise.cli import main
from pixelwise.errors import PixelwiseError
from pixelwise.inference import translate_image
from pixelwise.registry import create_model

ASAP_TINY = dict(label_nc=6, downsampling=8, learned_ds_factor=4, lr_width=8, lr_max_width=16, lr_depth=1,
                 hr_width=8, hr_depth=3, instance_edge=False)


def _models():
    return {
        "deblurgan": (create_model("deblurgan", ngf=4, n_blocks=1), "photo", "8x8"),
        "pix2pixhd": (create_model("pix2pixhd", input_nc=6, instance_edge=False, ngf=4, n_downsample_global=2,
                                   n_blocks_global=1), "labels", "8x8"),
        "asapnet": (create_model("asapnet", **ASAP_TINY), "labels", "8x16"),
        "deblurgan-asap": (create_model("deblurgan-asap", downsampling=8, learned_ds_factor=4, lr_width=8,
                                        lr_max_width=16, lr_depth=1, hr_width=8, hr_depth=3), "photo", "8x16"),
    }


def _input(kind, h, w):
    return torch.rand(3, h, w) * 2 - 1 if kind == "photo" else torch.randint(0, 6, (h, w))


@pytest.mark.parametrize("family", ["deblurgan", "pix2pixhd", "asapnet", "deblurgan-asap"])
@pytest.mark.parametrize(("h", "w"), [(1, 1), (2, 3), (5, 7), (1, 200)])
def test_tiny_inputs_state_the_minimum(family, h, w):
    model, kind, minimum = _models()[family]
    model.eval()
    fits = {"asapnet": [(1, 200)], "deblurgan-asap": [(1, 200)],  # 8x200 after padding: 25 cells, enough
            "deblurgan": [(5, 7)], "pix2pixhd": [(5, 7)]}  # 8x8 after padding: 2x2 at the bottleneck
    if (h, w) in fits[family]:
        assert translate_image(model, _input(kind, h, w)).shape[-2:] == (h, w)
        return
    with pytest.raises(PixelwiseError) as info:
        translate_image(model, _input(kind, h, w), source="tiny.png")
    message = str(info.value)
    assert f"tiny.png is {h}x{w} (HxW), too small for {family}" in message and f"at least {minimum}" in message


def test_minimum_follows_the_downsampling():
    model = create_model("pix2pixhd", input_nc=6, instance_edge=False, ngf=2, n_downsample_global=4,
                         n_blocks_global=1).eval()
    with pytest.raises(PixelwiseError, match="5x7 .* needs at least 32x32 pixels"):
        translate_image(model, _input("labels", 5, 7))
    assert translate_image(model, _input("labels", 17, 30)).shape[-2:] == (17, 30)


def test_smallest_accepted_sizes_run():
    models = _models()
    for family, (h, w) in (("deblurgan", (8, 8)), ("pix2pixhd", (5, 8)), ("asapnet", (8, 9)),
                           ("deblurgan-asap", (16, 8))):
        model, kind, _ = models[family]
        assert translate_image(model.eval(), _input(kind, h, w)).shape[-2:] == (h, w)


def test_tiny_png_via_cli_is_one_line(tmp_path, capsys):
    create_model("deblurgan", ngf=4, n_blocks=1).save_pretrained(tmp_path / "m")
    Image.fromarray(np.zeros((2, 3, 3), dtype=np.uint8)).save(tmp_path / "tiny.png")
    assert main(["infer", str(tmp_path / "m"), str(tmp_path / "tiny.png"), "-o", str(tmp_path / "o"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and "at least 8x8" in err and "tiny.png" in err


def test_memory_estimate_refuses_and_suggests_a_tile_that_fits(monkeypatch):
    model = create_model("deblurgan", ngf=4, n_blocks=1).eval()
    x = torch.rand(3, 512, 512) * 2 - 1
    whole = limits.estimate_bytes(model, 3, 1, 512, 512)
    assert whole is not None and whole > limits.estimate_bytes(model, 3, 1, 128, 128) * 8
    monkeypatch.setattr(limits, "available_bytes", lambda device: whole // 2)
    with pytest.raises(PixelwiseError) as info:
        translate_image(model, x, source="big.png")
    message = str(info.value)
    assert "big.png: running this 512x512 input needs about" in message and "is available" in message
    tile = int(re.search(r"--tile (\d+)", message).group(1))
    assert 64 <= tile < 512
    out = translate_image(model, x, tile=tile, overlap=16)  # the suggested tile passes the same check
    assert out.shape == x.shape


def test_bad_tile_sizes_blame_the_tile():
    model = create_model("deblurgan", ngf=4, n_blocks=1).eval()
    for tile in (0, -8):
        with pytest.raises(PixelwiseError, match=f"--tile {tile} must be a positive tile size"):
            translate_image(model, torch.zeros(3, 16, 16), tile=tile)
