"""GAN objectives, gradient penalty, feature matching and the VGG19 losses (random weights, built explicitly)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pixelwise import losses
from pixelwise.errors import PixelwiseError


def _out(*scores: float, feats: int = 2) -> list[list[torch.Tensor]]:
    """A fake multi-scale discriminator output whose score maps are constant."""
    return [[torch.ones(2, 3, 4, 4)] * feats + [torch.full((2, 1, 4, 4), s)] for s in scores]


@pytest.mark.parametrize(
    ("mode", "d_expected", "g_expected"),
    [
        ("hinge", 0.0 + 1.5, -0.5),  # relu(1 - 2) + relu(1 + 0.5); G: -0.5
        ("lsgan", 1.0 + 0.25, 0.25),  # (2 - 1)^2 + 0.5^2; G: (0.5 - 1)^2
        ("wgan-gp", 0.5 - 2.0, -0.5),
        ("bce", float(nn.functional.softplus(torch.tensor(-2.0)) + nn.functional.softplus(torch.tensor(0.5))),
         float(nn.functional.softplus(torch.tensor(-0.5)))),
    ],
)
def test_gan_objectives_on_constant_scores(mode, d_expected, g_expected):
    real, fake = _out(2.0, 2.0), _out(0.5, 0.5)
    d_mean = losses.discriminator_loss(real, fake, mode)
    d_sum = losses.discriminator_loss(real, fake, mode, reduction="sum")
    g = losses.generator_loss(fake, mode)
    assert d_mean.item() == pytest.approx(d_expected, abs=1e-6)
    assert d_sum.item() == pytest.approx(2 * d_expected, abs=1e-6)
    assert g.item() == pytest.approx(g_expected, abs=1e-6)


def test_unknown_gan_mode_is_a_user_error():
    with pytest.raises(PixelwiseError, match="loss.gan='vanilla'"):
        losses.generator_loss(_out(1.0), "vanilla")


def test_gradient_penalty_of_a_linear_critic_is_exact():
    weight = torch.randn(1, 3, 4, 4)

    def critic(x):
        return [[(x * weight).sum(dim=(1, 2, 3), keepdim=True).view(-1, 1, 1, 1)]]

    real, fake = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    gp = losses.gradient_penalty(critic, real, fake, weight=10.0)
    assert gp.item() == pytest.approx(10.0 * (weight.norm().item() - 1.0) ** 2, rel=1e-5)


def test_gradient_penalty_reaches_critic_parameters_and_keeps_the_condition():
    critic = nn.Sequential(nn.Conv2d(6, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3, padding=1))
    seen = []

    def run(x):
        seen.append(x.shape[1])
        return [[critic(x)]]

    cond, real, fake = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    gp = losses.gradient_penalty(run, real, fake, condition=cond)
    gp.backward()
    assert seen == [6] and gp.item() > 0
    weights = [critic[0].weight, critic[2].weight]  # the last bias does not change the input gradient
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in weights)


def test_feature_matching_ignores_the_score_map_and_averages_scales():
    real = [[torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 2, 2), torch.full((1, 1, 2, 2), 5.0)]] * 2
    fake = [[torch.ones(1, 2, 4, 4), torch.full((1, 2, 2, 2), 2.0), torch.zeros(1, 1, 2, 2)]] * 2
    assert losses.feature_matching_loss(fake, real).item() == pytest.approx(3.0)
    assert losses.feature_matching_loss(real, real).item() == 0.0


def test_vgg_random_features_are_seeded_frozen_and_named():
    a = losses.VGG19Features(["relu1_1", "conv3_3", "relu5_1"], weights="random")
    b = losses.VGG19Features(["relu1_1", "conv3_3", "relu5_1"], weights="random")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert len(a.features) == 30 and not any(p.requires_grad for p in a.parameters())
    a.train()
    assert not a.training
    feats = a(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert feats["relu1_1"].shape == (1, 64, 32, 32)
    assert feats["conv3_3"].shape == (1, 256, 8, 8) and feats["conv3_3"].min() < 0  # before its ReLU
    assert feats["relu5_1"].shape == (1, 512, 2, 2)


def test_vgg_loss_terms_and_gradients():
    loss = losses.VGGLoss(perceptual=True, content=True, weights="random")
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    fake = (real + 0.3 * torch.randn_like(real)).clamp(-1, 1).requires_grad_(True)
    same = loss(real, real)
    assert same["vgg"].item() == 0.0 and same["content"].item() == 0.0
    terms = loss(fake, real)
    assert set(terms) == {"vgg", "content"} and terms["vgg"] > 0 and terms["content"] > 0
    (terms["vgg"] + terms["content"]).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())


def test_missing_imagenet_weights_name_the_file_and_the_option(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    expected = tmp_path / "hub" / "checkpoints" / losses.VGG19_FILE
    with pytest.raises(PixelwiseError) as info:
        losses.VGGLoss(weights="imagenet")
    message = str(info.value)
    assert str(expected) in message and "loss.vgg_weights" in message and "random" in message
    with pytest.raises(PixelwiseError, match="nope.pth"):
        losses.check_vgg_weights(str(tmp_path / "nope.pth"))
    losses.check_vgg_weights("random")


def test_vgg_weights_load_from_a_path(tmp_path):
    source = losses.VGG19Features(["conv3_3"], weights="random")
    state = {f"features.{k}": v + 1.0 for k, v in source.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # a full torchvision file has more than we need
    torch.save(state, tmp_path / "vgg.pth")
    loaded = losses.VGG19Features(["conv3_3"], weights=str(tmp_path / "vgg.pth"))
    assert torch.equal(loaded.features[14].weight, source.features[14].weight + 1.0)
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(PixelwiseError, match="not a torchvision VGG19 state dict"):
        losses.VGG19Features(["conv3_3"], weights=str(tmp_path / "bad.pth"))


# --- pixel restoration terms and the cosine schedule ---------------------------------------------------------
def test_psnr_loss_is_minus_the_mean_psnr_up_to_a_constant():
    from pixelwise.losses import PSNR_LOSS_EPS, psnr_loss

    real = torch.rand(3, 3, 16, 16) * 2 - 1
    fake = real + 0.05 * torch.randn_like(real)
    mse = (fake - real).pow(2).flatten(1).mean(1)
    psnr = 10 * torch.log10(4.0 / (mse + PSNR_LOSS_EPS))  # range 2 ([-1, 1])
    assert torch.allclose(psnr_loss(fake, real), 10 * torch.log10(torch.tensor(4.0)) - psnr.mean(), atol=1e-4)
    assert psnr_loss(real, real) == pytest.approx(10 * torch.log10(torch.tensor(PSNR_LOSS_EPS)).item())
    fake.requires_grad_(True)
    psnr_loss(fake, real).backward()
    assert fake.grad.abs().sum() > 0


def test_charbonnier_and_fft_losses():
    from pixelwise.losses import charbonnier_loss, fft_l1_loss

    real = torch.rand(2, 3, 16, 16)
    assert charbonnier_loss(real, real) == pytest.approx(1e-3)
    assert charbonnier_loss(real + 0.5, real) == pytest.approx(0.5, abs=1e-5)
    assert fft_l1_loss(real, real) == 0
    blurred = torch.nn.functional.avg_pool2d(real, 3, stride=1, padding=1, count_include_pad=False)
    shifted = real + 0.01  # a flat offset: one DC coefficient, tiny high-frequency change
    assert fft_l1_loss(blurred, real) > fft_l1_loss(shifted, real)


def test_new_loss_terms_in_the_recipe_and_the_cosine_schedule():
    from pixelwise.train import recipes
    from pixelwise.train.config import LossConfig, TrainConfig

    recipe = recipes.Recipe(loss=LossConfig(gan_weight=0, feature_matching=0, vgg=0, psnr=1, charbonnier=2,
                                            fft=0.5), conditional=False)
    real = torch.rand(2, 3, 8, 8)
    _, terms = recipe.generator_loss(None, real, real, real + 0.1, adversarial=0.0)
    assert {"g_psnr", "g_charbonnier", "g_fft"} <= set(terms)
    cosine = TrainConfig(max_steps=10, decay_steps=10, lr_schedule="cosine", epochs=100, decay_epochs=0)
    factors = [recipes.lr_factor(cosine, s, 0) for s in range(11)]
    assert factors[0] == 1 and factors[5] == pytest.approx(0.5) and factors[10] == pytest.approx(0)
    assert all(a >= b for a, b in zip(factors, factors[1:]))
