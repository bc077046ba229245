"""A small encoder-decoder of NAFNet blocks (Chen et al., "Simple Baselines for Image Restoration", ECCV 2022), with
an optional multi-scale input pyramid (MIMO-UNet, Cho et al., ICCV 2021): the body of the ``unet`` DeblurGAN
generator and of DeblurGAN-ASAP's ``unet`` low-res stream.

- :class:`NAFBlock`: LayerNorm, 1x1 conv to 2c, depthwise 3x3, SimpleGate (the two halves multiplied: a gate
  instead of an activation), simplified channel attention (the channels rescaled by a 1x1 conv of their global
  mean), 1x1 conv; then the same norm / 1x1 / gate / 1x1 as a feed-forward part. Both halves are residual with
  a learned per-channel scale that starts at 0, so a fresh block is the identity. ``gate=False`` swaps the gate
  for GELU (same widths), ``attention=False`` drops the channel attention: the options measured in the presets.
- :class:`NAFUNet`: a 3x3 stem, ``len(enc_blocks)`` levels that each run their blocks then halve the size with a
  2x2 stride-2 conv (doubling the width), ``middle_blocks`` at the coarsest level, and a decoder that doubles the
  size (1x1 conv + pixel shuffle), adds the encoder's features of that level and runs its blocks; a 3x3 head.
  With ``pyramid`` every coarser level also adds a 3x3 conv of the input average-pooled to its size, so the
  coarse levels see the image itself (at 1/4 scale a 60-px camera path is 15 px), not only features of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.tiling import pad_to_multiple


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of every pixel of a (B, C, H, W) tensor, with a per-channel affine."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        centred = x - mean
        var = centred.pow(2).mean(1, keepdim=True)
        return centred * torch.rsqrt(var + self.eps) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them (NAFNet's activation-free nonlinearity)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFBlock(nn.Module):
    """One NAFNet block of ``channels`` channels; the identity until training moves ``beta`` / ``gamma``."""

    def __init__(self, channels: int, gate: bool = True, attention: bool = True) -> None:
        super().__init__()
        c = channels
        inner = 2 * c if gate else c  # the gate halves its input back to c channels; GELU keeps them
        self.norm1 = LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, inner, 1)
        self.conv2 = nn.Conv2d(inner, inner, 3, padding=1, groups=inner)
        self.act = SimpleGate() if gate else nn.GELU()
        self.attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1)) if attention else None
        self.conv3 = nn.Conv2d(c, c, 1)
        self.norm2 = LayerNorm2d(c)
        self.conv4 = nn.Conv2d(c, inner, 1)
        self.act2 = SimpleGate() if gate else nn.GELU()
        self.conv5 = nn.Conv2d(c, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv2(self.conv1(self.norm1(x))))
        if self.attention is not None:
            y = y * self.attention(y)
        x = x + self.conv3(y) * self.beta
        y = self.conv5(self.act2(self.conv4(self.norm2(x))))
        return x + y * self.gamma


class NAFUNet(nn.Module):
    """(B, in_channels, H, W) -> (B, out_channels, H, W), any H and W (padded inside to a multiple of
    ``2 ** len(enc_blocks)``, then cropped back)."""

    def __init__(self, in_channels: int, out_channels: int, width: int, enc_blocks: Sequence[int],
                 middle_blocks: int, dec_blocks: Sequence[int], gate: bool = True, attention: bool = True,
                 pyramid: bool = False) -> None:
        super().__init__()
        if len(dec_blocks) != len(enc_blocks):
            raise ValueError(f"dec_blocks {list(dec_blocks)} needs one entry per encoder level {list(enc_blocks)}")
        self.levels = len(enc_blocks)
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        self.encoders, self.downs, self.ups, self.decoders = (nn.ModuleList() for _ in range(4))
        self.pyramid = nn.ModuleList() if pyramid else None
        c = width
        for count in enc_blocks:
            self.encoders.append(nn.Sequential(*[NAFBlock(c, gate, attention) for _ in range(count)]))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c *= 2
            if self.pyramid is not None:
                self.pyramid.append(nn.Conv2d(in_channels, c, 3, padding=1))
        self.middle = nn.Sequential(*[NAFBlock(c, gate, attention) for _ in range(middle_blocks)])
        for count in dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(c, gate, attention) for _ in range(count)]))
        self.head = nn.Conv2d(width, out_channels, 3, padding=1)

    @property
    def size_multiple(self) -> int:
        return 2**self.levels

    def zero_init_head_(self) -> None:
        """Zero the head conv: the body outputs 0 (with a global skip, the network starts as the identity)."""
        with torch.no_grad():
            self.head.weight.zero_()
            if self.head.bias is not None:
                self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, (height, width) = pad_to_multiple(x, self.size_multiple)  # any size: crop back at the end
        return self._forward(x)[..., :height, :width]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.stem(x)
        skips = []
        image = x
        for level, (encoder, down) in enumerate(zip(self.encoders, self.downs)):
            features = encoder(features)
            skips.append(features)
            features = down(features)
            if self.pyramid is not None:
                image = F.avg_pool2d(image, 2)
                features = features + self.pyramid[level](image)
        features = self.middle(features)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips)):
            features = decoder(up(features) + skip)
        return self.head(features)
