"""DeblurGAN generator (Kupyn et al., "DeblurGAN: Blind Motion Deblurring Using Conditional Adversarial
Networks", CVPR 2018, Sec. 3.1), as in the 2018 official code: a ResNet generator with two strided convs,
9 residual blocks of two 3x3 convs with Dropout(0.5) between them, two transposed convs, and a global
skip: ``output = clamp(input + G(input), -1, 1)`` ("ResOut").

``architecture: unet`` (a pixelwise option, not the paper's) replaces the ResNet body by an encoder-decoder of
NAFNet blocks (:mod:`pixelwise.models.naf`) behind the same global skip: more downsampling stages at little cost,
so the receptive field covers a 60-px camera path, with gates, channel attention and a multi-scale input
pyramid as options (``unet_*`` fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from pixelwise.models.base import InputSpec, PretrainedModel
from pixelwise.models.layers import ResnetBlock, norm_2d
from pixelwise.models.naf import NAFUNet


@dataclass
class DeblurGANConfig:
    """Defaults: the official resnet_9blocks generator (ngf 64, instance norm, dropout, learn_residual)."""

    count_fields: ClassVar[tuple[str, ...]] = ("unet_middle_blocks",)  # may be 0 (models/checks.py)

    input_nc: int = 3
    output_nc: int = 3
    ngf: int = 64
    n_blocks: int = 9
    n_downsampling: int = 2
    norm: Literal["instance", "batch"] = "instance"
    dropout: bool = True
    learn_residual: bool = True
    zero_init_output: bool = False  # last conv starts at 0: with learn_residual the untrained model is the identity
    # decoder upsampling: "transposed" (the official 3x3 stride-2 transposed convs) or "resize-conv" (nearest x2
    # then a 3x3 conv, Odena et al. 2016: no uneven kernel overlap, so no checkerboard pattern at the start)
    upsampling: Literal["transposed", "resize-conv"] = "transposed"
    # pixelwise options: "resnet" (the paper) or "unet" (NAFNet blocks; the fields below; ngf, n_blocks,
    # n_downsampling, norm, dropout and upsampling then do not apply)
    architecture: Literal["resnet", "unet"] = "resnet"
    unet_width: int = 16  # channels at full resolution, doubled per level
    unet_enc_blocks: tuple[int, ...] = (1, 1, 1)  # blocks per encoder level (one level per entry: /2 each)
    unet_middle_blocks: int = 2  # blocks at the coarsest level
    unet_dec_blocks: tuple[int, ...] = (1, 1, 1)  # blocks per decoder level (coarse to fine)
    unet_gate: bool = True  # NAFNet's SimpleGate (False: GELU)
    unet_attention: bool = True  # simplified channel attention
    unet_pyramid: bool = True  # every coarser level also sees the input downsampled to its size (MIMO-UNet)

    @property
    def size_multiple(self) -> int:
        if self.architecture == "unet":
            return 2 ** len(self.unet_enc_blocks)
        return 2**self.n_downsampling

    def validate(self) -> None:
        if self.upsampling not in ("transposed", "resize-conv"):
            raise ValueError(f"upsampling={self.upsampling!r}: use 'transposed' or 'resize-conv'")
        if self.architecture not in ("resnet", "unet"):
            raise ValueError(f"architecture={self.architecture!r}: use 'resnet' or 'unet'")
        if self.architecture == "unet" and len(self.unet_dec_blocks) != len(self.unet_enc_blocks):
            raise ValueError("unet_dec_blocks needs one entry per level of unet_enc_blocks")

    # --- the model contract (pixelwise.models.base.InputSpec) ---------------------------------------------
    def input_spec(self) -> InputSpec:
        """What this generator takes: a photo of ``input_nc`` channels in [-1, 1]."""
        return InputSpec("photo", self.size_multiple, channels=self.input_nc)

    @classmethod
    def input_options(cls, spec: InputSpec) -> dict[str, Any]:
        """The options that make this generator take the input ``spec`` describes (what the data gives)."""
        return {"input_nc": spec.channels}

    @classmethod
    def tiny_options(cls) -> dict[str, Any]:
        """A narrow variant for quick CPU runs and tests: same layer structure, far fewer channels."""
        return dict(ngf=4, n_blocks=1)


class ResnetGenerator(PretrainedModel):

    def __init__(self, config: DeblurGANConfig | None = None, init: str = "pytorch") -> None:
        config = config or DeblurGANConfig()
        config.validate()
        super().__init__(config)
        if config.architecture == "unet":
            self.body = NAFUNet(config.input_nc, config.output_nc, config.unet_width, config.unet_enc_blocks,
                                config.unet_middle_blocks, config.unet_dec_blocks, config.unet_gate,
                                config.unet_attention, config.unet_pyramid)
            self.initialise_(init)
            return
        ngf, norm = config.ngf, config.norm
        bias = norm == "instance"  # the official code drops conv biases only before BatchNorm
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(config.input_nc, ngf, 7, bias=bias),
                                   norm_2d(norm, ngf), nn.ReLU(True)]
        for i in range(config.n_downsampling):
            mult = 2**i
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                       norm_2d(norm, ngf * mult * 2), nn.ReLU(True)]
        mult = 2**config.n_downsampling
        layers += [ResnetBlock(ngf * mult, norm, dropout=config.dropout, bias=bias) for _ in range(config.n_blocks)]
        for i in range(config.n_downsampling):
            mult = 2 ** (config.n_downsampling - i)
            if config.upsampling == "resize-conv":
                up: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"),
                                       nn.Conv2d(ngf * mult, ngf * mult // 2, 3, padding=1, bias=bias)]
            else:
                up = [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                         bias=bias)]
            layers += [*up, norm_2d(norm, ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, config.output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.initialise_(init)

    def special_init_(self) -> None:
        if self.config.zero_init_output:
            self.zero_init_output_()

    def zero_init_output_(self) -> None:
        """Zero the last conv (weight and bias): G(x) = tanh(0) = 0, so with ``learn_residual`` the output
        is the input until training moves it (gradients reach the last conv at once, the rest next step)."""
        if self.config.architecture == "unet":
            self.body.zero_init_head_()
            return
        last = [m for m in self.model if isinstance(m, nn.Conv2d)][-1]
        with torch.no_grad():
            last.weight.zero_()
            if last.bias is not None:
                last.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.config.size_multiple
        if x.dim() != 4 or x.shape[1] != self.config.input_nc:
            raise ValueError(f"DeblurGAN expects (B, {self.config.input_nc}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % m or x.shape[3] % m:
            raise ValueError(f"DeblurGAN needs H and W divisible by {m}; got {x.shape[2]}x{x.shape[3]}")
        if self.config.architecture == "unet":
            out = self.body(x)
        else:
            out = self.model(x)
        if self.config.learn_residual:
            out = torch.clamp(x + out, min=-1.0, max=1.0)
        return out
