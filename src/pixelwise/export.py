"""ONNX export with dynamic batch, height and width (``pixelwise export``).

The graph comes from ``torch.onnx.export(..., dynamo=True)`` (torch.export, then ONNX opset 18). The legacy
TorchScript exporter cannot be used: it fails on ASAP-Net's reflection padding with symbolic sizes. Height
and width are exported as ``multiple * k`` (the model's size multiple), so every reshape of ASAP-Net's
fast path (cells of S x S pixels) stays symbolic; callers pad inputs to the multiple as ``pixelwise infer``
does.

Inputs of the exported graph:
- label models (``input_kind="labels"``, the default for them): ``label`` int64 (B, 1, H, W) ids and, when
  the model uses instance edges, ``instance`` int64 (B, 1, H, W) ids. The one-hot and edge maps are built in
  the graph; for ASAP-Net this is the fast label path (no full-resolution one-hot). Ids are not range-checked
  in the graph: out-of-range ids make onnxruntime fail.
- everything else, or ``input_kind="dense"``: ``input`` float32 (B, C, H, W), the tensor ``forward`` takes.
Output: ``image`` float32 (B, 3, H, W) in [-1, 1].
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.extras import require
from pixelwise.input_kind import InputKind
from pixelwise.ops import random_label_maps, semantic_input

OPSET = 18
TOLERANCE = 1e-4  # max |onnxruntime - PyTorch| accepted by the export check


class _LabelInput(nn.Module):
    """Integer label (+ instance) maps -> the generator's output, with input building inside the graph."""

    def __init__(self, model: nn.Module, label_channels: int, instance_edge: bool, fast: bool) -> None:
        super().__init__()
        self.model, self.label_channels, self.instance_edge, self.fast = model, label_channels, instance_edge, fast

    def forward(self, label: torch.Tensor, instance: torch.Tensor | None = None) -> torch.Tensor:
        if self.fast:
            return self.model.forward_labels(label, instance)
        return self.model(semantic_input(label, self.label_channels, instance if self.instance_edge else None))


def _wrap(model: nn.Module, kind: str) -> nn.Module:
    """The module whose forward is the exported graph: ``model`` itself, or its label-map wrapper."""
    if kind != "labels":
        return model
    from pixelwise.models.base import input_spec

    spec = input_spec(model)
    return _LabelInput(model, spec.label_channels, spec.instance_edge, spec.label_fast_path)


def example_inputs(model: nn.Module, input_kind: str, height: int, width: int, batch: int = 1,
                   seed: int = 0) -> dict[str, torch.Tensor]:
    """Random inputs of the exported graph's signature (names -> tensors) at ``height`` x ``width``."""
    from pixelwise.models.base import input_spec

    spec = input_spec(model)
    g = torch.Generator().manual_seed(seed)
    if input_kind == "labels":
        label, instance = random_label_maps(height, width, spec.label_channels, batch, block=4, generator=g)
        return {"label": label, "instance": instance} if spec.instance_edge else {"label": label}
    if not spec.channels:
        raise PixelwiseError(f"cannot tell how many input channels {type(model).__name__} takes")
    return {"input": torch.rand(batch, spec.channels, height, width, generator=g) * 2 - 1}


def resolve_input_kind(model: nn.Module, input_kind: str = "auto") -> Literal["labels", "dense"]:
    """The graph's input: ``labels`` (integer ids, the fast label path: label models of
    :attr:`pixelwise.input_kind.InputKind.LABELS` only) or ``dense`` (the tensor ``forward`` takes; every model)."""
    from pixelwise.models.base import input_spec

    if input_kind not in ("auto", "labels", "dense"):
        raise PixelwiseError(f"--input {input_kind!r}: use auto, labels or dense")
    kind = input_spec(model).kind
    if input_kind == "labels" and kind is not InputKind.LABELS:
        raise PixelwiseError(f"{type(model).__name__} translates photos; it has no label-map input")
    if input_kind == "auto":
        return "labels" if kind is InputKind.LABELS else "dense"
    return input_kind  # type: ignore[return-value]


