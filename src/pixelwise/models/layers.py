"""Building blocks shared by the model files (normalisation, padding, residual blocks, initialisation).

Module nesting here mirrors the official code so that state_dict keys match official checkpoints
exactly; comments give the index each sub-module must sit at.
"""

from __future__ import annotations

import torch
from torch import nn


def norm_2d(kind: str, channels: int) -> nn.Module:
    """Per-sample normalisation layers as the official codes use them.

    ``instance``: InstanceNorm2d without affine and without running stats (pix2pixHD, DeblurGAN);
    ``instanceaffine``: the same with a learned scale and shift (ASAP-Net's low-res stream);
    ``batch``: BatchNorm2d with affine; ``none``: identity.
    """
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "instanceaffine":
        return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; use instance, instanceaffine, batch or none")


def pad_2d(kind: str, amount: int) -> nn.Module:
    if kind == "reflect":
        return nn.ReflectionPad2d(amount)
    if kind == "replicate":
        return nn.ReplicationPad2d(amount)
    raise ValueError(f"padding module for {kind!r} does not exist; use reflect or replicate")


class ResnetBlock(nn.Module):
    """Residual block of pix2pixHD and DeblurGAN: x + [pad, conv3, norm, ReLU, (dropout), pad, conv3, norm].

    With reflection padding and no dropout the convs sit at ``conv_block.1`` and ``conv_block.5``
    (pix2pixHD); with dropout at ``conv_block.1`` and ``conv_block.6`` (DeblurGAN 2018).
    """

    def __init__(self, channels: int, norm: str, padding: str = "reflect", dropout: bool = False,
                 bias: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for second in (False, True):
            conv_pad = 0
            if padding in ("reflect", "replicate"):
                layers.append(pad_2d(padding, 1))
            else:
                conv_pad = 1
            layers += [nn.Conv2d(channels, channels, 3, padding=conv_pad, bias=bias), norm_2d(norm, channels)]
            if not second:
                layers.append(nn.ReLU(True))
                if dropout:
                    layers.append(nn.Dropout(0.5))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def avg_pool_downsample(x: torch.Tensor) -> torch.Tensor:
    """AvgPool2d(3, stride 2, padding 1, count_include_pad=False): pix2pixHD's and SPADE's image pyramid."""
    return nn.functional.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)


INIT_SCHEMES = ("pytorch", "normal", "xavier")


def init_weights(module: nn.Module, scheme: str, gain: float = 0.02) -> nn.Module:
    """Initialise a freshly built network the way its official training code does.

    - ``normal`` (pix2pixHD, DeblurGAN ``weights_init``): conv weights ~ N(0, gain); conv biases keep
      PyTorch's default; BatchNorm weight ~ N(1, gain), bias 0.
    - ``xavier`` (SPADE / ASAP-Net ``init_weights('xavier', 0.02)``): conv and linear weights
      xavier-normal with ``gain``, biases 0; BatchNorm as above.
    - ``pytorch``: leave PyTorch's default initialisation.

    For spectral-normalised convs the raw ``weight_orig`` is initialised. The small gain matters: with
    it, a residual generator starts close to the identity (DeblurGAN's global skip) and ASAP-Net's
    predicted per-pixel MLPs start small rather than saturating their tanh.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; use one of {INIT_SCHEMES}")
    if scheme == "pytorch":
        return module
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = layer.weight_orig if hasattr(layer, "weight_orig") else layer.weight
            with torch.no_grad():
                if scheme == "normal":
                    nn.init.normal_(weight, 0.0, gain)
                else:
                    nn.init.xavier_normal_(weight, gain=gain)
                    if layer.bias is not None:
                        nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d) and layer.affine:
            with torch.no_grad():
                nn.init.normal_(layer.weight, 1.0, gain)
                nn.init.zeros_(layer.bias)
    return module
