"""pix2pixHD generators (Wang et al., "High-Resolution Image Synthesis and Semantic Manipulation with
Conditional GANs", CVPR 2018, Sec. 3.2): the global ResNet generator G1 and the local enhancer G2.

Module indices follow the official code so official checkpoints load strictly: in the global generator
``model.1`` is the 7x7 input conv, strided convs follow every 3 indices, then the residual blocks, the
transposed convs, and the 7x7 output conv. InstanceNorm has no affine and every conv keeps its bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from pixelwise.models.base import InputKind, InputSpec, PretrainedModel
from pixelwise.models.layers import ResnetBlock, avg_pool_downsample, norm_2d


@dataclass
class Pix2PixHDConfig:
    """Defaults: the official Cityscapes 512p global generator (35 labels + instance edge)."""

    netG: Literal["global", "local"] = "global"
    input_nc: int = 36  # one-hot labels + instance edge
    output_nc: int = 3
    # what the input_nc channels hold (recorded so that a saved model is run on the right input; the network
    # itself only sees input_nc): semantic = one-hot label ids [+ dontcare channel] [+ instance edge last],
    # rgb = an image (also spelled labels / photo: :attr:`input_kind`). Official options: label_nc == 0 -> rgb,
    # --no_instance -> no edge channel.
    input_mode: Literal["semantic", "rgb", "labels", "photo"] = "semantic"
    instance_edge: bool = True  # semantic: the last input channel is the instance edge map
    contain_dontcare_label: bool = False  # semantic: label id 255 -> the last one-hot channel
    ngf: int = 64  # for "local": width of the enhancer; the global part gets ngf * 2**n_local_enhancers
    n_downsample_global: int = 4
    n_blocks_global: int = 9
    n_local_enhancers: int = 1
    n_blocks_local: int = 3
    norm: Literal["instance", "batch"] = "instance"
    # decoder upsampling: "transpose" = the official 3x3 stride-2 transposed convs; "resize" = nearest 2x then a
    # 3x3 conv (same widths; no checkerboard from uneven kernel overlap, Odena et al. 2016). Official
    # checkpoints are "transpose" (state_dict keys differ: model.<i>.weight vs model.<i>.1.weight)
    upsample: Literal["transpose", "resize"] = "transpose"

    @property
    def input_kind(self) -> InputKind:
        """:class:`InputKind` of ``input_mode`` (the one name for label maps vs photos)."""
        return InputKind(self.input_mode)

    @property
    def onehot_channels(self) -> int:
        """Semantic mode: one-hot channels (label ids, plus the dontcare channel when enabled)."""
        return self.input_nc - int(self.instance_edge)

    @property
    def size_multiple(self) -> int:
        factor = 2**self.n_downsample_global
        if self.netG == "local":
            factor *= 2**self.n_local_enhancers
        return factor

    # --- the model contract (pixelwise.models.base.InputSpec) ---------------------------------------------
    def input_spec(self) -> InputSpec:
        """What this generator takes: label ids (one-hot [+ dontcare] [+ edge]) or a photo."""
        if self.input_kind is InputKind.PHOTO:
            return InputSpec(InputKind.PHOTO, self.size_multiple, channels=self.input_nc)
        return InputSpec(InputKind.LABELS, self.size_multiple, self.onehot_channels, self.instance_edge,
                         self.contain_dontcare_label, channels=self.input_nc)

    @classmethod
    def input_options(cls, spec: InputSpec) -> dict[str, Any]:
        """The options that make this generator take the input ``spec`` describes (what the data gives)."""
        if spec.kind is InputKind.LABELS:
            return {"input_nc": spec.channels, "input_mode": "semantic", "instance_edge": spec.instance_edge,
                    "contain_dontcare_label": spec.dontcare}
        return {"input_nc": spec.channels, "input_mode": "rgb", "instance_edge": False,
                "contain_dontcare_label": False}

    @classmethod
    def tiny_options(cls) -> dict[str, Any]:
        """A narrow variant for quick CPU runs and tests: same layer structure, far fewer channels."""
        return dict(ngf=4, n_blocks_global=1, n_blocks_local=1)


def _upsample(config: Pix2PixHDConfig, in_ch: int, out_ch: int) -> nn.Module:
    """The decoder's 2x upsampling layer (one module, so the indices of the layers after it stay official)."""
    if config.upsample == "resize":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(in_ch, out_ch, 3, padding=1))
    if config.upsample != "transpose":
        raise ValueError(f"upsample={config.upsample!r}: use 'transpose' or 'resize'")
    return nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=1)


