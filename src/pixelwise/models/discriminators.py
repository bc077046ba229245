"""Discriminators, with the official key names.

- :class:`Pix2PixHDDiscriminator`: pix2pixHD's multi-scale PatchGAN (Sec. 3.2, "Multi-scale
  discriminators"): ``num_D`` 70x70-style PatchGANs on an image pyramid, conditional on the label map,
  returning every layer's features for the feature-matching loss. Keys ``scale<i>_layer<j>.*``.
- :class:`SpadeDiscriminator`: the SPADE multi-scale discriminator ASAP-Net trains with: spectral norm +
  InstanceNorm on the inner convs, intermediate features returned. Keys ``discriminator_<i>.model<j>.*``.
- :class:`PatchGANCritic`: DeblurGAN's critic (the pix2pix/CycleGAN NLayerDiscriminator without sigmoid,
  unconditional: it sees only the image). Keys ``model.<i>.*``.

Every ``forward`` returns a list (one entry per scale) of lists of feature maps; the last map of each
scale is the patch score map. The loss code only relies on that shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import spectral_norm

from pixelwise.models.base import PretrainedModel
from pixelwise.models.layers import avg_pool_downsample, norm_2d

_KW = 4
_PADW = 2  # ceil((kw - 1) / 2), as in all three official codes


@dataclass
class DiscriminatorConfig:
    """Shared by the three discriminators; ``input_nc`` counts the conditioning channels too."""

    input_nc: int = 39  # pix2pixHD default: 35 labels + edge + 3 image channels
    ndf: int = 64
    n_layers: int = 3
    num_D: int = 3
    norm: str = "instance"


def _nlayer_sequences(config: DiscriminatorConfig, spectral: bool) -> list[list[nn.Module]]:
    """The per-layer groups of an N-layer PatchGAN, as pix2pixHD/SPADE build them."""
    nf = config.ndf
    groups: list[list[nn.Module]] = [[nn.Conv2d(config.input_nc, nf, _KW, stride=2, padding=_PADW),
                                      nn.LeakyReLU(0.2, not spectral)]]
    for n in range(1, config.n_layers + (0 if spectral else 1)):
        nf_prev, nf = nf, min(nf * 2, 512)
        if spectral:
            stride = 1 if n == config.n_layers - 1 else 2
            conv = spectral_norm(nn.Conv2d(nf_prev, nf, _KW, stride=stride, padding=_PADW, bias=False))
            groups.append([nn.Sequential(conv, norm_2d(config.norm, nf)), nn.LeakyReLU(0.2, False)])
        else:
            stride = 1 if n == config.n_layers else 2
            groups.append([nn.Conv2d(nf_prev, nf, _KW, stride=stride, padding=_PADW), norm_2d(config.norm, nf),
                           nn.LeakyReLU(0.2, True)])
    groups.append([nn.Conv2d(nf, 1, _KW, stride=1, padding=_PADW)])
    return groups


def _run_layers(layers: list[nn.Module], x: torch.Tensor) -> list[torch.Tensor]:
    feats = []
    for layer in layers:
        x = layer(x)
        feats.append(x)
    return feats


class Pix2PixHDDiscriminator(PretrainedModel):

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        config = config or DiscriminatorConfig()
        super().__init__(config)
        for i in range(config.num_D):
            for j, group in enumerate(_nlayer_sequences(config, spectral=False)):
                setattr(self, f"scale{i}_layer{j}", nn.Sequential(*group))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        cfg = self.config
        results = []
        for i in range(cfg.num_D):
            scale = cfg.num_D - 1 - i  # the official code runs the last-built scale on the full image
            layers = [getattr(self, f"scale{scale}_layer{j}") for j in range(cfg.n_layers + 2)]
            results.append(_run_layers(layers, x))
            if i != cfg.num_D - 1:
                x = avg_pool_downsample(x)
        return results


class _SpadeNLayer(nn.Module):
    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.num_groups = 0
        for n, group in enumerate(_nlayer_sequences(config, spectral=True)):
            self.add_module(f"model{n}", nn.Sequential(*group))
            self.num_groups += 1

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return _run_layers([getattr(self, f"model{n}") for n in range(self.num_groups)], x)


class SpadeDiscriminator(PretrainedModel):

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        config = config or DiscriminatorConfig(input_nc=39, n_layers=4, num_D=2)
        super().__init__(config)
        for i in range(config.num_D):
            self.add_module(f"discriminator_{i}", _SpadeNLayer(config))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        results = []
        for i in range(self.config.num_D):
            results.append(getattr(self, f"discriminator_{i}")(x))
            if i != self.config.num_D - 1:
                x = avg_pool_downsample(x)
        return results


class PatchGANCritic(PretrainedModel):
    """DeblurGAN's critic: n_layers strided 4x4 convs, one stride-1 conv, a 1-channel output, no sigmoid
    (WGAN-GP needs an unbounded critic)."""


    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        config = config or DiscriminatorConfig(input_nc=3, n_layers=3, num_D=1)
        super().__init__(config)
        ndf, norm = config.ndf, config.norm
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(config.input_nc, ndf, _KW, stride=2, padding=_PADW),
                                   nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, config.n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 1 if n == config.n_layers else 2
            layers += [nn.Conv2d(ndf * prev, ndf * mult, _KW, stride=stride, padding=_PADW, bias=bias),
                       norm_2d(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, _KW, stride=1, padding=_PADW))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        return [[self.model(x)]]
