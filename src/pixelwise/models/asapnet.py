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

Two high-resolution paths compute the same function (``ASAPNetExecution.hr_path``, an execution setting, not part
of the config; registry names ``asapnet`` and ``asapnet-reference``):
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

The config and the execution options are :mod:`pixelwise.models.asapnet_config`, the low-res stream
:mod:`pixelwise.models.asapnet_lowres`, the high-res stream (both paths) :mod:`pixelwise.models.asapnet_mlp`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.models.asapnet_config import ASAPNetConfig, ASAPNetExecution
from pixelwise.models.asapnet_lowres import LowResStream, tent_downsample, tent_downsample_labels, tent_kernel_1d
from pixelwise.models.asapnet_mlp import (
    HighResStream,
    HRKernel,
    _tracing,
    cells_to_tiles,
    mlp_tail,
    positional_encoding,
    positional_encoding_1d,
    split_mlp_params,
    tiles_to_image,
)
from pixelwise.models.base import InputKind, PretrainedModel
from pixelwise.ops import check_label_range, instance_edges, one_hot, reflect_pad


class ASAPNetGenerator(HighResStream, PretrainedModel):
    """ASAP-Net generator. ``forward`` takes the dense official input tensor (one-hot labels [+ dontcare]
    [+ instance edge], or an RGB image in [-1, 1]) of any batch size and any H, W divisible by S, and
    returns the image in [-1, 1]. ``forward_labels`` takes integer label maps (+ instance maps) instead.
    ``forward_with_params`` also returns the per-cell MLP parameters.

    How it runs is one typed object, ``execution`` (:class:`ASAPNetExecution`: the high-res path "fast" or
    "reference", both the same function to float32 rounding; the fast path's block size; a fused high-res
    kernel; channels_last for the low-res stream), changed only through :meth:`set_execution`; ``hr_path``,
    ``hr_block_pixels``, ``hr_kernel`` and ``lowres_channels_last`` read it."""

    def __init__(self, config: ASAPNetConfig | None = None, init: str = "pytorch") -> None:
        config = config or ASAPNetConfig()
        config.validate()
        super().__init__(config)
        self.lowres_stream = LowResStream(config)
        self.execution = ASAPNetExecution()
        # (device, dtype) -> (S, 2 log2 S) encoding table; plain attribute, never in the state_dict
        self._encoding_cache: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}
        self.initialise_(init)

    def special_init_(self) -> None:
        """``shared_mlp_init`` then ``zero_init_output`` (it wins where both touch the last layer)."""
        if self.config.shared_mlp_init:
            self.shared_mlp_init_()
        if self.config.zero_init_output:
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
                weight[cfg.hr_mlp_pixel_channels:] = 0.0
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

    # --- how it runs (never part of the config) --------------------------------------------------------
    def set_execution(self, execution: ASAPNetExecution | None = None, **options: Any) -> ASAPNetExecution:
        """Replace the execution options: ``execution`` (default: the current ones) with ``options``
        (:class:`ASAPNetExecution`'s fields) changed; validated; returns the new options."""
        self.execution = dataclasses.replace(execution or self.execution, **options)
        return self.execution

    @property
    def hr_path(self) -> str:
        """"fast" or "reference" (``execution.hr_path``); assigning it is ``set_execution(hr_path=...)``."""
        return self.execution.hr_path

    @hr_path.setter
    def hr_path(self, value: str) -> None:
        self.set_execution(hr_path=value)

    @property
    def hr_block_pixels(self) -> int | None:
        return self.execution.hr_block_pixels

    @property
    def hr_kernel(self) -> HRKernel | None:
        return self.execution.hr_kernel

    @property
    def lowres_channels_last(self) -> bool:
        return self.execution.lowres_channels_last

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
        """The input channels the per-pixel MLP sees (the edge channel dropped when lr_instance). With
        ``hr_label_smoothing`` k > 1 each channel is averaged over the k x k replicate-padded window around its
        pixel; with ``hr_neighbourhood`` k > 1 the k x k reflect-padded window of them around each pixel is
        stacked (C*k*k channels, channel-major), once per ``hr_dilations`` entry (taps d pixels apart). Either
        way both high-res paths (and a fused kernel) see ordinary dense pixels."""
        x = x[:, : self.config.hr_pixel_channels] if self.config.lr_instance else x
        smoothing = self.config.hr_label_smoothing
        if smoothing > 1:  # each channel's mean over the window: a label's share of it
            x = F.avg_pool2d(F.pad(x, (smoothing // 2,) * 4, mode="replicate"), smoothing, stride=1)
        k = self.config.hr_neighbourhood
        if k == 1:
            return x
        b, c, h, w = x.shape
        stacks = []
        for d in self.config.hr_dilations:  # each dilation's window, channel-major, dilations in order
            pad = d * (k // 2)
            stacks.append(F.unfold(reflect_pad(x, pad), k, dilation=d).view(b, c * k * k, h, w))  # (B, C*k*k, H, W)
        return stacks[0] if len(stacks) == 1 else torch.cat(stacks, dim=1)

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
        if self.config.cell_blend:
            out = self.apply_mlp_blended(self.hr_pixels(x), params)
        elif self.execution.hr_path == "reference":
            out = self.apply_mlp_reference(self.hr_pixels(x), params)
        else:
            out = self.apply_mlp_fast_input(x, params)
        if self.config.global_residual:
            out = torch.clamp(x + out, -1.0, 1.0)
        return out, params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = self.lowres_stream.model[-1]
        if not self._fuses_last_conv(x, last):
            return self.forward_with_params(x)[0]
        # inference on the fast path with a small last 1x1 conv: it runs per block of cells inside the high-res
        # stream, so the (P, H/S, W/S) parameter grid is never stored (same function as forward_with_params)
        self._check_dense(x)
        lowres = self.lowres_input(x)
        if self.lowres_channels_last:
            lowres = lowres.contiguous(memory_format=torch.channels_last)
        features = self.lowres_stream.model[:-1](lowres)
        out = self.apply_mlp_fast_input(x, (features, last.weight.flatten(1), last.bias))
        return torch.clamp(x + out, -1.0, 1.0) if self.config.global_residual else out

    def _fuses_last_conv(self, x: torch.Tensor, last: nn.Module) -> bool:
        """Whether :meth:`forward` may run the low-res stream's last 1x1 conv per block: fast path, inference,
        no kernel, cell_blend or wrapped (compiled, graphed) stream, and its weight fits the L2 cache."""
        if (self.execution.hr_path != "fast" or self.config.cell_blend or self.hr_kernel is not None
                or "forward" in self.lowres_stream.__dict__ or not isinstance(last, nn.Conv2d)
                or last.kernel_size != (1, 1) or last.bias is None
                or not self._inference_blocks(x, *self.parameters())):
            return False
        from pixelwise.cpuinfo import cache_bytes

        return last.weight.numel() * last.weight.element_size() <= cache_bytes(2)

    def prepare_labels(self, label: torch.Tensor, instance: torch.Tensor | None = None,
                       edge: torch.Tensor | None = None,
                       dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Integer label ids (B, 1, H, W) or (B, H, W) -> (int64 ids with 255 -> label_nc when
        ``contain_dontcare_label``, the instance edge map or None). ``edge`` (a precomputed edge map, e.g. of
        a larger image this is a crop of) takes precedence over ``instance``."""
        cfg = self.config
        if cfg.input_kind is not InputKind.LABELS:
            raise ValueError("forward_labels needs a semantic ASAP-Net (input_mode='semantic'); use forward")
        if label.dim() == 3:
            label = label.unsqueeze(1)
        if label.dim() != 4 or label.shape[1] != 1:
            raise ValueError(f"expected label ids of shape (B, 1, H, W), got {tuple(label.shape)}")
        label = label.long()
        if cfg.contain_dontcare_label:
            label = torch.where(label == 255, torch.full_like(label, cfg.label_nc), label)
        if not _tracing():
            check_label_range(label, cfg.onehot_channels, dontcare=cfg.contain_dontcare_label)
        if not cfg.instance_edge:
            return label, None
        if edge is None:
            if instance is None:
                raise ValueError("this ASAP-Net has an instance edge channel: pass instance (ids) or edge")
            if instance.dim() == 3:
                instance = instance.unsqueeze(1)
            edge = instance_edges(instance, dtype)
        elif edge.dim() == 3:
            edge = edge.unsqueeze(1)
        return label, edge.to(dtype)

    def dense_input(self, label: torch.Tensor, instance: torch.Tensor | None = None,
                    edge: torch.Tensor | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The official dense input (one-hot [+ dontcare] [+ instance edge]) from integer maps: what
        ``forward`` takes (equal to :func:`pixelwise.official.preprocess_semantic`)."""
        label, edge = self.prepare_labels(label, instance, edge, dtype)
        x = one_hot(label, self.config.onehot_channels, dtype)
        return x if edge is None else torch.cat([x, edge], dim=1)

    def forward_labels(self, label: torch.Tensor, instance: torch.Tensor | None = None,
                       edge: torch.Tensor | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Semantic inference from integer label ids (B, 1, H, W) [+ instance ids or a precomputed edge map].

        Fast path: the full-resolution one-hot is never built: the low-res stream gets the tent-downsampled
        one-hot (+ edge) computed at its own resolution, the MLP gathers W0[label]. With ``hr_path ==
        "reference"``, ``cell_blend`` or ``hr_label_smoothing`` (both need the dense input) the dense input is
        built and :meth:`forward` runs. ``dtype``: the compute dtype (default: the model's)."""
        dtype = dtype or next(self.parameters()).dtype
        if self.execution.hr_path == "reference" or self.config.cell_blend or self.config.hr_label_smoothing > 1:
            return self.forward(self.dense_input(label, instance, edge, dtype))
        label, edge = self.prepare_labels(label, instance, edge, dtype)
        self.check_input_size(label.shape[2], label.shape[3])
        cfg = self.config
        lowres = tent_downsample_labels(label, cfg.onehot_channels, cfg.predownsample, dtype)
        if edge is not None:
            lowres = torch.cat([lowres, tent_downsample(edge, cfg.predownsample)], dim=1)
        params = self.run_lowres_stream(lowres)
        return self.apply_mlp_labels(label, params, edge if not cfg.lr_instance else None)


def set_execution(model: nn.Module, **options: Any) -> int:
    """``set_execution(**options)`` on every ASAP-Net generator inside ``model`` (:class:`ASAPNetExecution`'s
    fields); returns how many there were (0: the options do not apply, e.g. pix2pixHD)."""
    generators = [m for m in model.modules() if isinstance(m, ASAPNetGenerator)]
    for g in generators:
        g.set_execution(**options)
    return len(generators)


__all__ = ["ASAPNetConfig", "ASAPNetExecution", "ASAPNetGenerator", "LowResStream", "cells_to_tiles", "mlp_tail",
           "positional_encoding", "positional_encoding_1d", "set_execution", "split_mlp_params", "tent_downsample",
           "tent_downsample_labels", "tent_kernel_1d", "tiles_to_image"]
