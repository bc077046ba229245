"""ASAP-Net generator (Shaham et al., "Spatially-Adaptive Pixelwise Networks for Fast Image Translation",
CVPR 2021, Sec. 3).

A convolutional *low-resolution stream* looks at the input downsampled by S and predicts, for every cell
of an (H/S, W/S) grid, the parameters of a small MLP. The *high-resolution stream* runs, for every
full-resolution pixel, the MLP of the pixel's cell on [the pixel's input value, a positional encoding].

Official-code conventions reproduced here (state_dict keys included):
- S = total downsampling, S2 = ``learned_ds_factor`` (log2(S2) stride-2 convs), S1 = S / S2 a fixed
  separable "tent" pre-downsample applied before the low-res stream.
- Per-cell parameter layout, per MLP layer (nci -> nco): nco bias values, then nci*nco weights stored
  input-major, so that ``y = x @ W + b``.
- Positional encoding for f = S, S/2, ..., 2: cos/sin(2*pi*(x mod f)/f), then cos/sin of the same for y.
- With ``lr_instance`` the last input channel (the instance edge map) feeds only the low-res stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.models.layers import PretrainedModel, norm_2d, pad_2d


@dataclass
class ASAPNetConfig:
    """Architecture of an ASAP-Net generator. Defaults: the official Cityscapes model at 256x512."""

    input_mode: Literal["semantic", "rgb"] = "semantic"
    label_nc: int = 35  # semantic: number of label ids (one-hot channels); rgb: image channels
    contain_dontcare_label: bool = False  # one extra one-hot channel for id 255 -> label_nc
    instance_edge: bool = True  # an instance-edge channel is appended as the last input channel
    lr_instance: bool = True  # the last input channel feeds only the low-res stream
    downsampling: int = 16  # S: pixels per parameter cell along each axis (power of 2)
    learned_ds_factor: int = 16  # S2: learned downsampling (stride-2 convs) inside the low-res stream
    lr_width: int = 64
    lr_max_width: int = 1024
    lr_depth: int = 7
    hr_width: int = 64
    hr_depth: int = 5
    padding: Literal["zero", "reflect", "replicate"] = "zero"
    output_nc: int = 3
    global_residual: bool = False  # output = clamp(input + G(input), -1, 1) (RGB mode, DeblurGAN-ASAP)

    @property
    def in_channels(self) -> int:
        """Channels of the dense input tensor that ``forward`` takes (and the low-res stream sees)."""
        if self.input_mode == "rgb":
            return self.label_nc
        return self.label_nc + int(self.contain_dontcare_label) + int(self.instance_edge)

    @property
    def hr_pixel_channels(self) -> int:
        return self.in_channels - int(self.lr_instance)

    @property
    def predownsample(self) -> int:
        """S1: the fixed tent pre-downsample factor."""
        return self.downsampling // self.learned_ds_factor

    @property
    def num_frequencies(self) -> int:
        return int(math.log2(self.downsampling))

    @property
    def mlp_channels(self) -> list[int]:
        first = self.hr_pixel_channels + 4 * self.num_frequencies
        return [first] + [self.hr_width] * (self.hr_depth - 1) + [self.output_nc]

    @property
    def params_per_cell(self) -> int:
        chans = self.mlp_channels
        return sum(nci * nco + nco for nci, nco in zip(chans[:-1], chans[1:]))

    def validate(self) -> None:
        def power_of_two(n: int) -> bool:
            return n >= 1 and (n & (n - 1)) == 0

        if not power_of_two(self.downsampling) or self.downsampling < 2:
            raise ValueError(f"downsampling S={self.downsampling} must be a power of two >= 2")
        if not power_of_two(self.learned_ds_factor) or self.learned_ds_factor < 2:
            raise ValueError(f"learned_ds_factor={self.learned_ds_factor} must be a power of two >= 2")
        if self.learned_ds_factor > self.downsampling:
            raise ValueError(
                f"learned_ds_factor={self.learned_ds_factor} exceeds the total downsampling S={self.downsampling}"
            )
        if self.global_residual and (self.input_mode != "rgb" or self.label_nc != self.output_nc):
            raise ValueError("global_residual needs input_mode='rgb' with as many input as output channels")
        if self.hr_depth < 1:
            raise ValueError("hr_depth must be at least 1")


def tent_kernel_1d(factor: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """1-D "tent" filter of length 2*factor: 1, 3, ..., 2f-1, 2f-1, ..., 3, 1, normalised to sum 1."""
    half = torch.arange(1, 2 * factor, 2, dtype=torch.float64)
    kernel = torch.cat([half, half.flip(0)])
    return (kernel / kernel.sum()).to(dtype)


def tent_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Depthwise separable tent filter with stride ``factor`` after reflection padding of factor/2:
    first along the width, then along the height (the official ``get_lowres`` order)."""
    if factor == 1:
        return x
    channels = x.shape[1]
    kernel = tent_kernel_1d(factor, x.dtype).to(x.device)
    pad = factor // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), stride=(1, factor), groups=channels)
    x = F.conv2d(x, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), stride=(factor, 1), groups=channels)
    return x


