"""ASAP-Net's high-resolution stream: the positional encoding, the layout of the per-cell MLP parameters, the
tiles of cells, and the two algorithms (reference and fast) that run every pixel through its cell's MLP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F

from pixelwise.models.asapnet_blocks import (
    DEVICE_BLOCK_PIXELS,
    PixelPart,
    cpu_block_pixels,
    dense_pixel_part,
    label_pixel_part,
    run_mlp_blocks,
)
from pixelwise.models.asapnet_config import ASAPNetConfig
from pixelwise.models.asapnet_encoding import positional_encoding, positional_encoding_1d


def _tracing() -> bool:
    """True under torch.jit tracing, torch.export / dynamo and torch.compile: no Python-side caches, no
    data-dependent checks, one block of cells."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()



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


def mlp_on_tiles(tiles: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Every cell's MLP on its tile of pixels (``cells_to_tiles`` layout), one batched matmul per layer:
    LeakyReLU(0.01) between layers, tanh after the last (the reference algorithm)."""
    out = tiles
    for i, (weight, bias) in enumerate(layers):
        out = torch.matmul(out, weight) + bias
        out = torch.tanh(out) if i == len(layers) - 1 else F.leaky_relu(out, 0.01)
    return out


def mlp_tail(h: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """LeakyReLU(0.01) on the first layer's pre-activation ``h`` (in place), then the remaining per-cell layers
    as fused ``baddbmm`` (bias + batched matmul) with in-place LeakyReLU, tanh after the last."""
    h = F.leaky_relu(h, 0.01, inplace=True)
    for i, (weight, bias) in enumerate(layers):
        h = torch.baddbmm(bias, h, weight)
        h = torch.tanh_(h) if i == len(layers) - 1 else F.leaky_relu(h, 0.01, inplace=True)
    return h



class HighResStream:
    """The high-resolution stream of :class:`pixelwise.models.asapnet.ASAPNetGenerator` (a mixin: it uses the
    generator's ``config``, ``hr_block_pixels``, ``hr_kernel`` and ``_encoding_cache``): the reference path
    (:meth:`apply_mlp_reference`) and the fast path on dense pixels (:meth:`apply_mlp_fast`) or integer labels
    (:meth:`apply_mlp_labels`); see the generator module's docstring for the algorithm."""

    config: ASAPNetConfig
    hr_block_pixels: int | None
    hr_kernel: HRKernel | None
    _encoding_cache: dict[tuple[torch.device, torch.dtype], torch.Tensor]

    def apply_mlp_reference(self, pixels: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """High-res stream, reference algorithm: concatenate [pixels, positional encoding] at full
        resolution and run each cell's MLP on its tile with one batched matmul per layer. The parameter
        grid is never upsampled: every cell's weights are used for its S*S pixels in place."""
        cfg = self.config
        s = cfg.downsampling
        b, _, h, w = pixels.shape
        encoding = positional_encoding(h, w, s, pixels.device, pixels.dtype, cfg.num_frequencies)
        features = torch.cat([pixels, encoding.unsqueeze(0).expand(b, -1, -1, -1)], dim=1)
        tiles = cells_to_tiles(features, s)  # (B, gh, gw, S*S, C0)
        cell_params = params.permute(0, 2, 3, 1)  # (B, gh, gw, P)
        return tiles_to_image(mlp_on_tiles(tiles, split_mlp_params(cell_params, cfg.mlp_channels)), s)

    def apply_mlp_blended(self, pixels: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """High-res stream with ``cell_blend``: each pixel's output is the bilinear blend (weights by the
        distance to the cell centres) of the MLP outputs of the 4 cells whose centres surround it; at the
        image border the missing neighbours repeat the border cells. Computed on the grid shifted by S/2,
        whose cells are bounded by 4 cell centres: each shifted cell runs the 4 corner cells' MLPs on its
        pixels (positional encoding of the original positions) and blends them."""
        cfg = self.config
        s, half = cfg.downsampling, cfg.downsampling // 2
        b, _, h, w = pixels.shape
        encoding = positional_encoding(h, w, s, pixels.device, pixels.dtype, cfg.num_frequencies)
        features = torch.cat([pixels, encoding.unsqueeze(0).expand(b, -1, -1, -1)], dim=1)
        tiles = cells_to_tiles(F.pad(features, (half,) * 4, mode="replicate"), s)  # (B, gh+1, gw+1, S*S, C0)
        grid = F.pad(params, (1, 1, 1, 1), mode="replicate").permute(0, 2, 3, 1)  # (B, gh+2, gw+2, P)
        gh, gw = h // s, w // s
        # per row / column of a shifted cell: the weight of the earlier (index 0) and later (1) cell centre
        frac = (torch.arange(s, device=pixels.device, dtype=pixels.dtype) + 0.5) / s
        weights = torch.stack([1 - frac, frac])  # (2, S)
        out = torch.zeros((), device=pixels.device, dtype=pixels.dtype)
        for dy in (0, 1):
            for dx in (0, 1):
                layers = split_mlp_params(grid[:, dy:dy + gh + 1, dx:dx + gw + 1], cfg.mlp_channels)
                blend = (weights[dy].view(s, 1) * weights[dx].view(1, s)).reshape(s * s, 1)  # tile pixel order
                out = out + mlp_on_tiles(tiles, layers) * blend
        return tiles_to_image(out, s)[:, :, half:half + h, half:half + w]

    # --- fast high-res stream --------------------------------------------------------------------
    def encoding_table(self, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """:func:`positional_encoding_1d` for this model's S, cached per (device, dtype). It does not depend
        on H, W or the batch, so any input size reuses it; under tracing/compilation it is built inline."""
        if _tracing():
            return positional_encoding_1d(self.config.downsampling, device, dtype, self.config.num_frequencies)
        key = (torch.device(device), dtype)
        table = self._encoding_cache.get(key)
        if table is None:
            table = positional_encoding_1d(self.config.downsampling, device, dtype, self.config.num_frequencies)
            self._encoding_cache[key] = table
        return table

    def block_pixels(self, device: torch.device) -> int:
        """Pixels per block of the fast path: ``hr_block_pixels`` when set; on the CPU, sized so that a block's
        activations follow the per-core L2 cache times torch's threads (:func:`pixelwise.cpuinfo.cache_bytes`);
        elsewhere a few large blocks. The choice never changes the result (beyond float rounding)."""
        if self.hr_block_pixels is not None:
            return self.hr_block_pixels
        if device.type != "cpu":
            return DEVICE_BLOCK_PIXELS
        from pixelwise.cpuinfo import cache_bytes

        return cpu_block_pixels(self.config, cache_bytes(2), torch.get_num_threads())

    def _block_cells(self, device: torch.device) -> int:
        return max(1, self.block_pixels(device) // self.config.downsampling**2)

    def _inference_blocks(self, *tensors: torch.Tensor | None) -> bool:
        """The preallocated-buffer executor (:mod:`pixelwise.models.asapnet_blocks`) runs for inference: no
        gradient needed, not under tracing/compilation."""
        if _tracing():
            return False
        return not (torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors))

    def _run_inference(self, params: torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                       pixel_part: PixelPart, pixel_rows: int) -> torch.Tensor:
        """The fast path for inference: cache-sized blocks, preallocated buffers (see asapnet_blocks).
        ``params``: the (B, P, gh, gw) grid, or (features (B, F, gh, gw), weight (P, F), bias (P)) of the low-res
        stream's last 1x1 conv, which then runs per block: the (P, gh, gw) grid is never stored (on a 12 MP photo
        with S=4 it would take gigabytes)."""
        cfg = self.config
        channels = cfg.mlp_channels
        if isinstance(params, tuple):
            features, weight, bias = params
            b, nf, gh, gw = features.shape
            cells = features.permute(0, 2, 3, 1).reshape(-1, nf)
            weight_t, p = weight.t(), weight.shape[0]
            chunk = torch.empty(0, dtype=features.dtype, device=features.device)

            def layers(cell0: int, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
                nonlocal chunk
                if chunk.numel() < n * p:
                    chunk = torch.empty(n * p, dtype=features.dtype, device=features.device)
                out = torch.addmm(bias, cells[cell0:cell0 + n], weight_t, out=chunk[: n * p].view(n, p))
                return split_mlp_params(out, channels)

            source: Any = layers
            dtype, device = features.dtype, features.device
        else:
            b, p, gh, gw = params.shape
            cell_params = params.permute(0, 2, 3, 1).contiguous().view(-1, p)  # (cells, P); no copy if channels_last
            source, dtype, device = split_mlp_params(cell_params, channels), params.dtype, params.device
        acc = torch.promote_types(dtype, torch.float32)
        return run_mlp_blocks(cfg, source, (b, gh, gw), self.encoding_table(device, acc), pixel_part,
                              self.block_pixels(device), pixel_rows)

    def apply_mlp_fast_input(self, x: torch.Tensor,
                             params: torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """The fast path from the network input ``x``: :meth:`apply_mlp_fast` on :meth:`hr_pixels`, except that for
        inference with ``hr_neighbourhood`` k > 1 each block unfolds its own k x k windows (per ``hr_dilations``
        entry) from the reflect-padded input, so the (C k^2, H, W) window tensor is never built (k^2 times less
        memory on large photos). ``params`` as in :meth:`_run_inference` (a tuple only for inference)."""
        cfg = self.config
        k = cfg.hr_neighbourhood
        if isinstance(params, tuple) or (self.hr_kernel is None and self._inference_blocks(x, params)):
            if k > 1 and cfg.hr_label_smoothing == 1:
                from pixelwise.ops import reflect_pad

                pixels = x[:, : cfg.hr_pixel_channels] if cfg.lr_instance else x
                dilations = tuple(int(d) for d in cfg.hr_dilations)
                reach = max(dilations) * (k // 2)
                padded = (F.pad(pixels, (reach,) * 4, mode="reflect") if reach < min(pixels.shape[-2:])
                          else reflect_pad(pixels, reach))
                return self._run_inference(params, dense_pixel_part(padded, cfg.downsampling, k, dilations),
                                           cfg.hr_mlp_pixel_channels)
            pixels = self.hr_pixels(x)
            return self._run_inference(params, dense_pixel_part(pixels, cfg.downsampling), pixels.shape[1])
        return self.apply_mlp_fast(self.hr_pixels(x), params)

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

    def _use_hr_kernel(self, *tensors: torch.Tensor | None) -> bool:
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
        if self._inference_blocks(pixels, params):
            return self._run_inference(params, dense_pixel_part(pixels, s), c_pix)

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
        if self._inference_blocks(params, edge):
            part = label_pixel_part(label, edge if edge_row else None, s, onehot, onehot_rows)
            return self._run_inference(params, part, c_pix)

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
