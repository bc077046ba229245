"""Run configs: every preset loads, ``base:`` chains merge, overrides apply, and mistakes name the option."""

from __future__ import annotations

import pytest

from pixelwise.config import list_presets, save_yaml, to_dict
from pixelwise.errors import PixelwiseError
from pixelwise.train import recipes
from pixelwise.train.config import RunConfig, load_run_config, run_config_from_dict

RECIPES = ["asapnet-cityscapes-paper", "pix2pixhd-cityscapes-paper", "pix2pixhd-local-cityscapes-paper",
           "deblurgan-gopro-paper", "deblurgan-asap-gopro-paper"]
TINY = ["asapnet-bundled-tiny", "pix2pixhd-bundled-tiny", "pix2pixhd-local-bundled-tiny", "deblurgan-bundled-tiny",
        "deblurgan-asap-bundled-tiny"]


def test_every_recipe_and_tiny_variant_is_a_preset():
    assert set(RECIPES + TINY) <= set(list_presets())


@pytest.mark.parametrize("name", RECIPES + TINY)
def test_presets_load_and_round_trip(name, tmp_path):
    config = load_run_config(name)
    save_yaml(config, tmp_path / "c.yaml")
    assert load_run_config(str(tmp_path / "c.yaml")) == config
    if name in TINY:
        assert config.data.format.startswith("bundled-") and config.loss.vgg_weights == "random"
    else:
        assert config.loss.vgg_weights == "imagenet"


def test_paper_settings():
    asap = load_run_config("asapnet-cityscapes")
    assert (asap.loss.gan, asap.loss.feature_matching, asap.loss.vgg) == ("hinge", 10, 10)
    assert (asap.optim.lr_g, asap.optim.lr_d, asap.optim.betas) == (1e-4, 4e-4, (0.0, 0.9))
    assert (asap.train.epochs, asap.train.decay_epochs) == (200, 100)
    hd = load_run_config("pix2pixhd-cityscapes")
    assert (hd.loss.gan, hd.loss.feature_matching, hd.loss.vgg, hd.loss.gan_reduction) == ("lsgan", 10, 10, "sum")
    assert (hd.optim.lr_g, hd.optim.lr_d, hd.optim.betas) == (2e-4, 2e-4, (0.5, 0.999))
    assert (hd.train.epochs, hd.train.decay_epochs) == (100, 100)
    local = load_run_config("pix2pixhd-cityscapes-local")
    assert local.model.name == "pix2pixhd-local" and local.train.fix_global_epochs == 10
    assert local.discriminator.options == {"ndf": 64, "n_layers": 3, "num_D": 3} and local.data.load_width is None
    for name in ("deblurgan", "deblurgan-asap"):
        dg = load_run_config(name)
        assert (dg.loss.gan, dg.loss.gp_weight, dg.loss.content, dg.loss.vgg) == ("wgan-gp", 10, 100, 0)
        assert (dg.train.critic_steps, dg.optim.lr_g, dg.optim.betas) == (5, 1e-4, (0.5, 0.999))
        assert (dg.train.epochs, dg.train.decay_epochs, dg.data.crop_height) == (150, 150, 256)
    assert load_run_config("deblurgan").discriminator.conditional is False
    dga = load_run_config("deblurgan-asap")
    assert (dga.model.name, dga.discriminator.name, dga.discriminator.conditional) == (
        "deblurgan-asap", "spade-multiscale", True)


def test_overrides_and_their_errors():
    config = load_run_config("deblurgan-tiny", ["train.max_steps=4", "data.root=/x", "model.options.ngf=16"])
    assert config.train.max_steps == 4 and config.data.root == "/x" and config.model.options["ngf"] == 16
    with pytest.raises(PixelwiseError, match=r"unknown key\(s\) \['max_step'\]"):
        load_run_config("deblurgan-tiny", ["train.max_step=4"])
    with pytest.raises(PixelwiseError, match="'adam' is not one of"):
        load_run_config("deblurgan-tiny", ["loss.gan=adam"])
    with pytest.raises(PixelwiseError, match="unknown preset 'nope'"):
        load_run_config("nope")
    with pytest.raises(PixelwiseError, match="train.critic_steps=0 must be >= 1"):
        load_run_config("deblurgan-tiny", ["train.critic_steps=0"])
    with pytest.raises(PixelwiseError, match="fix_global_epochs=2 applies to pix2pixhd-local only"):
        load_run_config("deblurgan-tiny", ["train.fix_global_epochs=2"])
    with pytest.raises(PixelwiseError, match="decay_steps"):
        load_run_config("deblurgan-tiny", ["train.decay_steps=10"])


def test_base_chains_merge_mappings(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text("base: pix2pixhd-local-tiny\ndiscriminator:\n  options: {ndf: 16}\n")
    config = load_run_config(str(child))
    assert config.discriminator.options == {"ndf": 16, "n_layers": 3, "num_D": 2}
    assert config.model.name == "pix2pixhd-local" and config.train.fix_global_epochs == 1
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(PixelwiseError, match="loops back"):
        load_run_config(str(loop))


def test_input_channels_follow_the_data():
    asap = recipes.generator_config(load_run_config("asapnet-tiny", ["data.contain_dontcare_label=true"]))
    assert (asap.label_nc, asap.contain_dontcare_label, asap.instance_edge, asap.in_channels) == (8, True, True, 10)
    no_edge = recipes.generator_config(load_run_config("asapnet-tiny", ["data.instance_edge=false"]))
    assert (no_edge.instance_edge, no_edge.lr_instance, no_edge.in_channels) == (False, False, 8)
    assert recipes.generator_config(load_run_config("pix2pixhd-tiny")).input_nc == 9
    p2p = recipes.generator_config(load_run_config("pix2pixhd-tiny", ["data.instance_edge=false",
                                                                      "data.contain_dontcare_label=true"]))
    assert (p2p.input_nc, p2p.input_mode, p2p.instance_edge, p2p.contain_dontcare_label) == (9, "semantic", False, True)
    assert recipes.generator_config(load_run_config("deblurgan-asap-tiny")).in_channels == 3
    assert recipes.discriminator_input_channels(load_run_config("pix2pixhd-tiny")) == 12
    assert recipes.discriminator_input_channels(load_run_config("deblurgan-tiny")) == 3
    assert recipes.discriminator_input_channels(load_run_config("deblurgan-asap-tiny")) == 6
    with pytest.raises(PixelwiseError, match=r"model.options.label_nc=20 contradicts the data section"):
        recipes.generator_config(load_run_config("asapnet-tiny", ["model.options.label_nc=20"]))
    with pytest.raises(PixelwiseError, match="discriminator.options.input_nc=7"):
        recipes.build_discriminator(load_run_config("deblurgan-tiny", ["discriminator.options.input_nc=7"]))


def test_linear_decay_schedule():
    config = load_run_config("deblurgan-tiny", ["train.epochs=2", "train.decay_epochs=4"]).train
    assert [recipes.lr_factor(config, 0, e) for e in range(6)] == [1, 1, 1, 0.75, 0.5, 0.25]
    assert recipes.total_steps(config, 10) == 60
    steps = load_run_config("deblurgan-tiny", ["train.max_steps=10", "train.decay_steps=4"]).train
    assert [recipes.lr_factor(steps, s, 0) for s in range(10)] == [1] * 7 + [0.75, 0.5, 0.25]
    assert recipes.total_steps(steps, 3) == 10


def test_run_config_dict_round_trip():
    config = RunConfig()
    assert run_config_from_dict(to_dict(config)) == config