def positional_encoding(height: int, width: int, downsampling: int, device: torch.device | str | None = None,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The (4*log2 S, H, W) encoding: for f = S, S/2, ..., 2: cos/sin(2*pi*(x mod f)/f), cos/sin of y."""
    xs = torch.arange(width, dtype=torch.float32, device=device)
    ys = torch.arange(height, dtype=torch.float32, device=device)
    channels = []
    f = downsampling
    while f >= 2:
        ax = 2 * math.pi * torch.remainder(xs, f) / f
        ay = 2 * math.pi * torch.remainder(ys, f) / f
        for values, along_x in ((torch.cos(ax), True), (torch.sin(ax), True),
                                (torch.cos(ay), False), (torch.sin(ay), False)):
            if along_x:
                channels.append(values.view(1, width).expand(height, width))
            else:
                channels.append(values.view(height, 1).expand(height, width))
        f //= 2
    return torch.stack(channels).to(dtype)


class _LowResBlock(nn.Module):
    """One non-residual 3x3 block of the low-res stream; ``conv_block`` holds [pad], (conv, norm), ReLU."""

    def __init__(self, channels: int, padding: str) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(*_conv_norm_relu(channels, channels, 1, padding))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_block(x)


def _conv_norm_relu(in_ch: int, out_ch: int, stride: int, padding: str) -> list[nn.Module]:
    """[pad?], Sequential(conv3x3 without bias, affine InstanceNorm), ReLU: the official layer triple."""
    layers: list[nn.Module] = []
    conv_pad = 1
    if padding != "zero":
        layers.append(pad_2d(padding, 1))
        conv_pad = 0
    conv = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=conv_pad, bias=False)
    layers += [nn.Sequential(conv, norm_2d("instanceaffine", out_ch)), nn.ReLU()]
    return layers


class LowResStream(nn.Module):
    """Input at 1/S1 resolution -> per-cell MLP parameters (B, P, H/S, W/S). Keys: ``model.<i>...``."""

    def __init__(self, config: ASAPNetConfig) -> None:
        super().__init__()
        layers = _conv_norm_relu(config.in_channels, config.lr_width, 1, config.padding)
        num_strided = int(math.log2(config.learned_ds_factor))
        for i in range(num_strided):
            out_ch = config.lr_max_width if i == num_strided - 1 else config.lr_width
            layers += _conv_norm_relu(config.lr_width, out_ch, 2, config.padding)
        layers += [_LowResBlock(config.lr_max_width, config.padding) for _ in range(config.lr_depth)]
        layers.append(nn.Conv2d(config.lr_max_width, config.params_per_cell, 1, bias=True))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def split_mlp_params(params: torch.Tensor, channels: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(..., P) per-cell parameters -> per layer (weight (..., nci, nco), bias (..., 1, nco))."""
    layers = []
    offset = 0
    lead = params.shape[:-1]
    for nci, nco in zip(channels[:-1], channels[1:]):
        bias = params[..., offset:offset + nco].reshape(*lead, 1, nco)
        offset += nco
        weight = params[..., offset:offset + nci * nco].reshape(*lead, nci, nco)
        offset += nci * nco
        layers.append((weight, bias))
    return layers


def cells_to_tiles(x: torch.Tensor, cell: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, H/cell, W/cell, cell*cell, C): one row of pixels per grid cell."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // cell, cell, w // cell, cell)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, h // cell, w // cell, cell * cell, c)


def tiles_to_image(tiles: torch.Tensor, cell: int) -> torch.Tensor:
    """Inverse of :func:`cells_to_tiles`."""
    b, gh, gw, _, c = tiles.shape
    x = tiles.view(b, gh, gw, cell, cell, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, gh * cell, gw * cell)


class ASAPNetGenerator(PretrainedModel):
    """ASAP-Net generator. ``forward`` takes the dense official input tensor (one-hot labels [+ dontcare]
    [+ instance edge], or an RGB image in [-1, 1]) of any batch size and any H, W divisible by S, and
    returns the image in [-1, 1]. ``forward_with_params`` also returns the per-cell MLP parameters."""

    registry_name = "asapnet"

    def __init__(self, config: ASAPNetConfig | None = None) -> None:
        config = config or ASAPNetConfig()
        config.validate()
        super().__init__(config)
        self.lowres_stream = LowResStream(config)

    # --- the two streams -------------------------------------------------------------------------
    def check_input_size(self, height: int, width: int) -> None:
        s = self.config.downsampling
        if height % s or width % s:
            raise ValueError(
                f"ASAP-Net with downsampling S={s} needs H and W divisible by {s}; got {height}x{width}. "
                f"Pad or resize the input (pixelwise infer pads and crops back automatically)."
            )

    def lowres_input(self, x: torch.Tensor) -> torch.Tensor:
        return tent_downsample(x, self.config.predownsample)

    def predict_params(self, x: torch.Tensor) -> torch.Tensor:
        """Low-res stream: dense input -> per-cell MLP parameters (B, P, H/S, W/S)."""
        return self.lowres_stream(self.lowres_input(x))

    def hr_pixels(self, x: torch.Tensor) -> torch.Tensor:
        """The input channels the per-pixel MLP sees (the edge channel dropped when lr_instance)."""
        return x[:, : self.config.hr_pixel_channels] if self.config.lr_instance else x

    def apply_mlp_reference(self, pixels: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """High-res stream, reference algorithm: concatenate [pixels, positional encoding] at full
        resolution and run each cell's MLP on its tile with one batched matmul per layer. The parameter
        grid is never upsampled: every cell's weights are used for its S*S pixels in place."""
        cfg = self.config
        s = cfg.downsampling
        b, _, h, w = pixels.shape
        encoding = positional_encoding(h, w, s, pixels.device, pixels.dtype)
        features = torch.cat([pixels, encoding.unsqueeze(0).expand(b, -1, -1, -1)], dim=1)
        tiles = cells_to_tiles(features, s)  # (B, gh, gw, S*S, C0)
        cell_params = params.permute(0, 2, 3, 1)  # (B, gh, gw, P)
        layers = split_mlp_params(cell_params, cfg.mlp_channels)
        out = tiles
        for i, (weight, bias) in enumerate(layers):
            out = torch.matmul(out, weight) + bias
            out = torch.tanh(out) if i == len(layers) - 1 else F.leaky_relu(out, 0.01)
        return tiles_to_image(out, s)

    def forward_with_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"ASAP-Net expects input of shape (B, {self.config.in_channels}, H, W), got {tuple(x.shape)}"
            )
        self.check_input_size(x.shape[2], x.shape[3])
        params = self.predict_params(x)
        out = self.apply_mlp_reference(self.hr_pixels(x), params)
        if self.config.global_residual:
            out = torch.clamp(x + out, -1.0, 1.0)
        return out, params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_params(x)[0]
