"""Execution options for ASAP-Net's low-res stream that do not change its function: channels_last, CUDA graphs
and ``torch.compile``. Set on a model in place by :func:`configure_lowres`; the state_dict is untouched (only the
stream's bound ``forward`` is wrapped)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from pixelwise.errors import PixelwiseError


def _dispatch_mode_active() -> bool:
    """True inside a TorchDispatchMode (e.g. FlopCounterMode): run eagerly so the mode sees every op once."""
    from torch.utils import _python_dispatch

    current = getattr(_python_dispatch, "_get_current_dispatch_mode", None)
    return current is not None and current() is not None


class CUDAGraphed:
    """Replays a CUDA graph of ``fn`` per (shape, dtype, strides, device) of its one tensor argument, for
    inference (no gradient). Anything else (grad enabled, tracing, CPU tensors) runs ``fn`` eagerly. Returns a
    copy of the graph's output, so results of earlier calls are never overwritten."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], warmup: int = 2) -> None:
        self.fn, self.warmup = fn, warmup
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if (not x.is_cuda or torch.is_grad_enabled() or torch.jit.is_tracing()
                or torch.compiler.is_compiling() or _dispatch_mode_active()):
            return self.fn(x)
        key = (tuple(x.shape), x.dtype, x.stride(), x.device)
        entry = self._graphs.get(key)
        if entry is None:
            static_in = x.clone()
            stream = torch.cuda.Stream(x.device)
            stream.wait_stream(torch.cuda.current_stream(x.device))
            with torch.cuda.stream(stream):
                for _ in range(self.warmup):  # cudnn autotuning and allocations happen outside the capture
                    self.fn(static_in)
            torch.cuda.current_stream(x.device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self.fn(static_in)
            entry = self._graphs[key] = (graph, static_in, static_out)
        graph, static_in, static_out = entry
        static_in.copy_(x)
        graph.replay()
        return static_out.clone()


def configure_lowres(model: nn.Module, channels_last: bool | None = None, cuda_graphs: bool = False,
                     compile: bool = False, device: str | torch.device | None = None) -> dict[str, bool]:
    """Set the low-res stream options of every ASAP-Net generator in ``model``; returns what was set.

    ``channels_last``: run the stream in channels_last (None: leave the model's setting). ``cuda_graphs``: replay
    one CUDA graph per input shape (CUDA only; an error elsewhere). ``compile``: ``torch.compile`` the stream
    (with ``cuda_graphs`` too: mode "reduce-overhead", which captures CUDA graphs itself)."""
    from pixelwise.models.asapnet import ASAPNetGenerator, set_execution

    generators = [m for m in model.modules() if isinstance(m, ASAPNetGenerator)]
    target = torch.device(device) if device is not None else next(model.parameters()).device
    if cuda_graphs and target.type != "cuda":
        raise PixelwiseError(f"CUDA graphs for the low-res stream need a CUDA device, not {target.type}; "
                             "drop --lowres-cuda-graphs")
    for g in generators:
        stream = g.lowres_stream
        if channels_last is not None:
            set_execution(g, lowres_channels_last=channels_last)
            stream.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        forward = type(stream).forward.__get__(stream)  # the plain method, whatever was set before
        if compile:
            forward = torch.compile(forward, mode="reduce-overhead" if cuda_graphs else None)
        elif cuda_graphs:
            forward = CUDAGraphed(forward)
        if compile or cuda_graphs:
            stream.forward = forward
        else:
            stream.__dict__.pop("forward", None)
    return {"lowres_channels_last": bool(generators and generators[0].lowres_channels_last),
            "lowres_cuda_graphs": cuda_graphs, "lowres_compile": compile}
