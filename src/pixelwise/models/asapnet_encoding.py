"""ASAP-Net's positional encoding: for f = S, S/2, ..., 2, cos/sin(2*pi*(x mod f)/f), then cos/sin of the same for
y (the official order), at full resolution or as the per-axis table the fast path uses."""

from __future__ import annotations

import math

import torch


def _frequencies(downsampling: int, frequencies: int | None) -> list[int]:
    """The encoding's periods f = S, S/2, ..., 2 (lowest frequency first), the first ``frequencies`` of them
    (None: all log2 S)."""
    periods = []
    f = downsampling
    while f >= 2:
        periods.append(f)
        f //= 2
    return periods if frequencies is None else periods[:frequencies]


def positional_encoding(height: int, width: int, downsampling: int, device: torch.device | str | None = None,
                        dtype: torch.dtype = torch.float32, frequencies: int | None = None) -> torch.Tensor:
    """The (4*log2 S, H, W) encoding: for f = S, S/2, ..., 2: cos/sin(2*pi*(x mod f)/f), cos/sin of y.
    ``frequencies`` k keeps the k lowest (f = S, ..., S/2^(k-1)): (4k, H, W); 0 gives (0, H, W)."""
    xs = torch.arange(width, dtype=torch.float32, device=device)
    ys = torch.arange(height, dtype=torch.float32, device=device)
    channels = []
    for f in _frequencies(downsampling, frequencies):
        ax = 2 * math.pi * torch.remainder(xs, f) / f
        ay = 2 * math.pi * torch.remainder(ys, f) / f
        for values, along_x in ((torch.cos(ax), True), (torch.sin(ax), True),
                                (torch.cos(ay), False), (torch.sin(ay), False)):
            if along_x:
                channels.append(values.view(1, width).expand(height, width))
            else:
                channels.append(values.view(height, 1).expand(height, width))
    if not channels:
        return torch.zeros(0, height, width, device=device, dtype=dtype)
    return torch.stack(channels).to(dtype)


def positional_encoding_1d(downsampling: int, device: torch.device | str | None = None,
                           dtype: torch.dtype = torch.float32, frequencies: int | None = None) -> torch.Tensor:
    """(S, 2*log2 S) table: row t holds cos/sin(2*pi*(t mod f)/f) for f = S, S/2, ..., 2 (cos, sin per f);
    ``frequencies`` as in :func:`positional_encoding`.

    Since every f divides S, row ``x mod S`` of this table gives the x channels of
    :func:`positional_encoding` at column x, and row ``y mod S`` its y channels (same float32 expression)."""
    ts = torch.arange(downsampling, dtype=torch.float32, device=device)
    columns = []
    for f in _frequencies(downsampling, frequencies):
        angle = 2 * math.pi * torch.remainder(ts, f) / f
        columns += [torch.cos(angle), torch.sin(angle)]
    if not columns:
        return torch.zeros(downsampling, 0, device=device, dtype=dtype)
    return torch.stack(columns, dim=1).to(dtype)