def _global_layers(config: Pix2PixHDConfig, ngf: int, with_output: bool) -> list[nn.Module]:
    norm = config.norm
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(config.input_nc, ngf, 7), norm_2d(norm, ngf),
                               nn.ReLU(True)]
    for i in range(config.n_downsample_global):
        mult = 2**i
        layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1), norm_2d(norm, ngf * mult * 2),
                   nn.ReLU(True)]
    mult = 2**config.n_downsample_global
    layers += [ResnetBlock(ngf * mult, norm) for _ in range(config.n_blocks_global)]
    for i in range(config.n_downsample_global):
        mult = 2 ** (config.n_downsample_global - i)
        layers += [_upsample(config, ngf * mult, ngf * mult // 2), norm_2d(norm, ngf * mult // 2), nn.ReLU(True)]
    if with_output:
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, config.output_nc, 7), nn.Tanh()]
    return layers


class _SizeChecked(PretrainedModel):
    def _check(self, x: torch.Tensor) -> None:
        m = self.config.size_multiple
        if x.dim() != 4 or x.shape[1] != self.config.input_nc:
            raise ValueError(f"{type(self).__name__} expects (B, {self.config.input_nc}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % m or x.shape[3] % m:
            raise ValueError(f"{type(self).__name__} needs H and W divisible by {m}; got {x.shape[2]}x{x.shape[3]}")


class GlobalGenerator(_SizeChecked):

    def __init__(self, config: Pix2PixHDConfig | None = None, init: str = "pytorch") -> None:
        config = config or Pix2PixHDConfig()
        super().__init__(config)
        self.model = nn.Sequential(*_global_layers(config, config.ngf, with_output=True))
        self.initialise_(init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self.model(x)


class LocalEnhancer(_SizeChecked):
    """G = G2(G1): the global generator (without its output layers) runs on the input downsampled by 2
    per enhancer; each enhancer ``model<n>_1`` encodes the finer input, adds the coarser features, and
    ``model<n>_2`` decodes (Sec. 3.2, "Coarse-to-fine generator")."""


    def __init__(self, config: Pix2PixHDConfig | None = None, init: str = "pytorch") -> None:
        config = config or Pix2PixHDConfig(netG="local", ngf=32)
        super().__init__(config)
        n_enh = config.n_local_enhancers
        ngf_global = config.ngf * 2**n_enh
        self.model = nn.Sequential(*_global_layers(config, ngf_global, with_output=False))
        norm = config.norm
        for n in range(1, n_enh + 1):
            ngf = config.ngf * 2 ** (n_enh - n)
            down = [nn.ReflectionPad2d(3), nn.Conv2d(config.input_nc, ngf, 7), norm_2d(norm, ngf), nn.ReLU(True),
                    nn.Conv2d(ngf, ngf * 2, 3, stride=2, padding=1), norm_2d(norm, ngf * 2), nn.ReLU(True)]
            up: list[nn.Module] = [ResnetBlock(ngf * 2, norm) for _ in range(config.n_blocks_local)]
            up += [_upsample(config, ngf * 2, ngf), norm_2d(norm, ngf), nn.ReLU(True)]
            if n == n_enh:
                up += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, config.output_nc, 7), nn.Tanh()]
            setattr(self, f"model{n}_1", nn.Sequential(*down))
            setattr(self, f"model{n}_2", nn.Sequential(*up))
        self.initialise_(init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        n_enh = self.config.n_local_enhancers
        pyramid = [x]
        for _ in range(n_enh):
            pyramid.append(avg_pool_downsample(pyramid[-1]))
        out = self.model(pyramid[-1])
        for n in range(1, n_enh + 1):
            finer = pyramid[n_enh - n]
            out = getattr(self, f"model{n}_2")(getattr(self, f"model{n}_1")(finer) + out)
        return out
