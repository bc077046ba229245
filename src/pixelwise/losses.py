"""Training losses: GAN objectives, discriminator feature matching, VGG19 perceptual and content losses.

Every discriminator in pixelwise returns a list (one entry per scale) of lists of feature maps whose last
map is the patch score map (see :mod:`pixelwise.models.discriminators`); the functions here rely only on
that shape. Losses are computed in float32 even when the networks run under autocast.

- GAN objectives (:func:`discriminator_loss`, :func:`generator_loss`): ``hinge`` (SPADE / ASAP-Net),
  ``lsgan`` (pix2pixHD), ``wgan-gp`` (DeblurGAN, with :func:`gradient_penalty`) and ``bce``
  (the original non-saturating GAN with logits).
- :func:`feature_matching_loss`: pix2pixHD Sec. 3.2, Eq. (4).
- :class:`VGGLoss`: the pix2pixHD / SPADE perceptual loss (L1 on relu1_1..relu5_1 with weights
  1/32, 1/16, 1/8, 1/4, 1) and DeblurGAN's content loss (MSE on conv3_3 features, Sec. 3.2), sharing one
  frozen torchvision VGG19 trunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.errors import PixelwiseError

GanMode = Literal["hinge", "lsgan", "wgan-gp", "bce"]
GAN_MODES: tuple[str, ...] = ("hinge", "lsgan", "wgan-gp", "bce")
Reduction = Literal["mean", "sum"]
DiscriminatorOutput = list[list[torch.Tensor]]


# --- GAN objectives ---------------------------------------------------------------------------------------
def score_maps(outputs: DiscriminatorOutput) -> list[torch.Tensor]:
    """The patch score map of every scale (the last feature map), in float32."""
    return [scale[-1].float() for scale in outputs]


def _combine(values: list[torch.Tensor], reduction: Reduction) -> torch.Tensor:
    total = torch.stack(values).sum()
    return total / len(values) if reduction == "mean" else total


def _check_mode(mode: str) -> None:
    if mode not in GAN_MODES:
        raise PixelwiseError(f"loss.gan={mode!r} is not a GAN objective; use one of {list(GAN_MODES)}")


def discriminator_loss(real: DiscriminatorOutput, fake: DiscriminatorOutput, mode: GanMode,
                       reduction: Reduction = "mean") -> torch.Tensor:
    """The discriminator's (critic's) objective on real and fake outputs, summed over real and fake terms
    and reduced over scales (pix2pixHD sums over scales, SPADE averages).

    hinge: E[relu(1 - D(real))] + E[relu(1 + D(fake))] (Lim & Ye 2017, as in SPADE);
    lsgan: E[(D(real) - 1)^2] + E[D(fake)^2] (Mao et al. 2017, pix2pixHD);
    bce: BCE-with-logits to 1 for real and 0 for fake;
    wgan-gp: E[D(fake)] - E[D(real)] (Gulrajani et al. 2017; add :func:`gradient_penalty` separately).
    """
    _check_mode(mode)
    terms = []
    for r, f in zip(score_maps(real), score_maps(fake)):
        if mode == "hinge":
            terms.append(F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean())
        elif mode == "lsgan":
            terms.append((r - 1.0).pow(2).mean() + f.pow(2).mean())
        elif mode == "bce":
            terms.append(F.softplus(-r).mean() + F.softplus(f).mean())
        else:
            terms.append(f.mean() - r.mean())
    return _combine(terms, reduction)


def generator_loss(fake: DiscriminatorOutput, mode: GanMode, reduction: Reduction = "mean") -> torch.Tensor:
    """The generator's adversarial objective: hinge and WGAN use -E[D(fake)]; lsgan E[(D(fake) - 1)^2];
    bce the non-saturating -log sigmoid(D(fake)) (Goodfellow et al. 2014, Sec. 3)."""
    _check_mode(mode)
    terms = []
    for f in score_maps(fake):
        if mode in ("hinge", "wgan-gp"):
            terms.append(-f.mean())
        elif mode == "lsgan":
            terms.append((f - 1.0).pow(2).mean())
        else:
            terms.append(F.softplus(-f).mean())
    return _combine(terms, reduction)


def gradient_penalty(critic: Callable[[torch.Tensor], DiscriminatorOutput], real: torch.Tensor,
                     fake: torch.Tensor, condition: torch.Tensor | None = None, weight: float = 10.0,
                     grad_scaler: torch.amp.GradScaler | None = None) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017, Sec. 4, Alg. 1): ``weight * E[(||grad D(x_hat)||_2 - 1)^2]``
    with ``x_hat`` uniform on the segments between real and fake images; the gradient norm is taken per
    sample over all pixels and channels. For a patch critic the score maps are summed (DeblurGAN's choice);
    for a conditional critic only the image half is interpolated, the ``condition`` is concatenated as is.
    With an fp16 ``grad_scaler`` the gradient is taken of the scaled output and unscaled (PyTorch AMP
    recipe for gradient penalties)."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    critic_input = x_hat if condition is None else torch.cat([condition.detach(), x_hat], dim=1)
    out = torch.stack([s.sum() for s in score_maps(critic(critic_input))]).sum()
    if grad_scaler is not None and grad_scaler.is_enabled():
        (grad,) = torch.autograd.grad(grad_scaler.scale(out), x_hat, create_graph=True)
        grad = grad / grad_scaler.get_scale()
    else:
        (grad,) = torch.autograd.grad(out, x_hat, create_graph=True)
    norm = grad.float().flatten(1).norm(2, dim=1)
    return weight * (norm - 1.0).pow(2).mean()


def feature_matching_loss(fake: DiscriminatorOutput, real: DiscriminatorOutput) -> torch.Tensor:
    """Discriminator feature matching (pix2pixHD Sec. 3.2, Eq. 4): L1 between the intermediate features
    (every map but the score map) of fake and real, summed over layers and averaged over scales. pix2pixHD
    also multiplies by 4 / (n_layers + 1), which is 1 for its default 3-layer discriminators; SPADE omits it."""
    total = fake[0][0].new_zeros((), dtype=torch.float32)
    for fake_scale, real_scale in zip(fake, real):
        for f, r in zip(fake_scale[:-1], real_scale[:-1]):
            total = total + F.l1_loss(f.float(), r.detach().float())
    return total / len(fake)


# --- VGG19 ------------------------------------------------------------------------------------------------
VGG19_FILE = "vgg19-dcbb9e9d.pth"  # torchvision's ImageNet VGG19 weights, as torch.hub caches them
VGG19_LAYERS = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "conv3_3": 14, "relu4_1": 20, "relu5_1": 29}
PERCEPTUAL_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
PERCEPTUAL_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)
CONTENT_LAYER = "conv3_3"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


# --- pixel restoration terms (images in [-1, 1]; computed in float32) ---------------------------------------
PSNR_LOSS_EPS = 1e-5  # added to each image's MSE: caps the PSNR an image can reach at 10 log10(4 / eps) = 56 dB


def psnr_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Minus the mean over images of their PSNR in dB (range 2, up to a constant): ``mean(10 log10(mse_i +
    eps))``. Each image's gradient is scaled by 1 / its MSE, so a nearly-restored smooth image counts as much
    as a busy one, as in the mean PSNR the benchmarks report."""
    mse = (fake.float() - real.float()).pow(2).flatten(1).mean(1)
    return (10.0 * torch.log10(mse + PSNR_LOSS_EPS)).mean()


