"""Small-budget training aids: the adversarial warm-up schedule, the pixel L1 term and zero-initialised
output layers that make residual generators start as the identity."""

from __future__ import annotations

import pytest
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.models.asapnet import ASAPNetConfig, ASAPNetGenerator
from pixelwise.models.deblurgan import DeblurGANConfig, ResnetGenerator
from pixelwise.train.config import LossConfig, TrainConfig, load_run_config
from pixelwise.train.recipes import Recipe, adversarial_factor, build_generator


def test_adversarial_factor_is_off_then_ramps_linearly() -> None:
    assert [adversarial_factor(TrainConfig(), s) for s in (0, 1, 1000)] == [1.0, 1.0, 1.0]
    config = TrainConfig(gan_warmup_steps=4)
    factors = [adversarial_factor(config, s) for s in range(10)]
    assert factors == [0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


class CountingCritic(torch.nn.Module):
    """A stand-in discriminator: one scale, [feature, score], counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.conv = torch.nn.Conv2d(3, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        self.calls += 1
        feature = self.conv(x)
        return [[feature, feature.mean(dim=1, keepdim=True) * 2.0]]


def test_generator_loss_scales_adversarial_terms_and_keeps_l1() -> None:
    torch.manual_seed(0)
    real, fake = torch.rand(2, 3, 8, 8) * 2 - 1, (torch.rand(2, 3, 8, 8) * 2 - 1).requires_grad_(True)
    recipe = Recipe(LossConfig(gan="lsgan", feature_matching=10.0, vgg=0.0, l1=5.0), conditional=False)
    critic = CountingCritic()
    with torch.no_grad():
        _, full = recipe.generator_loss(critic, real, real, fake, 1.0)
        _, half = recipe.generator_loss(critic, real, real, fake, 0.5)
    assert critic.calls == 2
    for key in ("g_gan", "g_fm"):
            assert float(half[key]) == pytest.approx(0.5 * float(full[key])) and float(full[key]) > 0
    assert float(half["g_l1"]) == pytest.approx(float(full["g_l1"]))
    assert float(full["g_l1"]) == pytest.approx(5.0 * float((fake - real).abs().mean().detach()))
    total, off = recipe.generator_loss(critic, real, real, fake, 0.0)
    assert critic.calls == 2  # the critic is not run during the warm-up
    assert float(off["g_gan"]) == float(off["g_fm"]) == 0.0
    assert float(total.detach()) == pytest.approx(float(off["g_l1"].detach()))
    total.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_warmup_needs_a_content_term() -> None:
    with pytest.raises(PixelwiseError, match="train.gan_warmup_steps=5 .* set loss.l1"):
        load_run_config("deblurgan-tiny", ["train.gan_warmup_steps=5", "loss.l1=0", "loss.mse=0", "loss.content=0",
                                           "loss.vgg=0"])
    with pytest.raises(PixelwiseError, match="train.gan_warmup_steps=-1 must be >= 0"):
        load_run_config("deblurgan-tiny", ["train.gan_warmup_steps=-1"])


def test_zero_init_output_makes_residual_generators_the_identity() -> None:
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    deblurgan = ResnetGenerator(DeblurGANConfig(ngf=8, n_blocks=1, zero_init_output=True)).eval()
    asap = ASAPNetGenerator(ASAPNetConfig(input_mode="rgb", label_nc=3, instance_edge=False, lr_instance=False,
                                          downsampling=8, learned_ds_factor=8, lr_width=8, lr_max_width=16,
                                          lr_depth=1, hr_width=8, hr_depth=3, global_residual=True,
                                          zero_init_output=True)).eval()
    with torch.no_grad():
        assert torch.equal(deblurgan(x), x)
        out, params = asap.forward_with_params(x)
        assert torch.equal(out, x) and params.abs().sum() > 0  # only the last MLP layer is zero
    # the default (official conversion, fixtures): a random residual
    with torch.no_grad():
        assert not torch.equal(ResnetGenerator(DeblurGANConfig(ngf=8, n_blocks=1)).eval()(x), x)


@pytest.mark.parametrize("model", ["deblurgan", "deblurgan-asap"])
def test_build_generator_keeps_zero_init_after_the_init_scheme(model: str) -> None:
    preset = "deblurgan-tiny" if model == "deblurgan" else "deblurgan-asap-tiny"
    config = load_run_config(preset, ["model.options.zero_init_output=true"])
    generator = build_generator(config).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(generator(x), x)
    # zero init is only the start: one optimizer step on an L1 loss moves the output
    generator.train()
    opt = torch.optim.Adam(generator.parameters(), lr=1e-3)
    torch.nn.functional.l1_loss(generator(x), torch.zeros_like(x)).backward()
    opt.step()
    with torch.no_grad():
        assert not torch.equal(generator.eval()(x), x)


def test_pixel_mse_term() -> None:
    real, fake = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5)
    recipe = Recipe(LossConfig(gan="lsgan", feature_matching=0.0, vgg=0.0, mse=1000.0), conditional=False)
    total, terms = recipe.generator_loss(CountingCritic(), real, real, fake, 0.0)
    assert float(terms["g_mse"]) == pytest.approx(250.0) and float(total) == pytest.approx(250.0)


def test_resize_conv_upsampling_has_no_transposed_convs() -> None:
    model = ResnetGenerator(DeblurGANConfig(ngf=8, n_blocks=1, upsampling="resize-conv"))
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.modules())
    assert model(torch.zeros(1, 3, 32, 24)).shape == (1, 3, 32, 24)
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in ResnetGenerator(DeblurGANConfig()).modules())
    with pytest.raises(ValueError, match="upsampling='bilinear'"):
        ResnetGenerator(DeblurGANConfig(upsampling="bilinear"))  # type: ignore[arg-type]


@pytest.mark.slow
def test_run_without_adversary_neither_runs_nor_updates_the_discriminator(tmp_path) -> None:
    from pixelwise.train.loop import train

    overrides = ["data.load_height=32", "data.load_width=64", "data.max_images=8", "train.device=cpu",
                 "train.progress=false", "train.tensorboard=false", "train.sample_every=0", "train.log_every=1",
                 "train.checkpoint_every=0", "train.max_steps=3", "train.seed=0"]
    config = load_run_config("asapnet-tiny", [*overrides, "loss.gan_weight=0", "loss.feature_matching=0"])
    assert not Recipe.from_config(config).adversarial
    torch.manual_seed(123)
    summary = train(config, tmp_path / "plain")
    assert summary.discriminator is not None and summary.generator is not None
    # the discriminator keeps its initial weights: a 1-step run from the same seed holds the same ones
    again = train(load_run_config("asapnet-tiny", [*overrides, "train.max_steps=1", "loss.gan_weight=0",
                                                   "loss.feature_matching=0"]), tmp_path / "one")
    assert again.discriminator is not None
    for (name, a), (_, b) in zip(summary.discriminator.state_dict().items(),
                                 again.discriminator.state_dict().items()):
        assert torch.equal(a, b), name
    critic = train(load_run_config("asapnet-tiny", [*overrides, "train.max_steps=1", "loss.gan_weight=1"]),
                   tmp_path / "critic")
    assert critic.discriminator is not None
    assert any(not torch.equal(a, b) for a, b in zip(critic.discriminator.state_dict().values(),
                                                     again.discriminator.state_dict().values()))
    assert not any(k.startswith("d_") or k in ("g_gan", "g_fm") for k in summary.losses), summary.losses
    assert "g_l1" in summary.losses
    for on in ("loss.gan_weight=1", "loss.feature_matching=10"):  # either term alone keeps the critic
        assert Recipe.from_config(load_run_config("asapnet-tiny", [*overrides, on])).adversarial
