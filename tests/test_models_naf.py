"""The v2 deblurring options: NAFNet blocks and the U-Net (models/naf.py), DeblurGAN's ``architecture: unet``,
DeblurGAN-ASAP's ``lowres_arch: unet`` and dilated per-pixel windows (``hr_dilations``)."""

from __future__ import annotations

import pytest
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.models.io import from_pretrained
from pixelwise.models.naf import NAFBlock, NAFUNet
from pixelwise.registry import create_model

UNET = dict(architecture="unet", unet_width=4, unet_enc_blocks=(1, 1), unet_middle_blocks=1, unet_dec_blocks=(1, 1))
ASAP_V2 = dict(downsampling=8, learned_ds_factor=2, lowres_arch="unet", lr_width=4, lr_max_width=8,
               lr_unet_enc_blocks=(1, 1), lr_unet_middle_blocks=1, lr_unet_dec_blocks=(1, 1), hr_neighbourhood=3,
               hr_dilations=(1, 2, 4), pe_frequencies=0, hr_width=8, hr_depth=2)


@pytest.mark.parametrize("gate,attention", [(True, True), (False, True), (True, False), (False, False)])
def test_naf_block_starts_as_identity_and_learns(gate, attention):
    torch.manual_seed(0)
    block = NAFBlock(8, gate=gate, attention=attention)
    x = torch.randn(2, 8, 6, 10)
    assert torch.equal(block(x), x)  # beta = gamma = 0
    block(x).pow(2).sum().backward()
    assert block.beta.grad.abs().sum() > 0 and block.gamma.grad.abs().sum() > 0
    assert (block.attention is not None) == attention and isinstance(block.act, torch.nn.GELU) != gate


@pytest.mark.parametrize("pyramid", [True, False])
def test_naf_unet_any_size_and_gradients_reach_the_stem(pyramid):
    torch.manual_seed(0)
    net = NAFUNet(3, 5, 4, (1, 2), 1, (1, 1), pyramid=pyramid)
    for name, p in net.named_parameters():  # move the blocks off the identity so every path is used
        if name.endswith(("beta", "gamma")):
            torch.nn.init.constant_(p, 0.5)
    x = torch.randn(2, 3, 13, 22)  # not a multiple of 4: padded inside, cropped back
    out = net(x)
    assert out.shape == (2, 5, 13, 22)
    out.square().mean().backward()
    assert net.stem.weight.grad.abs().sum() > 0
    assert (net.pyramid is not None) == pyramid
    if pyramid:
        assert all(conv.weight.grad.abs().sum() > 0 for conv in net.pyramid)
    net.zero_init_head_()
    assert torch.equal(net(x), torch.zeros_like(out))


def test_naf_unet_needs_one_decoder_entry_per_level():
    with pytest.raises(ValueError, match="dec_blocks"):
        NAFUNet(3, 3, 4, (1, 1), 1, (1,))


def test_deblurgan_unet_identity_start_round_trip_and_training(tmp_path):
    model = create_model("deblurgan", zero_init_output=True, **UNET)
    x = torch.rand(1, 3, 20, 28) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x), x)  # global skip + zero head
    assert model.config.size_multiple == 4
    model.save_pretrained(str(tmp_path / "m"))
    again = from_pretrained(tmp_path / "m")
    assert again.config.architecture == "unet" and tuple(again.config.unet_enc_blocks) == (1, 1)
    # one optimiser step on a deblurring-like target moves the output off the identity
    target = torch.roll(x, 1, dims=-1)
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(3):
        loss = (model(x) - target).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert not torch.equal(model(x), x)
    with pytest.raises(PixelwiseError, match="architecture"):
        create_model("deblurgan", architecture="vit")


def test_hr_dilations_windows_are_the_dilated_reflect_padded_neighbours():
    model = create_model("deblurgan-asap", **ASAP_V2)
    x = torch.rand(1, 3, 16, 24)
    windows = model.hr_pixels(x)
    assert windows.shape == (1, 3 * 9 * 3, 16, 24) and model.config.hr_mlp_pixel_channels == 81
    for i, d in enumerate((1, 2, 4)):
        padded = torch.nn.functional.pad(x, (d, d, d, d), mode="reflect")
        for c in range(3):
            for dy in range(3):
                for dx in range(3):
                    got = windows[:, i * 27 + c * 9 + dy * 3 + dx]
                    assert torch.equal(got, padded[:, c, dy * d:dy * d + 16, dx * d:dx * d + 24])
    small = torch.rand(1, 3, 8, 8)  # a pad of 8 at dilation 8 exceeds the image: still defined (repeated mirror)
    wide = create_model("deblurgan-asap", **{**ASAP_V2, "hr_dilations": (1, 8)})
    assert wide.hr_pixels(small).shape == (1, 54, 8, 8)


def test_asap_v2_identity_start_fast_equals_reference_and_round_trip(tmp_path):
    torch.manual_seed(0)
    model = create_model("deblurgan-asap", zero_init_output=True, **ASAP_V2)
    x = torch.rand(2, 3, 24, 40) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x), x)
    fresh = create_model("deblurgan-asap", **ASAP_V2)  # random last layer: a non-trivial function
    reference = create_model("deblurgan-asap-reference", **ASAP_V2)
    reference.load_state_dict(fresh.state_dict())
    with torch.no_grad():
        fast, ref = fresh(x), reference(x)
    assert (fast - ref).abs().max() <= 1e-5 and not torch.equal(fast, x)
    fresh(x).square().mean().backward()
    assert fresh.lowres_stream.model[1].stem.weight.grad.abs().sum() > 0  # the unet low-res stream learns
    fresh.save_pretrained(str(tmp_path / "m"))
    again = from_pretrained(tmp_path / "m").eval()
    assert tuple(again.config.hr_dilations) == (1, 2, 4) and again.config.lowres_arch == "unet"
    with torch.no_grad():
        assert torch.equal(again(x), fresh.eval()(x))


def test_asap_v2_validation():
    with pytest.raises(PixelwiseError, match="hr_neighbourhood"):
        create_model("deblurgan-asap", **{**ASAP_V2, "hr_neighbourhood": 1})
    with pytest.raises(PixelwiseError, match="hr_dilations"):
        create_model("deblurgan-asap", **{**ASAP_V2, "hr_dilations": (0, 2)})
    with pytest.raises(PixelwiseError, match="lr_unet_dec_blocks"):
        create_model("deblurgan-asap", **{**ASAP_V2, "lr_unet_dec_blocks": (1,)})