def export_onnx(model: nn.Module | str | Path, output: str | Path, *, input_kind: str = "auto",
                opset: int = OPSET, verify: bool = True, verbose: bool = False,
                report: Callable[[str], None] | None = None) -> Path:
    """Export a generator (a module, or a model / checkpoint / run dir) to ONNX at ``output`` (atomic write)
    with dynamic batch, height and width. ``verify``: run the file with onnxruntime at two sizes (neither the
    tracing size) and require max |onnx - torch| <= 1e-4 (:func:`verify_onnx`), or, for a model so badly
    conditioned that float32 rounding alone moves it more, at most twice that rounding error
    (:func:`float32_error`)."""
    from torch.export import Dim

    from pixelwise.fileio import atomic_write
    from pixelwise.models.base import input_spec

    require("onnxscript", "export", "ONNX export")
    require("onnx", "export", "ONNX export")

    if not isinstance(model, nn.Module):
        from pixelwise.models.io import load_generator

        model = load_generator(model)
    model = model.float().eval().cpu()
    kind = resolve_input_kind(model, input_kind)
    m = input_spec(model).multiple
    inputs = example_inputs(model, kind, 2 * m, 3 * m, batch=2)
    wrapper = _wrap(model, kind)
    batch = Dim("batch", min=1, max=1024)
    rows, cols = Dim("rows", min=1, max=65536 // m), Dim("cols", min=1, max=65536 // m)
    axes = {0: batch, 2: rows * m, 3: cols * m} if m > 1 else {0: batch, 2: rows, 3: cols}
    names = list(inputs)
    dynamic = tuple(axes for _ in names)  # positional: the wrapped forward's argument names differ
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), torch.no_grad():
            program = torch.onnx.export(wrapper, tuple(inputs.values()), dynamo=True, dynamic_shapes=dynamic,
                                        input_names=names, output_names=["image"], opset_version=opset,
                                        verbose=verbose)
    except Exception as exc:  # the exporter raises many types; the log says which op failed
        raise PixelwiseError(f"ONNX export of {type(model).__name__} failed: {exc}\n{log.getvalue()[-2000:]}") from exc
    if program is None:
        raise PixelwiseError("torch.onnx.export returned no program")
    output = Path(output)
    atomic_write(output, lambda tmp: program.save(str(tmp)))
    if verify:
        sizes = [(3 * m, 2 * m), (4 * m, 5 * m)]
        worst = max(verify_onnx(model, output, sizes, input_kind=kind, batch=2))
        if worst > TOLERANCE:
            # A badly conditioned model (e.g. random full-size weights) moves by more than 1e-4 under any change
            # of float32 summation order; then ONNX must stay within twice PyTorch's own float32 error.
            noise = max(float32_error(model, sizes, input_kind=kind, batch=2))
            if worst > 2 * noise:
                raise PixelwiseError(
                    f"{output}: onnxruntime differs from PyTorch by {worst:.2e} (> {TOLERANCE:g}, and > twice "
                    f"PyTorch's own float32-vs-float64 error {noise:.2e}); the export is wrong"
                )
            if report:
                report(f"onnxruntime parity: max |onnx - torch| = {worst:.2e} at {sizes[0][0]}x{sizes[0][1]} and "
                       f"{sizes[1][0]}x{sizes[1][1]}, within twice PyTorch's own float32 error {noise:.2e} "
                       f"(above the {TOLERANCE:g} tolerance: a badly conditioned model)")
        elif report:
            report(f"onnxruntime parity: max |onnx - torch| = {worst:.2e} at {sizes[0][0]}x{sizes[0][1]} and "
                   f"{sizes[1][0]}x{sizes[1][1]} (tolerance {TOLERANCE:g}): ok")
    elif report:
        report("onnxruntime parity check skipped (--no-verify)")
    return output


def float32_error(model: nn.Module, sizes: Sequence[tuple[int, int]], input_kind: str = "auto",
                  batch: int = 1) -> list[float]:
    """max |float32 - float64| of the PyTorch model on :func:`verify_onnx`'s inputs: its rounding noise."""
    import copy

    kind = resolve_input_kind(model, input_kind)
    wrappers = [_wrap(model, kind), _wrap(copy.deepcopy(model).double(), kind)]
    errors = []
    for i, (height, width) in enumerate(sizes):
        inputs = example_inputs(model, kind, height, width, batch=batch, seed=100 + i)
        with torch.no_grad():
            single = wrappers[0](*inputs.values())
            double = wrappers[1](*(v.double() if v.is_floating_point() else v for v in inputs.values()))
        errors.append(float((single.double() - double).abs().max()))
    return errors


def verify_onnx(model: nn.Module, path: str | Path, sizes: Sequence[tuple[int, int]], input_kind: str = "auto",
                batch: int = 1) -> list[float]:
    """max |onnxruntime - PyTorch| of the exported file at each (H, W) in ``sizes`` (random inputs)."""
    require("onnxruntime", "export", "checking the ONNX file")
    import onnxruntime as ort

    kind = resolve_input_kind(model, input_kind)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wrapper = _wrap(model, kind)
    diffs = []
    for i, (height, width) in enumerate(sizes):
        inputs = example_inputs(model, kind, height, width, batch=batch, seed=100 + i)
        with torch.no_grad():
            expected = wrapper(*inputs.values()).float()
        got = session.run(["image"], {k: v.numpy() for k, v in inputs.items()})[0]
        diffs.append(float((torch.from_numpy(got) - expected).abs().max()))
    return diffs


__all__ = ["OPSET", "TOLERANCE", "example_inputs", "export_onnx", "float32_error", "resolve_input_kind", "verify_onnx"]
