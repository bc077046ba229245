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

Two high-resolution paths compute the same function (``ASAPNetConfig.hr_path``; registry names ``asapnet`` and
``asapnet-reference``):
- ``reference``: a faithful port: [pixels, positional encoding] concatenated at full resolution, then one
  tile-batched matmul per MLP layer (:meth:`ASAPNetGenerator.apply_mlp_reference`).
- ``fast`` (default): the same MLP, restructured (:meth:`ASAPNetGenerator.apply_mlp_fast`). (1) The first layer
  is split by input rows: y0 = x_pix @ W_pix + PE @ W_pe + b. Since f | S, a pixel's encoding depends only on its
  position inside its cell, and every encoding channel depends on x or on y alone, so PE @ W_pe = A_x[px] +
  A_y[py] with A_x = PE1(S, 2 log2 S) @ W_pe,x: an O(S) product per cell instead of O(S^2), and the encoding is
  never concatenated to the pixels. (2) With integer label maps (:meth:`ASAPNetGenerator.forward_labels`) the
  one-hot product x_pix @ W_pix is a row gather W_pix[label], so the full-resolution one-hot is never built; the
  low-res stream's input is built at its own resolution (the tent pre-downsample of a one-hot, computed as a
  weighted label histogram). (3) The per-pixel MLP runs over blocks of cells sized to stay in cache, with fused
  bias (baddbmm) and in-place activations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
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
    zero_init_output: bool = False  # the predicted last MLP layer starts at 0: with global_residual, the identity
    # fresh weights only: the per-pixel MLPs start as one He-initialised MLP shared by every cell (in the bias of
    # the low-res stream's last conv) plus a small per-cell part; see ASAPNetGenerator.shared_mlp_init_
    shared_mlp_init: bool = False
    hr_path: Literal["fast", "reference"] = "fast"  # how the high-res stream is computed; same function

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
    def onehot_channels(self) -> int:
        """Semantic mode: one-hot channels (label ids, plus the dontcare channel when enabled)."""
        return self.label_nc + int(self.contain_dontcare_label)

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
        if self.hr_path not in ("fast", "reference"):
            raise ValueError(f"hr_path={self.hr_path!r}: use 'fast' or 'reference'")


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


def positional_encoding_1d(downsampling: int, device: torch.device | str | None = None,
                           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(S, 2*log2 S) table: row t holds cos/sin(2*pi*(t mod f)/f) for f = S, S/2, ..., 2 (cos, sin per f).

    Since every f divides S, row ``x mod S`` of this table gives the x channels of
    :func:`positional_encoding` at column x, and row ``y mod S`` its y channels (same float32 expression)."""
    ts = torch.arange(downsampling, dtype=torch.float32, device=device)
    columns = []
    f = downsampling
    while f >= 2:
        angle = 2 * math.pi * torch.remainder(ts, f) / f
        columns += [torch.cos(angle), torch.sin(angle)]
        f //= 2
    return torch.stack(columns, dim=1).to(dtype)


def instance_edge_map(instance: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, 1, H, W) instance ids -> edge map: 1 where a pixel's id differs from its left, right, upper or lower
    neighbour (nothing outside the border), the official ``get_edges``. Built from comparisons and zero pads
    only, so it traces and exports with symbolic H, W."""
    horizontal = (instance[..., :, 1:] != instance[..., :, :-1]).to(dtype)
    vertical = (instance[..., 1:, :] != instance[..., :-1, :]).to(dtype)
    edge = torch.maximum(F.pad(horizontal, (1, 0)), F.pad(horizontal, (0, 1)))
    return torch.maximum(edge, torch.maximum(F.pad(vertical, (0, 0, 1, 0)), F.pad(vertical, (0, 0, 0, 1))))


def one_hot_dense(label: torch.Tensor, channels: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, 1, H, W) integer ids -> (B, channels, H, W) one-hot (by comparison; traceable)."""
    classes = torch.arange(channels, device=label.device).view(1, channels, 1, 1)
    return (label == classes).to(dtype)


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
        return one_hot_dense(label, channels, dtype)
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


def _tracing() -> bool:
    """True under torch.jit tracing, torch.export / dynamo and torch.compile: no Python-side caches, no
    data-dependent checks, one block of cells."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


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
    """(..., P) per-cell parameters -> per layer (weight (..., nci, nco), bias (..., 1, nco)).

    One ``split`` (whose backward is a single concatenation, not one zero-filled gradient per slice)."""
    lead = params.shape[:-1]
    sizes = [size for nci, nco in zip(channels[:-1], channels[1:]) for size in (nco, nci * nco)]
    pieces = params.split(sizes, dim=-1)
    layers = []
    for i, (nci, nco) in enumerate(zip(channels[:-1], channels[1:])):
        layers.append((pieces[2 * i + 1].reshape(*lead, nci, nco), pieces[2 * i].reshape(*lead, 1, nco)))
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


# A replacement for the whole high-res stream (see pixelwise.kernels): called as kernel(config, params,
# label=ids, edge=edge_or_None) or kernel(config, params, pixels=x_pix), it returns the (B, output_nc, H, W) image.
HRKernel = Callable[..., torch.Tensor]
FirstLayer = Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor]