def charbonnier_loss(fake: torch.Tensor, real: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """``mean(sqrt((fake - real)^2 + eps^2))``: L1 away from the target, smooth at it."""
    return torch.sqrt((fake.float() - real.float()).pow(2) + eps * eps).mean()


def fft_l1_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L1 distance of the images' 2-D real FFTs (real and imaginary parts), per pixel: the frequency term of
    MIMO-UNet (Cho et al. 2021), which weights the high frequencies that blur removes."""
    diff = torch.fft.rfft2(fake.float(), norm="ortho") - torch.fft.rfft2(real.float(), norm="ortho")
    return torch.view_as_real(diff).abs().mean()


def default_vgg_path() -> Path:
    """Where torch.hub keeps torchvision's VGG19 weights: ``<torch.hub.get_dir()>/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


def vgg_weights_path(weights: str) -> Path | None:
    """``loss.vgg_weights`` -> the weights file to read (None for ``random``). Never downloads."""
    if weights == "random":
        return None
    if weights == "imagenet":
        return default_vgg_path()
    return Path(weights).expanduser()


def check_vgg_weights(weights: str, option: str = "loss.vgg_weights") -> None:
    """Stop early, with one message naming the file and the option, when the VGG weights are missing."""
    path = vgg_weights_path(weights)
    if path is None or path.is_file():
        return
    hint = (f"copy torchvision's {VGG19_FILE} there" if weights == "imagenet"
            else "point it at torchvision's VGG19 ImageNet state dict")
    raise PixelwiseError(
        f"VGG19 ImageNet weights not found at {path} ({option}={weights}). The perceptual/content loss needs "
        f"them and pixelwise never downloads: {hint}, or set {option}=/path/to/{VGG19_FILE}, or "
        f"{option}=random for random (untrained) VGG features, or disable the terms with loss.vgg=0 loss.content=0"
    )


def _vgg19_trunk(depth: int) -> nn.Sequential:
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["E"], batch_norm=False)[:depth]
    for module in features:
        if isinstance(module, nn.ReLU):
            module.inplace = False  # we keep intermediate outputs (conv3_3 feeds relu3_3)
    return features


