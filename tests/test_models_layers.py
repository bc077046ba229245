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


@pytest.mark.parametrize(("preset", "scheme"), [("asapnet-cityscapes", "xavier"), ("deblurgan-asap-tiny", "xavier"),
                                                ("deblurgan-tiny", "normal"), ("pix2pixhd-tiny", "normal")])
def test_presets_use_their_papers_init(preset, scheme):
    config = load_run_config(preset, [])
    assert config.model.init == scheme and config.discriminator.init == scheme


def test_asapnet_tiny_starts_from_a_shared_mlp():
    """asapnet-tiny's small-budget init: the paper's xavier discriminator, the generator's per-pixel MLPs one
    He-initialised MLP in the bias of the low-res stream's last conv (model.init pytorch keeps it)."""
    from pixelwise.train.recipes import build_generator

    config = load_run_config("asapnet-tiny", [])
    assert config.discriminator.init == "xavier" and config.model.init == "pytorch"
    torch.manual_seed(0)
    generator = build_generator(config)
    last = generator.lowres_stream.model[-1]
    assert last.weight.abs().max() < 0.05 and last.bias.std() > 0.2  # small per-cell part, a real shared MLP
    official = pixelwise.create_model("asapnet", label_nc=8, downsampling=8, learned_ds_factor=8, lr_width=8,
                                      lr_max_width=16, lr_depth=2, hr_width=8, hr_depth=3)
    init_weights(official, "xavier")
    x = torch.zeros(2, official.config.in_channels, 64, 128)
    x[:, 3, :, :64] = 1.0  # label 3 on the left half, label 5 on the right
    x[:, 5, :, 64:] = 1.0

    def contrast(model) -> float:  # how differently the two labels come out
        with torch.no_grad():
            y = model(x)
        return float((y[..., :64].mean((0, 2, 3)) - y[..., 64:].mean((0, 2, 3))).abs().max())

    assert official(x).abs().max() < 0.05 and contrast(official) < 0.01  # official init: ~flat 0 (mid-gray)
    assert contrast(generator) > 0.05  # the labels already map to different colours


def test_shared_mlp_init_survives_an_init_scheme_that_would_overwrite_it():
    """model.init=xavier zeroes conv biases, where the shared MLP lives: the generator applies it after the scheme."""
    from pixelwise.train.recipes import build_generator

    torch.manual_seed(0)
    generator = build_generator(load_run_config("asapnet-tiny", ["model.init=xavier"]))
    last = generator.lowres_stream.model[-1]
    assert last.weight.abs().max() < 0.05 and last.bias.std() > 0.2


@pytest.mark.parametrize(("preset", "overrides"), [("asapnet-tiny", ["model.init=xavier"]), ("asapnet-tiny", []),
                                                   ("deblurgan-asap-tiny", []), ("deblurgan-tiny", []),
                                                   ("pix2pixhd-tiny", [])])
def test_build_generator_gives_the_generators_own_init_each_step_once(preset, overrides, monkeypatch):
    """The recipe builds the generator with its init scheme; the generator applies the scheme, then its config's
    own initialisations, once each: the weights equal a generator built alone with that scheme, and no special
    init runs twice."""
    from pixelwise.models.asapnet import ASAPNetGenerator
    from pixelwise.models.deblurgan import ResnetGenerator
    from pixelwise.train.recipes import build_generator, generator_config

    config = load_run_config(preset, overrides)
    calls: list[str] = []
    for cls in (ASAPNetGenerator, ResnetGenerator):
        for name in ("shared_mlp_init_", "zero_init_output_"):
            if hasattr(cls, name):
                original = getattr(cls, name)
                monkeypatch.setattr(cls, name, lambda self, *a, _o=original, _n=name, **k: (calls.append(_n),
                                                                                           _o(self, *a, **k))[1])
    torch.manual_seed(7)
    built = build_generator(config)
    expected = [n for n in ("shared_mlp_init_", "zero_init_output_")
                if getattr(generator_config(config), n.rstrip("_"), False)]
    assert calls == expected
    torch.manual_seed(7)
    own = pixelwise.create_model(config.model.name, config=generator_config(config), init=config.model.init)
    assert built.state_dict().keys() == own.state_dict().keys()
    assert all(torch.equal(v, own.state_dict()[k]) for k, v in built.state_dict().items())
