"""ASAP-Net's low-resolution stream: the fixed separable "tent" pre-downsample (of dense inputs, and of label ids
without a full-resolution one-hot) and the convolutional stream that predicts every cell's MLP parameters."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.models.asapnet_config import ASAPNetConfig
from pixelwise.models.layers import norm_2d, pad_2d
from pixelwise.models.naf import NAFUNet
from pixelwise.ops import one_hot


def tent_kernel_1d(factor: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """1-D "tent" filter of length 2*factor: 1, 3, ..., 2f-1, 2f-1, ..., 3, 1, normalised to sum 1."""
    half = torch.arange(1, 2 * factor, 2, dtype=torch.float64)
    kernel = torch.cat([half, half.flip(0)])
    return (kernel / kernel.sum()).to(dtype)


def tent_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Depthwise separable tent filter with stride ``factor`` after reflection padding of factor/2:
    first along the width, then along the height (the official ``get_lowres`` order).

    The reflection pad is never materialised (a full-resolution copy of the input: a quarter of this function's
    time at 1024x2048): each pass convolves with zero padding, which gives every output away from the border
    exactly, and the first and last output of each pass then add the taps of the reflected pixels (float32
    rounding aside, the same sums)."""
    if factor == 1:
        return x
    channels = x.shape[1]
    kernel = tent_kernel_1d(factor, x.dtype).to(x.device)
    x = _tent_pass(x, kernel, factor, channels, dim=3)
    return _tent_pass(x, kernel, factor, channels, dim=2)


def _tent_pass(x: torch.Tensor, kernel: torch.Tensor, factor: int, channels: int, dim: int) -> torch.Tensor:
    """One strided tent pass along ``dim`` (3: width, 2: height) with reflection padding of factor/2: a zero-padded
    convolution, then the reflected taps added to the first and last output (see :func:`tent_downsample`). Under
    tracing / compilation (export), or when the axis does not hold two whole strides, the padded input is built
    instead (the same function)."""
    pad = factor // 2
    size = x.shape[dim]
    tracing = torch.jit.is_tracing() or torch.compiler.is_compiling()
    in_place = not tracing and size % factor == 0 and size >= 2 * factor
    if not in_place:
        x = F.pad(x, (0, 0, pad, pad) if dim == 2 else (pad, pad, 0, 0), mode="reflect")
    taps = kernel.view(1, 1, 1, -1) if dim == 3 else kernel.view(1, 1, -1, 1)
    out = F.conv2d(x, taps.expand(channels, -1, -1, -1), stride=(1, factor) if dim == 3 else (factor, 1),
                   padding=((0, pad) if dim == 3 else (pad, 0)) if in_place else 0, groups=channels)
    if in_place:
        first, last = out.narrow(dim, 0, 1), out.narrow(dim, out.shape[dim] - 1, 1)
        for j in range(pad):  # padded position j holds x[pad - j]; padded size + pad + j holds x[size - 2 - j]
            first.add_(x.narrow(dim, pad - j, 1), alpha=float(kernel[j]))
            last.add_(x.narrow(dim, size - 2 - j, 1), alpha=float(kernel[factor + pad + j]))
    return out


def _reflect_index(size: int | torch.SymInt, pad: int, device: torch.device) -> torch.Tensor:
    """Source indices of a reflection pad by ``pad`` (no edge repeat) of an axis of length ``size``."""
    idx = torch.arange(-pad, size + pad, device=device)
    idx = torch.abs(idx)
    return torch.where(idx > size - 1, 2 * (size - 1) - idx, idx)


def tent_downsample_labels(label: torch.Tensor, channels: int, factor: int,
                           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``tent_downsample(one_hot(label), factor)`` without building the full-resolution one-hot.

    The tent filter is linear, so on a one-hot input each output cell holds, per class, the summed tap weights
    k[a] k[b] of the (2f x 2f) reflection-padded window pixels carrying that class: a weighted label histogram
    (one scatter-add of 4f^2 taps per low-res pixel instead of ``channels`` full-resolution planes). Equal to
    the dense route up to float32 summation order (~1e-7)."""
    if factor == 1:
        return one_hot(label, channels, dtype)
    b, _, h, w = label.shape
    pad = factor // 2
    rows = _reflect_index(h, pad, label.device)
    cols = _reflect_index(w, pad, label.device)
    padded = label.index_select(2, rows).index_select(3, cols)  # (B, 1, H + f, W + f)
    ho, wo = h // factor, w // factor
    # (H + f) x (W + f) as (ho + 1) x (wo + 1) blocks of f x f; window (i, j) = blocks {i, i+1} x {j, j+1}
    blocks = padded.reshape(b, ho + 1, factor, wo + 1, factor)
    k = tent_kernel_1d(factor, torch.float32).to(label.device)
    taps, weights = [], []
    for qy in (0, 1):
        for qx in (0, 1):
            quadrant = blocks[:, qy:qy + ho, :, qx:qx + wo, :]  # (B, ho, f, wo, f)
            taps.append(quadrant.permute(0, 2, 4, 1, 3).reshape(b, factor * factor, ho, wo))
            ky, kx = k[qy * factor:(qy + 1) * factor], k[qx * factor:(qx + 1) * factor]
            weights.append((ky.view(-1, 1) * kx.view(1, -1)).reshape(-1))
    index = torch.cat(taps, dim=1)  # (B, 4f^2, H/f, W/f)
    weights = torch.cat(weights).view(1, -1, 1, 1).to(dtype).expand(index.shape)
    out = torch.zeros(b, channels, ho, wo, dtype=dtype, device=label.device)
    return out.scatter_add(1, index, weights)


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
        if config.lowres_arch == "unet":  # pixelwise option: see ASAPNetConfig.lowres_arch
            factor = config.learned_ds_factor
            body = NAFUNet(config.in_channels * factor * factor, config.lr_max_width, config.lr_width,
                           config.lr_unet_enc_blocks, config.lr_unet_middle_blocks, config.lr_unet_dec_blocks,
                           pyramid=True)
            self.model = nn.Sequential(nn.PixelUnshuffle(factor), body, nn.GELU(),
                                       nn.Conv2d(config.lr_max_width, config.params_per_cell, 1, bias=True))
            return
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
