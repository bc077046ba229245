"""ASAP-Net's fast high-res stream for inference (no gradient): the per-pixel MLP over cache-sized blocks of
pixels, every layer written into two preallocated ping-pong buffers.

Per block of pixels (a run of whole cells in (b, row, column) order, or a band of pixel rows of one cell when a
cell alone exceeds the budget) the first layer's pre-activation is written into buffer A (the encoding part
A_y[py] + A_x[px] + b0, then the pixel part added in place: ``baddbmm_`` or a row gather), LeakyReLU runs in
place, every later layer is one ``baddbmm`` (bias folded into the product) into the other buffer, the last two
channel-major (see :func:`run_mlp_blocks`), and the last layer's output, after an in-place tanh, is copied into the
block's window of the preallocated output image while still in cache. The block's pixels reach the first layer
channel-major (:func:`to_channels`: runs of S pixels, no per-pixel transpose). No per-block
allocation happens, so the buffers stay in the CPU's cache and no page is touched twice; the same function as
the autograd-friendly path in :mod:`pixelwise.models.asapnet_mlp` (tested to 1e-5 for every block size).

The block size (pixels per block) follows the per-core L2 cache (:func:`pixelwise.cpuinfo.cache_bytes`, see
:data:`CACHE_FACTOR`); ``hr_block_pixels`` on the model overrides it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pixelwise.models.asapnet_config import ASAPNetConfig

# pixels per block on accelerators (few large blocks: the GPU wants big GEMMs)
DEVICE_BLOCK_PIXELS = 1 << 22
MIN_CPU_BLOCK_PIXELS = 256
MAX_CPU_BLOCK_PIXELS = 1 << 16


@dataclass(frozen=True)
class Block:
    """Cells ``cell0 .. cell0 + n`` (flat (b, row, column) order) of image ``b0 .. b1``, cell rows ``y0 .. y1``,
    cell columns ``x0 .. x1``; pixel rows ``r0 .. r1`` inside each cell (0 .. S unless one cell is split)."""

    b0: int
    b1: int
    y0: int
    y1: int
    x0: int
    x1: int
    r0: int
    r1: int
    cell0: int

    @property
    def cells(self) -> int:
        return (self.b1 - self.b0) * (self.y1 - self.y0) * (self.x1 - self.x0)

    def crop(self, t: torch.Tensor, s: int, halo: int = 0) -> torch.Tensor:
        """This block's pixels of a (B, C, H, W) tensor; ``halo`` extra rows/columns after the end (windows of a
        tensor padded by ``halo`` // 2 on every side)."""
        if self.r1 - self.r0 < s:  # a band of one cell
            rows = slice(self.y0 * s + self.r0, self.y0 * s + self.r1 + halo)
        else:
            rows = slice(self.y0 * s, self.y1 * s + halo)
        return t[self.b0:self.b1, :, rows, self.x0 * s:self.x1 * s + halo]


# a block's live activations may take this many times the per-core L2: measured on a 1 MiB-L2 AVX-512 EPYC
# (1024x2048, S=64, 1 thread, CPU time of the MLP per block size: 256 px 2366 ms, 1024 px 1775 ms, 4096 px
# 1636 ms, 8192 px 1524 ms, 16384 px 1583 ms), and it gives the 16384 px tuned earlier on a 2 MiB-L2 Xeon:
# smaller blocks pay per-call overhead, larger ones leave the L2/L3
CACHE_FACTOR = 8