def _load_vgg_state(features: nn.Sequential, path: Path, option: str) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PixelwiseError(
            f"{path} ({option}) cannot be read as a torch state dict ({type(exc).__name__}: {exc}); expected "
            f"torchvision's VGG19 ImageNet weights ({VGG19_FILE}, a torch.save'd state dict): replace the file, "
            f"or set {option}=random for untrained features") from exc
    if isinstance(state, dict) and any(k.startswith("features.") for k in state):
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    wanted = features.state_dict()
    missing = [k for k in wanted if k not in state]
    if missing:
        raise PixelwiseError(f"{path} ({option}) is not a torchvision VGG19 state dict: missing {missing[:4]}")
    for key, value in wanted.items():
        if state[key].shape != value.shape:
            raise PixelwiseError(f"{path} ({option}): {key} has shape {tuple(state[key].shape)}, "
                                 f"expected {tuple(value.shape)} (VGG19)")
    features.load_state_dict({k: state[k] for k in wanted})


class VGG19Features(nn.Module):
    """Frozen torchvision VGG19 ``features``, cut after the deepest requested layer. Takes images in
    [-1, 1] and returns the requested named activations. ``weights``: ``imagenet`` (the torch.hub cache
    file), ``random`` (seeded Kaiming init as torchvision's, for tests and download-free demos) or a path.
    ``normalize`` maps [-1, 1] to ImageNet-normalised inputs first (the official pix2pixHD, SPADE and
    DeblurGAN codes feed [-1, 1] directly; the ImageNet weights expect normalised inputs)."""

    def __init__(self, layers: Sequence[str], weights: str = "imagenet", normalize: bool = True,
                 seed: int = 0) -> None:
        super().__init__()
        unknown = [name for name in layers if name not in VGG19_LAYERS]
        if unknown:
            raise ValueError(f"unknown VGG19 layer(s) {unknown}; known: {list(VGG19_LAYERS)}")
        self.layers = tuple(layers)
        self.indices = {VGG19_LAYERS[name]: name for name in layers}
        path = vgg_weights_path(weights)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.features = _vgg19_trunk(max(self.indices) + 1)
            if path is None:
                for module in self.features:
                    if isinstance(module, nn.Conv2d):
                        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                        nn.init.zeros_(module.bias)
        if path is not None:
            check_vgg_weights(weights)
            _load_vgg_state(self.features, path, "loss.vgg_weights")
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        return super().train(False)  # always frozen, whatever the trainer asks

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.normalize:
            x = ((x + 1.0) / 2.0 - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out = {}
        for index, module in enumerate(self.features):
            x = module(x)
            if index in self.indices:
                out[self.indices[index]] = x
        return out


class VGGLoss(nn.Module):
    """Perceptual (pix2pixHD Sec. 3.2 / SPADE: sum_i w_i * L1(phi_i(fake), phi_i(real)) over relu1_1..relu5_1,
    w = 1/32, 1/16, 1/8, 1/4, 1) and content (DeblurGAN Sec. 3.2: MSE(phi_conv3_3(fake), phi_conv3_3(real)))
    terms from one VGG19 pass per image. ``forward`` returns the unweighted terms that are enabled."""

    def __init__(self, perceptual: bool = True, content: bool = False, weights: str = "imagenet",
                 normalize: bool = True) -> None:
        super().__init__()
        if not (perceptual or content):
            raise ValueError("VGGLoss needs the perceptual term, the content term or both")
        self.perceptual = perceptual
        self.content = content
        layers = (list(PERCEPTUAL_LAYERS) if perceptual else []) + ([CONTENT_LAYER] if content else [])
        self.vgg = VGG19Features(layers, weights=weights, normalize=normalize)

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
        fake_feats = self.vgg(fake)
        with torch.no_grad():
            real_feats = self.vgg(real)
        out = {}
        if self.perceptual:
            out["vgg"] = sum(w * F.l1_loss(fake_feats[n].float(), real_feats[n].float())
                             for n, w in zip(PERCEPTUAL_LAYERS, PERCEPTUAL_WEIGHTS))
        if self.content:
            out["content"] = F.mse_loss(fake_feats[CONTENT_LAYER].float(), real_feats[CONTENT_LAYER].float())
        return out
