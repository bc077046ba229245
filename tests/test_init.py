"""Official weight initialisation schemes and the presets that use them."""

from __future__ import annotations

import pytest
import torch

import pixelwise
from pixelwise.models.layers import init_weights
from pixelwise.train.config import load_run_config


def test_normal_scheme_is_n0_002_on_convs_and_keeps_biases():
    torch.manual_seed(0)
    model = pixelwise.create_model("deblurgan", ngf=16, n_blocks=2)
    bias_before = model.model[1].bias.clone()
    init_weights(model, "normal")
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, torch.nn.Conv2d)])
    assert abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.002
    assert torch.equal(model.model[1].bias, bias_before)


def test_xavier_scheme_zeroes_biases_and_reaches_spectral_norm_weights():
    torch.manual_seed(0)
    d = init_weights(pixelwise.create_model("spade-multiscale", input_nc=6, ndf=8), "xavier")
    conv = d.discriminator_0.model1[0][0]
    fan_in, fan_out = conv.weight_orig.shape[1] * 16, conv.weight_orig.shape[0] * 16
    expected = 0.02 * (2.0 / (fan_in + fan_out)) ** 0.5
    assert abs(conv.weight_orig.std().item() - expected) < 0.2 * expected
    g = init_weights(pixelwise.create_model("asapnet", label_nc=4, downsampling=8, learned_ds_factor=8,
                                            lr_width=4, lr_max_width=8, lr_depth=1, hr_width=4), "xavier")
    assert torch.count_nonzero(g.lowres_stream.model[-1].bias) == 0


def test_pytorch_scheme_changes_nothing_and_unknown_is_refused():
    model = pixelwise.create_model("deblurgan", ngf=4, n_blocks=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    init_weights(model, "pytorch")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="unknown init scheme"):
        init_weights(model, "kaiming")


@pytest.mark.parametrize(("preset", "scheme"), [("asapnet-tiny", "xavier"), ("deblurgan-asap-tiny", "xavier"),
                                                ("deblurgan-tiny", "normal"), ("pix2pixhd-tiny", "normal")])
def test_presets_use_their_papers_init(preset, scheme):
    config = load_run_config(preset, [])
    assert config.model.init == scheme and config.discriminator.init == scheme