def cpu_block_pixels(config: ASAPNetConfig, cache: int, threads: int = 1) -> int:
    """Pixels per block so that one block's live activations (two buffers of the widest layer, the first layer's
    pixel input) take about :data:`CACHE_FACTOR` times ``cache`` bytes (the per-core L2) per thread: a power of
    two in [256, 65536]."""
    channels = config.mlp_channels
    per_pixel = 4 * (2 * max(channels[1:]) + channels[0])
    budget = max(1, CACHE_FACTOR * cache * max(1, threads) // per_pixel)
    pixels = 1 << max(0, budget.bit_length() - 1)
    return min(MAX_CPU_BLOCK_PIXELS, max(MIN_CPU_BLOCK_PIXELS, pixels))


def plan_blocks(batch: int, grid_h: int, grid_w: int, s: int, pixels: int) -> Iterator[Block]:
    """Blocks of about ``pixels`` pixels covering the grid: whole images, else whole rows of cells of one image,
    else pieces of one row, else bands of pixel rows of one cell (at least one pixel row)."""
    cells = pixels // (s * s)
    per_image = grid_h * grid_w
    if cells >= per_image:
        step = cells // per_image
        for b0 in range(0, batch, step):
            yield Block(b0, min(b0 + step, batch), 0, grid_h, 0, grid_w, 0, s, b0 * per_image)
    elif cells >= grid_w:
        step = cells // grid_w
        for b0 in range(batch):
            for y0 in range(0, grid_h, step):
                yield Block(b0, b0 + 1, y0, min(y0 + step, grid_h), 0, grid_w, 0, s, (b0 * grid_h + y0) * grid_w)
    elif cells >= 1:
        for b0 in range(batch):
            for y0 in range(grid_h):
                for x0 in range(0, grid_w, cells):
                    yield Block(b0, b0 + 1, y0, y0 + 1, x0, min(x0 + cells, grid_w), 0, s,
                                (b0 * grid_h + y0) * grid_w + x0)
    else:
        band = max(1, pixels // s)
        for cell in range(batch * per_image):
            b0, rest = divmod(cell, per_image)
            y0, x0 = divmod(rest, grid_w)
            for r0 in range(0, s, band):
                yield Block(b0, b0 + 1, y0, y0 + 1, x0, x0 + 1, r0, min(r0 + band, s), cell)


def to_channels(block_pixels: torch.Tensor, block: Block, s: int, out: torch.Tensor) -> torch.Tensor:
    """A (nb, C, rows, cols) crop -> (cells, C, band rows * S) channel-major pixels per cell, written into ``out``.
    Runs of S pixels stay contiguous, so this copy costs a tenth of a transpose to pixel-major rows (0.06 vs 0.71 ms
    per 2-cell block, docs/speed.md); the first layer then reads it transposed
    (``baddbmm_(h, x.transpose(1, 2), w)``, one batched GEMM with a transposed operand)."""
    nb, c = block_pixels.shape[:2]
    ry, rx, band = block.y1 - block.y0, block.x1 - block.x0, block.r1 - block.r0
    src = block_pixels.reshape(nb, c, ry, band, rx, s).permute(0, 2, 4, 1, 3, 5)
    dst = out[: block.cells * band * s * c].view(nb, ry, rx, c, band, s)
    dst.copy_(src)
    return dst.view(block.cells, c, band * s)


# first_layer(block, weight0, h, scratch): add the pixel part of layer 0 to h (cells, band*S, C1) in place
PixelPart = Callable[[Block, torch.Tensor, torch.Tensor, torch.Tensor], None]


Layers = list[tuple[torch.Tensor, torch.Tensor]]


def run_mlp_blocks(config: ASAPNetConfig, layers: Layers | Callable[[int, int], Layers], grid: tuple[int, int, int],
                   table: torch.Tensor, pixel_part: PixelPart, block_pixels: int, pixel_rows: int) -> torch.Tensor:
    """The per-pixel MLP's output image (B, output_nc, gh * S, gw * S).

    ``layers``: every cell's (weight (cells, nci, nco), bias (cells, 1, nco)) per layer (``split_mlp_params`` of
    the cell-major parameters: views, sliced per block), or ``layers(cell0, n)`` giving those of cells
    cell0 .. cell0 + n (parameters computed per block, never stored for the whole grid); ``grid``: (B, gh, gw);
    ``table``: the (S, 2 nf) encoding table (float32, or float64 for a float64 model); ``pixel_part`` adds the
    pixel rows of the first layer; ``pixel_rows``: rows of the first layer fed by pixels (then the encoding's).

    Layouts per block: the first layers run pixel-major ((cells, pixels, C): the best GEMM shape for C x C
    weights); the last hidden layer writes channel-major ((cells, C, pixels), reading its input transposed), so
    that the last layer (C -> output_nc, a GEMM too narrow for pixel-major output) is a wide GEMM whose output
    rows are runs of pixels, copied straight into the image (no transposing copy of the whole output)."""
    s, nf = config.downsampling, config.num_frequencies
    channels = config.mlp_channels
    b, gh, gw = grid
    blocks = list(plan_blocks(b, gh, gw, s, block_pixels))
    layers_of = layers if callable(layers) else (
        lambda cell0, n: [(w[cell0:cell0 + n], bias[cell0:cell0 + n]) for w, bias in layers])  # type: ignore[union-attr]
    weight_all = layers_of(0, 1)[0][0]
    dtype, device = weight_all.dtype, weight_all.device
    rows = max(blk.cells * (blk.r1 - blk.r0) * s for blk in blocks)
    width = max(channels[1:-1], default=channels[-1])
    out_nc = channels[-1]
    ping = torch.empty(rows * width, dtype=dtype, device=device)
    pong = torch.empty(rows * max(width, channels[0]), dtype=dtype, device=device)  # also the pixel rows
    last_out = torch.empty(rows * out_nc, dtype=dtype, device=device)
    image = torch.empty(b, out_nc, gh * s, gw * s, dtype=dtype, device=device)
    acc = table.dtype
    last = len(channels) - 2
    for blk in blocks:
        n, band = blk.cells, blk.r1 - blk.r0
        m = band * s  # pixels per cell in this block
        block_layers = layers_of(blk.cell0, n)
        weight0, bias0 = block_layers[0]
        c1 = weight0.shape[2]
        # encoding part + bias: A_y[py] + b0 + A_x[px], (n, band, S, C1)
        w_x, w_y = weight0[:, pixel_rows:].to(acc).reshape(n, nf, 2, 2, c1).unbind(2)
        a_x = torch.matmul(table, w_x.reshape(n, 2 * nf, c1))
        a_y = torch.matmul(table[blk.r0:blk.r1], w_y.reshape(n, 2 * nf, c1)) + bias0.to(acc)
        h = ping[: n * m * c1].view(n, m, c1)
        torch.add(a_y.unsqueeze(2), a_x.unsqueeze(1), out=h.view(n, band, s, c1))
        pixel_part(blk, weight0[:, :pixel_rows], h, pong)
        pixel_major = True
        for i, (weight, bias) in enumerate(block_layers[1:], start=1):
            F.leaky_relu_(h, 0.01)
            nco = weight.shape[2]
            buf = last_out if i == last else (ping, pong)[i % 2]
            if i < last - 1:
                h = torch.baddbmm(bias, h, weight, out=buf[: n * m * nco].view(n, m, nco))
            else:  # the last two layers: channel-major output
                src = h.transpose(1, 2) if pixel_major else h
                h = torch.baddbmm(bias.transpose(1, 2), weight.transpose(1, 2), src,
                                  out=buf[: n * m * nco].view(n, nco, m))
                pixel_major = False
        result = h.transpose(1, 2) if pixel_major else h  # (n, output_nc, band * S); pixel-major: a one-layer MLP
        result.tanh_()
        nb, ry, rx = blk.b1 - blk.b0, blk.y1 - blk.y0, blk.x1 - blk.x0
        blk.crop(image, s).view(nb, out_nc, ry, band, rx, s).copy_(
            result.reshape(nb, ry, rx, out_nc, band, s).permute(0, 3, 1, 4, 2, 5))
    return image


def dense_pixel_part(pixels: torch.Tensor, s: int, window: int = 1, dilations: tuple[int, ...] = (1,)) -> PixelPart:
    """The pixel part for dense pixels (B, C, H, W): one ``baddbmm_`` of the block's pixels (channel-major, read
    transposed: see :func:`to_channels`). ``window`` k > 1:
    ``pixels`` is the input reflect-padded by max(dilations) * (k // 2), and each block unfolds its own k x k
    windows per dilation (channel-major, dilations in order, as ``ASAPNetGenerator.hr_pixels``), so the
    (C k^2 len(dilations), H, W) window tensor never exists at once."""
    reach = max(dilations) * (window // 2)

    def part(blk: Block, w_pix: torch.Tensor, h: torch.Tensor, scratch: torch.Tensor) -> None:
        crop = blk.crop(pixels, s, 2 * reach)
        if window > 1:
            nb, _, ph, pw = crop.shape
            rows, cols = ph - 2 * reach, pw - 2 * reach
            stacks = []
            for d in dilations:
                off, pad = reach - d * (window // 2), d * (window // 2)
                inner = crop[:, :, off:off + rows + 2 * pad, off:off + cols + 2 * pad]
                stacks.append(F.unfold(inner, window, dilation=d))
            crop = (stacks[0] if len(stacks) == 1 else torch.cat(stacks, dim=1)).view(nb, -1, rows, cols)
        h.baddbmm_(to_channels(crop, blk, s, scratch).transpose(1, 2), w_pix)
    return part


def label_pixel_part(label: torch.Tensor, edge: torch.Tensor | None, s: int, onehot: int, onehot_rows: int,
                     ) -> PixelPart:
    """The pixel part for integer labels (B, 1, H, W): the row gather W0[label] of each cell's weights added in
    place (no one-hot), plus the instance edge row when ``edge`` is given."""
    def part(blk: Block, w_pix: torch.Tensor, h: torch.Tensor, scratch: torch.Tensor) -> None:
        n, rows, c1 = h.shape
        table = w_pix[:, :onehot_rows]
        if onehot_rows < onehot:  # the dropped channel contributes nothing
            table = torch.cat([table, table.new_zeros(n, onehot - onehot_rows, c1)], dim=1)
        ids = blk.crop(label, s).reshape(-1, 1, blk.y1 - blk.y0, blk.r1 - blk.r0, blk.x1 - blk.x0, s)
        ids = ids.permute(0, 2, 4, 3, 5, 1).reshape(n, rows)
        ids = ids + torch.arange(n, device=ids.device).view(n, 1) * onehot
        gathered = scratch[: n * rows * c1].view(n * rows, c1)
        torch.index_select(table.reshape(n * onehot, c1), 0, ids.view(-1), out=gathered)
        h += gathered.view(n, rows, c1)
        if edge is not None:
            e = blk.crop(edge, s).reshape(-1, 1, blk.y1 - blk.y0, blk.r1 - blk.r0, blk.x1 - blk.x0, s)
            e = e.permute(0, 2, 4, 3, 5, 1).reshape(n, rows, 1).to(h.dtype)
            h.baddbmm_(e, w_pix[:, onehot_rows:onehot_rows + 1])
    return part


__all__ = ["Block", "cpu_block_pixels", "dense_pixel_part", "label_pixel_part", "plan_blocks", "run_mlp_blocks",
           "to_channels"]
