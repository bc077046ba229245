"""ASAP-Net's whole high-resolution stream as one fused Triton kernel (UNVERIFIED: it has only run in Triton's
CPU interpreter, ``TRITON_INTERPRET=1``, never on a GPU; see :data:`pixelwise.kernels.TRITON_VERIFIED_ON_GPU`).

One program computes a block of ``BLOCK_T`` pixels of one parameter cell (a cell has S*S pixels):
1. first layer, in fp32: the cell's bias b0, plus the pixel part, either the row gather ``W0[label]`` (label ids;
   a label on the channel that ``lr_instance`` drops adds nothing; ``edge * W0[edge row]`` when the MLP sees the
   instance edge) or ``x @ W0_pix`` (dense pixels: RGB or one-hot), plus ``PE @ W0_pe`` with PE the pixel's row of
   a cached (S*S, 4 log2 S) encoding table (:func:`encoding_rows`);
2. LeakyReLU(0.01), then the hidden layers and the output layer with the cell's weights read straight from the
   low-res stream's output (any strides: a channels_last parameter map is read in place), tanh;
3. writes only the ``output_nc`` channels of the image.
Widths are padded to powers of two >= 16 with exact zeros (masked loads), so any ``hr_width <= 256`` works, any
``hr_depth >= 2`` and any S. float32 dots are IEEE unless ``torch.backends.cuda.matmul.allow_tf32``; float16 /
bfloat16 feed the dots in half precision and keep every sum in float32.

This module imports ``triton``; :mod:`pixelwise.kernels` imports it lazily so the package works without it.
"""

# ruff: noqa: N803  (Triton convention: compile-time constants of the kernel in capitals)
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch
import triton
import triton.language as tl

from pixelwise.errors import PixelwiseError

if TYPE_CHECKING:
    from pixelwise.models.asapnet import ASAPNetConfig

MAX_HR_WIDTH = 256


@triton.jit
def _round_half(x, dtype: tl.constexpr):
    """float32 ``x`` rounded to ``dtype`` (to nearest even) and widened back: the interpreter's own bfloat16
    conversion truncates, so bfloat16 is rounded on the bits here; float16 converts correctly."""
    if dtype == tl.bfloat16:
        bits = x.to(tl.uint32, bitcast=True)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return bits.to(tl.float32, bitcast=True)
    else:
        return x.to(dtype).to(tl.float32)


@triton.jit
def _dot(a, b, FP32: tl.constexpr, IEEE: tl.constexpr, EMULATE: tl.constexpr):
    """a @ b summed in float32; ``b`` (a weight tile) carries the parameters' dtype. FP32: float32 operands,
    IEEE or TF32. Otherwise operands rounded to that half dtype; EMULATE (the CPU interpreter, whose bfloat16 dot
    is wrong) multiplies the rounded values in float32, which is what the tensor cores compute."""
    if FP32:
        if IEEE:
            out = tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee", out_dtype=tl.float32)
        else:
            out = tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="tf32", out_dtype=tl.float32)
    elif EMULATE:
        out = tl.dot(_round_half(a.to(tl.float32), b.dtype), b.to(tl.float32), input_precision="ieee",
                     out_dtype=tl.float32)
    else:
        out = tl.dot(a.to(b.dtype), b, out_dtype=tl.float32)
    return out