def mlp_tail(h: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """LeakyReLU(0.01) on the first layer's pre-activation ``h`` (in place), then the remaining per-cell layers
    as fused ``baddbmm`` (bias + batched matmul) with in-place LeakyReLU, tanh after the last."""
    h = F.leaky_relu(h, 0.01, inplace=True)
    for i, (weight, bias) in enumerate(layers):
        h = torch.baddbmm(bias, h, weight)
        h = torch.tanh_(h) if i == len(layers) - 1 else F.leaky_relu(h, 0.01, inplace=True)
    return h


class ASAPNetGenerator(PretrainedModel):
    """ASAP-Net generator. ``forward`` takes the dense official input tensor (one-hot labels [+ dontcare]
    [+ instance edge], or an RGB image in [-1, 1]) of any batch size and any H, W divisible by S, and
    returns the image in [-1, 1]. ``forward_labels`` takes integer label maps (+ instance maps) instead.
    ``forward_with_params`` also returns the per-cell MLP parameters.

    ``hr_path`` ("fast" or "reference", from the config) selects the high-res algorithm; both compute the
    same function (to float32 rounding). Execution knobs that do not change the function:
    ``lowres_channels_last`` (run the low-res stream in channels_last), ``hr_block_pixels`` (pixels per block
    of cells in the fast path; None: automatic), ``hr_kernel`` (a fused high-res kernel installed by
    ``pixelwise.kernels.install``; used only for inference without gradients, never under tracing/compile)."""

    registry_name = "asapnet"

    def __init__(self, config: ASAPNetConfig | None = None) -> None:
        config = config or ASAPNetConfig()
        config.validate()
        super().__init__(config)
        self.lowres_stream = LowResStream(config)
        self.lowres_channels_last = False
        self.hr_block_pixels: int | None = None
        self.hr_kernel: HRKernel | None = None
        # (device, dtype) -> (S, 2 log2 S) encoding table; plain attribute, never in the state_dict
        self._encoding_cache: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}
        if config.shared_mlp_init:
            self.shared_mlp_init_()
        if config.zero_init_output:
            self.zero_init_output_()

    def shared_mlp_init_(self, cell_gain: float = 0.02, seed: int | None = None) -> None:
        """Start the hyper-network from a working per-pixel MLP (an initialisation for short runs; not the
        official one). The low-res stream's last 1x1 conv predicts every cell's MLP as W f(cell) + b. With the
        official init (xavier, gain 0.02, bias 0) every predicted MLP weight is ~0, so only the last layer's
        bias receives a gradient at first: the untrained output is a flat colour per cell and learning the
        label -> colour map takes thousands of steps. Here b holds one MLP shared by all cells, He-initialised
        (N(0, 2/fan_in) for LeakyReLU layers, N(0, 1/fan_in) for the tanh layer, biases 0, the positional-
        encoding rows of the first layer 0 so that the start is free of a per-cell pattern), and W is
        xavier-normal with ``cell_gain``, so the cells start alike and differ as training asks."""
        cfg = self.config
        last = self.lowres_stream.model[-1]
        channels = cfg.mlp_channels
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        parts = []
        for i, (nci, nco) in enumerate(zip(channels[:-1], channels[1:])):
            std = math.sqrt((1.0 if i == len(channels) - 2 else 2.0) / nci)
            weight = torch.randn(nci, nco, generator=generator) * std
            if i == 0:
                weight[cfg.hr_pixel_channels:] = 0.0
            parts += [torch.zeros(nco), weight.reshape(-1)]  # split_mlp_params: bias, then input-major weight
        with torch.no_grad():
            nn.init.xavier_normal_(last.weight, gain=cell_gain)
            last.bias.copy_(torch.cat(parts).to(last.bias))

    def zero_init_output_(self) -> None:
        """Zero the rows of the low-res stream's last 1x1 conv that predict the per-pixel MLP's last layer
        (its weight and bias): every pixel's MLP then outputs tanh(0) = 0, so with ``global_residual`` the
        untrained generator is the identity; the gradient reaches those rows from the first step."""
        last = self.lowres_stream.model[-1]
        nci, nco = self.config.mlp_channels[-2:]
        rows = nco + nci * nco  # split_mlp_params: the last layer's bias then weight end the parameter vector
        with torch.no_grad():
            last.weight[-rows:].zero_()
            last.bias[-rows:].zero_()

    @property
    def hr_path(self) -> str:
        """"fast" or "reference"; assignable (it lives in ``config``, so save_pretrained records it)."""
        return self.config.hr_path

    @hr_path.setter
    def hr_path(self, value: str) -> None:
        if value not in ("fast", "reference"):
            raise ValueError(f"hr_path={value!r}: use 'fast' or 'reference'")
        self.config.hr_path = value

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

    def run_lowres_stream(self, x_lowres: torch.Tensor) -> torch.Tensor:
        """The low-res stream on its (pre-downsampled) input, in channels_last when ``lowres_channels_last``
        (its output then stays channels_last when an ``hr_kernel`` reads it)."""
        if self.lowres_channels_last:
            x_lowres = x_lowres.contiguous(memory_format=torch.channels_last)
        out = self.lowres_stream(x_lowres)
        return out if self.hr_kernel is not None else out.contiguous()  # a fused kernel reads any strides

    def predict_params(self, x: torch.Tensor) -> torch.Tensor:
        """Low-res stream: dense input -> per-cell MLP parameters (B, P, H/S, W/S)."""
        return self.run_lowres_stream(self.lowres_input(x))

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

    # --- fast high-res stream --------------------------------------------------------------------
    def encoding_table(self, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """:func:`positional_encoding_1d` for this model's S, cached per (device, dtype). It does not depend
        on H, W or the batch, so any input size reuses it; under tracing/compilation it is built inline."""
        if _tracing():
            return positional_encoding_1d(self.config.downsampling, device, dtype)
        key = (torch.device(device), dtype)
        table = self._encoding_cache.get(key)
        if table is None:
            table = positional_encoding_1d(self.config.downsampling, device, dtype)
            self._encoding_cache[key] = table
        return table

    def _block_cells(self, device: torch.device) -> int:
        pixels = self.hr_block_pixels
        if pixels is None:
            pixels = 1 << 14 if device.type == "cpu" else 1 << 22  # CPU: ~4 MB of activations stay in cache
        return max(1, pixels // self.config.downsampling**2)

    @staticmethod
    def _blocks(batch: int, grid_h: int, grid_w: int, cells: int) -> Iterator[tuple[slice, slice, slice]]:
        """(batch, cell-row, cell-column) slices covering the grid in blocks of about ``cells`` cells: whole
        images, else whole rows of one image, else pieces of one row."""
        per_image = grid_h * grid_w
        if cells >= per_image:
            step = cells // per_image
            for b0 in range(0, batch, step):
                yield slice(b0, min(b0 + step, batch)), slice(0, grid_h), slice(0, grid_w)
        elif cells >= grid_w:
            step = cells // grid_w
            for b0 in range(batch):
                for y0 in range(0, grid_h, step):
                    yield slice(b0, b0 + 1), slice(y0, min(y0 + step, grid_h)), slice(0, grid_w)
        else:
            for b0 in range(batch):
                for y0 in range(grid_h):
                    for x0 in range(0, grid_w, cells):
                        yield slice(b0, b0 + 1), slice(y0, y0 + 1), slice(x0, min(x0 + cells, grid_w))

    def _first_layer_base(self, weight_pe: torch.Tensor, bias0: torch.Tensor, out_dtype: torch.dtype) -> torch.Tensor:
        """b0 + PE @ W0_pe for one block, (n, S*S, C1), summed in float32 (or float64 for a float64 model),
        returned in ``out_dtype``: A_y[py] + A_x[px] + b0 with A = PE1 (S, 2 log2 S) @ (the x, resp. y,
        encoding rows of W0). ``weight_pe``: the (n, 4 log2 S, C1) encoding rows of the first layer."""
        s = self.config.downsampling
        nf = self.config.num_frequencies
        n, _, c1 = weight_pe.shape
        acc = torch.promote_types(weight_pe.dtype, torch.float32)
        w_x, w_y = weight_pe.to(acc).reshape(n, nf, 2, 2, c1).unbind(2)  # rows: (frequency, x/y, cos/sin)
        table = self.encoding_table(weight_pe.device, acc)
        a_x = torch.matmul(table, w_x.reshape(n, 2 * nf, c1))  # (n, S, C1)
        a_y = torch.matmul(table, w_y.reshape(n, 2 * nf, c1))
        base = (a_y + bias0.to(acc)).unsqueeze(2) + a_x.unsqueeze(1)  # (n, S_y, S_x, C1)
        return base.reshape(n, s * s, c1).to(out_dtype)

    def _run_blocks(self, params: torch.Tensor, first_layer: FirstLayer) -> torch.Tensor:
        """Shared driver of the fast path. For each block of cells, ``first_layer(take, weight0, bias0)`` gives
        the first layer's pre-activation (n, S*S, C1), where ``take(t)`` crops a (B, C, H, W) tensor to the
        block; the remaining layers run on it. Blocks are consecutive runs of cells in (b, row, column) order,
        so the parameters are split (one concatenation in backward) and the outputs concatenated."""
        cfg = self.config
        s = cfg.downsampling
        b, p, gh, gw = params.shape
        cell_params = params.permute(0, 2, 3, 1).contiguous().view(-1, p)  # (B*gh*gw, P), cells in (b, row, col) order
        if _tracing():  # one block: no Python loop over symbolic sizes
            blocks: list[tuple[slice, slice, slice]] = []
        else:
            blocks = list(self._blocks(b, gh, gw, self._block_cells(params.device)))
        if len(blocks) <= 1:
            chunks, blocks = [cell_params], [(slice(None), slice(None), slice(None))]
        else:
            sizes = [(w[0].stop - w[0].start) * (w[1].stop - w[1].start) * (w[2].stop - w[2].start) for w in blocks]
            chunks = list(cell_params.split(sizes))
        outs = []
        for (sl_b, sl_y, sl_x), chunk in zip(blocks, chunks):
            if sl_b.start is None:

                def take(t: torch.Tensor) -> torch.Tensor:
                    return t
            else:
                rows, cols = slice(sl_y.start * s, sl_y.stop * s), slice(sl_x.start * s, sl_x.stop * s)

                def take(t: torch.Tensor, sl_b: slice = sl_b, rows: slice = rows, cols: slice = cols) -> torch.Tensor:
                    return t[sl_b, :, rows, cols]
            layers = split_mlp_params(chunk, cfg.mlp_channels)
            weight0, bias0 = layers[0]
            outs.append(mlp_tail(first_layer(take, weight0, bias0), layers[1:]))  # (n, S*S, output_nc)
        out = outs[0] if len(outs) == 1 else torch.cat(outs)
        return tiles_to_image(out.reshape(b, gh, gw, s * s, cfg.output_nc), s)

    def _use_hr_kernel(self, *tensors: torch.Tensor) -> bool:
        """The installed ``hr_kernel`` runs only for inference: not under tracing/compilation, no gradient."""
        if self.hr_kernel is None or _tracing():
            return False
        return not (torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors))

    @staticmethod
    def _tiles(t: torch.Tensor, s: int) -> torch.Tensor:
        """(nb, C, ry*S, rx*S) block -> (nb*ry*rx, S*S, C) cell tiles (the order of the block's cells)."""
        nb, c, bh, bw = t.shape
        t = t.reshape(nb, c, bh // s, s, bw // s, s).permute(0, 2, 4, 3, 5, 1)
        return t.reshape(-1, s * s, c)

    def apply_mlp_fast(self, pixels: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """High-res stream, fast algorithm on dense pixels (B, C_pix, H, W): y0 = x_pix @ W_pix (one baddbmm)
        + [A_y[py] + A_x[px] + b0] (see :meth:`_first_layer_base`); the encoding is never materialised per
        pixel. Same function as :meth:`apply_mlp_reference`."""
        if self._use_hr_kernel(pixels, params):
            assert self.hr_kernel is not None
            return self.hr_kernel(self.config, params, pixels=pixels)
        s = self.config.downsampling
        c_pix = pixels.shape[1]

        def first_layer(take: Callable[[torch.Tensor], torch.Tensor], weight0: torch.Tensor,
                        bias0: torch.Tensor) -> torch.Tensor:
            w_pix, w_pe = weight0.split([c_pix, weight0.shape[1] - c_pix], dim=1)
            base = self._first_layer_base(w_pe, bias0, pixels.dtype)
            return torch.baddbmm(base, self._tiles(take(pixels), s), w_pix)

        return self._run_blocks(params, first_layer)

    def apply_mlp_labels(self, label: torch.Tensor, params: torch.Tensor,
                         edge: torch.Tensor | None = None) -> torch.Tensor:
        """High-res stream on integer labels (B, 1, H, W) (already dontcare-mapped): on a one-hot input the
        pixel part of the first layer is the row gather W0[label] of each cell's weights, so no one-hot is
        built. ``edge`` (B, 1, H, W) is the instance edge map, needed only when it feeds the MLP (instance_edge
        without lr_instance). Same function as :meth:`apply_mlp_reference` on the one-hot input."""
        cfg = self.config
        s = cfg.downsampling
        onehot = cfg.onehot_channels
        c_pix = cfg.hr_pixel_channels
        edge_row = cfg.instance_edge and not cfg.lr_instance
        if edge_row and edge is None:
            raise ValueError("this ASAP-Net feeds the instance edge map to the per-pixel MLP; pass instance or edge")
        if self._use_hr_kernel(params, edge):
            assert self.hr_kernel is not None
            return self.hr_kernel(cfg, params, label=label, edge=edge if edge_row else None)
        onehot_rows = c_pix - int(edge_row)  # onehot - 1 when lr_instance drops the last one-hot channel

        def first_layer(take: Callable[[torch.Tensor], torch.Tensor], weight0: torch.Tensor,
                        bias0: torch.Tensor) -> torch.Tensor:
            n, _, c1 = weight0.shape
            rows, w_edge, w_pe = weight0.split([onehot_rows, c_pix - onehot_rows, weight0.shape[1] - c_pix], dim=1)
            if onehot_rows < onehot:  # the dropped channel contributes nothing
                rows = torch.cat([rows, rows.new_zeros(n, onehot - onehot_rows, c1)], dim=1)
            ids = self._tiles(take(label), s).reshape(n, s * s)
            ids = ids + torch.arange(n, device=ids.device).view(n, 1) * onehot
            h0 = F.embedding(ids, rows.reshape(n * onehot, c1))  # (n, S*S, C1): W0[label] per cell
            h0 += self._first_layer_base(w_pe, bias0, h0.dtype)
            if edge_row:
                assert edge is not None
                e = self._tiles(take(edge), s).to(h0.dtype)  # (n, S*S, 1)
                h0 = torch.baddbmm(h0, e, w_edge)
            return h0

        return self._run_blocks(params, first_layer)

    # --- entry points ----------------------------------------------------------------------------
    def _check_dense(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"ASAP-Net expects input of shape (B, {self.config.in_channels}, H, W), got {tuple(x.shape)}"
            )
        self.check_input_size(x.shape[2], x.shape[3])

    def forward_with_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_dense(x)
        params = self.predict_params(x)
        if self.config.hr_path == "reference":
            out = self.apply_mlp_reference(self.hr_pixels(x), params)
        else:
            out = self.apply_mlp_fast(self.hr_pixels(x), params)
        if self.config.global_residual:
            out = torch.clamp(x + out, -1.0, 1.0)
        return out, params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_params(x)[0]

    def prepare_labels(self, label: torch.Tensor, instance: torch.Tensor | None = None,
                       edge: torch.Tensor | None = None,
                       dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Integer label ids (B, 1, H, W) or (B, H, W) -> (int64 ids with 255 -> label_nc when
        ``contain_dontcare_label``, the instance edge map or None). ``edge`` (a precomputed edge map, e.g. of
        a larger image this is a crop of) takes precedence over ``instance``."""
        cfg = self.config
        if cfg.input_mode != "semantic":
            raise ValueError("forward_labels needs a semantic ASAP-Net (input_mode='semantic'); use forward")
        if label.dim() == 3:
            label = label.unsqueeze(1)
        if label.dim() != 4 or label.shape[1] != 1:
            raise ValueError(f"expected label ids of shape (B, 1, H, W), got {tuple(label.shape)}")
        label = label.long()
        if cfg.contain_dontcare_label:
            label = torch.where(label == 255, torch.full_like(label, cfg.label_nc), label)
        if not _tracing():
            low, high = int(label.min()), int(label.max())
            if low < 0 or high >= cfg.onehot_channels:
                raise ValueError(
                    f"label map contains id {high if high >= cfg.onehot_channels else low} but the model has "
                    f"{cfg.onehot_channels} label channels (label_nc={cfg.label_nc}"
                    f"{', dontcare 255' if cfg.contain_dontcare_label else ''})"
                )
        if not cfg.instance_edge:
            return label, None
        if edge is None:
            if instance is None:
                raise ValueError("this ASAP-Net has an instance edge channel: pass instance (ids) or edge")
            if instance.dim() == 3:
                instance = instance.unsqueeze(1)
            edge = instance_edge_map(instance, dtype)
        elif edge.dim() == 3:
            edge = edge.unsqueeze(1)
        return label, edge.to(dtype)

    def dense_input(self, label: torch.Tensor, instance: torch.Tensor | None = None,
                    edge: torch.Tensor | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The official dense input (one-hot [+ dontcare] [+ instance edge]) from integer maps: what
        ``forward`` takes (equal to :func:`pixelwise.official.preprocess_semantic`)."""
        label, edge = self.prepare_labels(label, instance, edge, dtype)
        x = one_hot_dense(label, self.config.onehot_channels, dtype)
        return x if edge is None else torch.cat([x, edge], dim=1)

    def forward_labels(self, label: torch.Tensor, instance: torch.Tensor | None = None,
                       edge: torch.Tensor | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Semantic inference from integer label ids (B, 1, H, W) [+ instance ids or a precomputed edge map].

        Fast path: the full-resolution one-hot is never built: the low-res stream gets the tent-downsampled
        one-hot (+ edge) computed at its own resolution, the MLP gathers W0[label]. With ``hr_path ==
        "reference"`` the dense official input is built and :meth:`forward` runs. ``dtype``: the compute dtype
        (default: the model's)."""
        dtype = dtype or next(self.parameters()).dtype
        if self.config.hr_path == "reference":
            return self.forward(self.dense_input(label, instance, edge, dtype))
        label, edge = self.prepare_labels(label, instance, edge, dtype)
        self.check_input_size(label.shape[2], label.shape[3])
        cfg = self.config
        lowres = tent_downsample_labels(label, cfg.onehot_channels, cfg.predownsample, dtype)
        if edge is not None:
            lowres = torch.cat([lowres, tent_downsample(edge, cfg.predownsample)], dim=1)
        params = self.run_lowres_stream(lowres)
        return self.apply_mlp_labels(label, params, edge if not cfg.lr_instance else None)