@triton.jit
def _asapnet_hr_kernel(
    params_ptr, sp_b, sp_p, sp_y, sp_x,  # (B, P, gh, gw) per-cell parameters
    src_ptr, sx_b, sx_c, sx_y, sx_x,  # label ids (B, 1, H, W) or dense pixels (B, C_PIX, H, W)
    edge_ptr, se_b, se_y, se_x,  # instance edge (B, 1, H, W) when EDGE_ROW
    enc_ptr,  # (S*S, N_ENC) float32 encoding table, contiguous
    out_ptr, so_b, so_c, so_y, so_x,  # (B, OUT_NC, H, W)
    GH, GW,
    S: tl.constexpr, C_PIX: tl.constexpr, CP: tl.constexpr, ONEHOT_ROWS: tl.constexpr, EDGE_ROW: tl.constexpr,
    LABELS: tl.constexpr, N_ENC: tl.constexpr, KP: tl.constexpr, HID: tl.constexpr, HP: tl.constexpr,
    DEPTH: tl.constexpr, OUT_NC: tl.constexpr, OP: tl.constexpr, BLOCK_T: tl.constexpr,
    FP32: tl.constexpr, IEEE: tl.constexpr, EMULATE: tl.constexpr,
):
    cell = tl.program_id(0)
    part = tl.program_id(1)
    cx = cell % GW
    cy = (cell // GW) % GH
    b = cell // (GW * GH)
    t = part * BLOCK_T + tl.arange(0, BLOCK_T)
    t_ok = t < S * S
    y = cy * S + t // S
    x = cx * S + t % S
    cols = tl.arange(0, HP)
    col_ok = cols < HID
    p_base = params_ptr + b * sp_b + cy * sp_y + cx * sp_x
    c0 = C_PIX + N_ENC  # first layer: HID biases, then c0 * HID weights (input-major)

    h = tl.zeros((BLOCK_T, HP), dtype=tl.float32)
    h += tl.load(p_base + cols * sp_p, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    if LABELS:
        lab = tl.load(src_ptr + b * sx_b + y * sx_y + x * sx_x, mask=t_ok, other=0)
        row_ok = (lab < ONEHOT_ROWS) & t_ok
        w_ptr = p_base + (HID + lab[:, None] * HID + cols[None, :]) * sp_p
        h += tl.load(w_ptr, mask=row_ok[:, None] & col_ok[None, :], other=0.0).to(tl.float32)
        if EDGE_ROW:
            e = tl.load(edge_ptr + b * se_b + y * se_y + x * se_x, mask=t_ok, other=0.0).to(tl.float32)
            w_e = tl.load(p_base + (HID + ONEHOT_ROWS * HID + cols) * sp_p, mask=col_ok, other=0.0)
            h += e[:, None] * w_e.to(tl.float32)[None, :]
    else:
        ch = tl.arange(0, CP)
        ch_ok = ch < C_PIX
        xs = tl.load(src_ptr + b * sx_b + ch[None, :] * sx_c + y[:, None] * sx_y + x[:, None] * sx_x,
                     mask=t_ok[:, None] & ch_ok[None, :], other=0.0)
        w_pix = tl.load(p_base + (HID + ch[:, None] * HID + cols[None, :]) * sp_p,
                        mask=ch_ok[:, None] & col_ok[None, :], other=0.0)
        h += _dot(xs, w_pix, FP32, IEEE, EMULATE)
    k = tl.arange(0, KP)
    k_ok = k < N_ENC
    enc = tl.load(enc_ptr + t[:, None] * N_ENC + k[None, :], mask=t_ok[:, None] & k_ok[None, :], other=0.0)
    w_pe = tl.load(p_base + (HID + (C_PIX + k[:, None]) * HID + cols[None, :]) * sp_p,
                   mask=k_ok[:, None] & col_ok[None, :], other=0.0)
    h += _dot(enc, w_pe, True, IEEE, EMULATE)  # float32 even for half weights: the encoding stays exact
    h = tl.where(h >= 0, h, h * 0.01)

    rows = tl.arange(0, HP)
    row_ok2 = rows < HID
    offset = HID + c0 * HID
    for _ in tl.static_range(DEPTH - 2):  # hidden layers HID -> HID
        bias = tl.load(p_base + (offset + cols) * sp_p, mask=col_ok, other=0.0).to(tl.float32)
        w = tl.load(p_base + (offset + HID + rows[:, None] * HID + cols[None, :]) * sp_p,
                    mask=row_ok2[:, None] & col_ok[None, :], other=0.0)
        h = _dot(h, w, FP32, IEEE, EMULATE)
        h += bias[None, :]
        h = tl.where(h >= 0, h, h * 0.01)
        offset += HID + HID * HID

    ocols = tl.arange(0, OP)
    ocol_ok = ocols < OUT_NC
    bias = tl.load(p_base + (offset + ocols) * sp_p, mask=ocol_ok, other=0.0).to(tl.float32)
    w = tl.load(p_base + (offset + OUT_NC + rows[:, None] * OUT_NC + ocols[None, :]) * sp_p,
                mask=row_ok2[:, None] & ocol_ok[None, :], other=0.0)
    o = _dot(h, w, FP32, IEEE, EMULATE)
    o += bias[None, :]
    z = tl.exp(-2.0 * tl.abs(o))  # tanh without cancellation: sign(o) (1 - z) / (1 + z)
    th = (1.0 - z) / (1.0 + z)
    o = tl.where(o >= 0, th, -th)
    if EMULATE:
        o = _round_half(o, out_ptr.dtype.element_ty)
    out = out_ptr + b * so_b + ocols[None, :] * so_c + y[:, None] * so_y + x[:, None] * so_x
    tl.store(out, o.to(out_ptr.dtype.element_ty), mask=t_ok[:, None] & ocol_ok[None, :])


def _pow2(n: int, least: int = 16) -> int:
    return max(least, 1 << max(0, (n - 1).bit_length()))


def interpreting() -> bool:
    """True when Triton runs its CPU interpreter (``TRITON_INTERPRET=1`` set before triton was imported)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def encoding_rows(downsampling: int, device: torch.device, frequencies: int | None = None) -> torch.Tensor:
    """(S*S, 4 k) float32 (k = ``frequencies``, default log2 S): row ``py * S + px`` is the positional encoding
    of a pixel at (px, py) in its cell, channels in :func:`pixelwise.models.asapnet.positional_encoding` order
    (built from that function). With no encoding (k = 0) one zero column, so that the kernel gets a real
    pointer (its loads of the table are all masked then)."""
    from pixelwise.models.asapnet import positional_encoding

    pe = positional_encoding(downsampling, downsampling, downsampling, device, torch.float32, frequencies)
    if pe.shape[0] == 0:
        return torch.zeros(downsampling * downsampling, 1, device=device)
    return pe.permute(1, 2, 0).reshape(downsampling * downsampling, -1).contiguous()


class TritonHRKernel:
    """The ``ASAPNetGenerator.hr_kernel`` hook backed by :func:`_asapnet_hr_kernel`.

    Launch knobs (do not change the result beyond float rounding): ``block_pixels`` (pixels per program, a power
    of two; default 128, 64 for hr_width > 64, at most S*S rounded up to 16), ``num_warps``, ``num_stages``."""

    def __init__(self, block_pixels: int | None = None, num_warps: int | None = None,
                 num_stages: int | None = None) -> None:
        if block_pixels is not None and (block_pixels < 16 or block_pixels & (block_pixels - 1)):
            raise PixelwiseError(f"block_pixels={block_pixels}: use a power of two >= 16")
        self.block_pixels, self.num_warps, self.num_stages = block_pixels, num_warps, num_stages
        self._tables: dict[tuple[int, int, torch.device], torch.Tensor] = {}

    @staticmethod
    def check_config(config: ASAPNetConfig) -> None:
        """Raise :class:`PixelwiseError` when the kernel cannot compute this configuration."""
        if config.hr_depth < 2:
            raise PixelwiseError(f"the Triton high-res kernel needs hr_depth >= 2 (got {config.hr_depth}); "
                                 "use --hr-backend torch")
        if config.hr_width > MAX_HR_WIDTH:
            raise PixelwiseError(f"the Triton high-res kernel supports hr_width <= {MAX_HR_WIDTH} (got "
                                 f"{config.hr_width}); use --hr-backend torch")

    def _table(self, s: int, frequencies: int, device: torch.device) -> torch.Tensor:
        key = (s, frequencies, device)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = encoding_rows(s, device, frequencies)
        return table

    def __call__(self, config: ASAPNetConfig, params: torch.Tensor, *, label: torch.Tensor | None = None,
                 edge: torch.Tensor | None = None, pixels: torch.Tensor | None = None) -> torch.Tensor:
        """The high-res stream's image (B, output_nc, H, W) from ``params`` (B, P, H/S, W/S) and either ``label``
        ids (B, 1, H, W, dontcare already mapped; ``edge`` (B, 1, H, W) when the MLP sees the edge) or dense
        ``pixels`` (B, C_pix, H, W): the same function as the model's fast and reference paths."""
        if not (params.is_cuda or interpreting()):
            raise PixelwiseError("the Triton high-res kernel needs a CUDA tensor (or TRITON_INTERPRET=1); "
                                 "use --hr-backend torch on this device")
        s = config.downsampling
        b, p, gh, gw = params.shape
        chans = config.mlp_channels
        hid, out_nc, n_enc = config.hr_width, config.output_nc, 4 * config.num_frequencies
        edge_row = bool(config.instance_edge and not config.lr_instance)
        if label is not None:
            src, c_pix = label, config.hr_pixel_channels
            onehot_rows = c_pix - int(edge_row)
            if edge_row and edge is None:
                raise ValueError("this ASAP-Net feeds the instance edge map to the per-pixel MLP; pass edge")
        else:
            assert pixels is not None
            src, c_pix, onehot_rows, edge_row = pixels, pixels.shape[1], 0, False
        assert chans[0] == c_pix + n_enc and p == config.params_per_cell, (chans, c_pix, p)
        height, width = gh * s, gw * s
        out = torch.empty(b, out_nc, height, width, device=params.device, dtype=params.dtype)
        e = edge if (edge_row and edge is not None) else params
        e_strides = (e.stride(0), e.stride(2), e.stride(3)) if e is edge else (0, 0, 0)
        hp = _pow2(hid)
        block = self.block_pixels or (128 if hp <= 64 else 64)
        block = min(block, _pow2(s * s))
        fp32 = params.dtype == torch.float32
        options = {}
        if self.num_warps is not None:
            options["num_warps"] = self.num_warps
        if self.num_stages is not None:
            options["num_stages"] = self.num_stages
        grid = (b * gh * gw, triton.cdiv(s * s, block))
        _asapnet_hr_kernel[grid](
            params, *params.stride(),
            src, *src.stride(),
            e, *e_strides,
            self._table(s, config.num_frequencies, params.device),
            out, *out.stride(),
            gh, gw,
            S=s, C_PIX=c_pix, CP=_pow2(c_pix), ONEHOT_ROWS=onehot_rows, EDGE_ROW=edge_row,
            LABELS=label is not None, N_ENC=n_enc, KP=_pow2(n_enc), HID=hid, HP=hp, DEPTH=config.hr_depth,
            OUT_NC=out_nc, OP=_pow2(out_nc), BLOCK_T=block, FP32=fp32,
            IEEE=not (fp32 and torch.backends.cuda.matmul.allow_tf32), EMULATE=interpreting() and not fp32,
            **options,
        )
        return out
