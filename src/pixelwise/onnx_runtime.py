"""ONNX Runtime as the inference backend of photo models on the CPU (``pixelwise deblur`` / ``infer --backend``).

``torch`` (the default) runs the PyTorch module. ``onnxruntime`` runs the same model as an ONNX graph in an
onnxruntime CPU session: the model is exported once with :func:`pixelwise.export.export_onnx` (dynamic batch,
height and width; parity with PyTorch checked at two sizes, <= 1e-4) and the ``.onnx`` is cached, keyed by a
hash of the weights, the config and the export settings (:func:`graph_key`), so changed weights never reuse a
stale graph. The cache lies beside the model (``<model dir>/model.<key>.onnx``) when that folder is the user's
own and writable, else in ``$PIXELWISE_CACHE/onnx`` (default ``~/.cache/pixelwise/onnx``, or under
``$XDG_CACHE_HOME``): never inside the installed package or the Hugging Face cache. Writes are atomic: the graph
is exported and verified in a temporary folder beside its destination, then renamed into place.

The backend replaces only the model's ``forward`` (on a shallow copy, :func:`with_onnxruntime`): padding to
the size multiple, tiling, ``--scale``, the size and memory checks and the photo I/O stay those of
:mod:`pixelwise.inference`, so onnxruntime sees exactly the tensors PyTorch would. The export happens on the
first forward (after every input was checked). Threads: ``intra_op_num_threads`` is ``threads`` or PyTorch's
thread count (``--threads``).

``auto`` picks onnxruntime where this package measured it faster (``benchmarks/onnxruntime_vs_torch.py``, see
docs/speed.md): the DeblurGAN generator (``resnet`` and ``unet`` bodies), on the CPU, in float32, when the
``[export]`` extra is installed; everything else (DeblurGAN-ASAP, which ran 0.9x, and label-map models) keeps
torch. :func:`apply_backend` says in one line which backend runs and why.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.extras import MissingExtraError, install_hint, missing_modules

BACKENDS = ("torch", "onnxruntime", "auto")
DEFAULT_BACKEND = "torch"
CACHE_FORMAT = 1  # bump when the same model would export to a different graph (the key changes with it)
Report = Callable[[str], None]
# peak memory of an onnxruntime forward over PyTorch's (pixelwise.limits): deblurgan-small on a 4000x3000 photo,
# untiled, grew past 15 GB RSS in onnxruntime (OOM-killed on a 24 GB machine) where torch's own estimate is about
# 7.5 GB (+0.58 GB measured at 720x1280); its CPU arena extends in doubling chunks
MEMORY_FACTOR = 2.0


# --- which backend -----------------------------------------------------------------------------------------
def check_backend(backend: str) -> None:
    """One line, before any work, for an unknown backend name or ``onnxruntime`` without the ``[export]`` extra
    (onnxruntime runs the graph; onnx and onnxscript export it)."""
    if backend not in BACKENDS:
        raise PixelwiseError(f"--backend {backend!r}: use {', '.join(BACKENDS)}")
    missing = missing_modules("export")
    if backend == "onnxruntime" and missing:
        raise MissingExtraError(f"--backend onnxruntime needs the optional packages {', '.join(missing)} (the "
                                f"'export' extra): {install_hint('export')}, or use --backend torch")


def onnxruntime_wins(model: nn.Module) -> bool:
    """True for the models this package measured faster with onnxruntime than with PyTorch on the CPU: the
    DeblurGAN generator (resnet and unet bodies; 2.0x for ``pixelwise/deblurgan-small`` at 720x1280, one thread).
    DeblurGAN-ASAP ran 0.9x and stays on torch."""
    from pixelwise.models.deblurgan import ResnetGenerator

    return isinstance(model, ResnetGenerator)


def _model_name(model: nn.Module) -> str:
    return str(getattr(model, "registry_name", None) or type(model).__name__)


def choose_backend(model: nn.Module, backend: str = DEFAULT_BACKEND, device: str | torch.device | None = None,
                   dtype: str | torch.dtype | None = None, torch_only: str | None = None
                   ) -> tuple[Literal["torch", "onnxruntime"], str]:
    """(backend that runs ``model``, why). ``onnxruntime`` asked for but impossible (a label-map model, a GPU
    device given explicitly, a dtype other than float32, or ``torch_only``: a torch-only option such as
    ``--compile``) is one line; ``auto`` falls back to torch with the reason."""
    from pixelwise.models.base import input_spec
    from pixelwise.runtime import resolve_device, resolve_dtype

    check_backend(backend)
    if backend == "torch":
        return "torch", "--backend torch"
    asked = backend == "onnxruntime"
    target = resolve_device(device)
    blockers = []
    if input_spec(model).kind != "photo":
        blockers.append(f"{_model_name(model)} turns label maps into photos; onnxruntime runs photo models only")
    if target.type != "cpu" and (asked is False or str(device) not in ("auto", "None")):
        blockers.append(f"onnxruntime runs on the CPU, not {target} (give --device cpu)")
    compute = resolve_dtype(dtype) or next((p.dtype for p in model.parameters()), torch.float32)
    if compute != torch.float32:
        blockers.append(f"onnxruntime runs float32, not {str(compute).removeprefix('torch.')} (give --dtype float32)")
    if torch_only:
        blockers.append(f"{torch_only} applies to the torch backend")
    if asked:
        if blockers:
            raise PixelwiseError(f"--backend onnxruntime: {blockers[0]}; or use --backend torch")
        return "onnxruntime", "--backend onnxruntime"
    if blockers:
        return "torch", f"--backend auto: {blockers[0]}"
    if not onnxruntime_wins(model):
        return "torch", (f"--backend auto: onnxruntime was not measured faster for {_model_name(model)} "
                         f"(only for DeblurGAN generators)")
    missing = missing_modules("export")
    if missing:
        return "torch", f"--backend auto: onnxruntime is not installed ({install_hint('export')})"
    return "onnxruntime", f"--backend auto: onnxruntime measured faster for {_model_name(model)} on the CPU"


# --- the cached graph --------------------------------------------------------------------------------------
def graph_key(model: nn.Module) -> str:
    """16 hex digits of SHA-256 over the model's registry name and config, every weight and buffer (name,
    dtype, shape, bytes) and the export settings (opset, input kind, torch version, :data:`CACHE_FORMAT`)."""
    from pixelwise.export import OPSET

    config = getattr(model, "config", None)
    record = {
        "model": _model_name(model),
        "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else repr(config),
        "execution": repr(getattr(model, "execution", None)),
        "export": {"opset": OPSET, "input": "dense", "torch": torch.__version__, "format": CACHE_FORMAT},
    }
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def user_cache_dir() -> Path:
    """``$PIXELWISE_CACHE/onnx`` (default ``~/.cache/pixelwise/onnx``, under ``$XDG_CACHE_HOME`` when set)."""
    from pixelwise.data.bundled import cache_dir

    return cache_dir() / "onnx"


def model_folder(source: str | Path | None) -> Path | None:
    """The user's own local folder that holds the weights of ``source`` (a model, checkpoint or run dir); None
    for a shipped model (``pixelwise/<name>``: package data), a Hub repo id (the Hugging Face cache) or none."""
    from pixelwise import hub

    if source is None or not Path(source).exists():
        return None
    from pixelwise.models.io import resolve_generator

    folder = resolve_generator(source)[0].resolve()
    if folder.is_relative_to(hub.PACKAGED_ROOT) or any(p.startswith("models--") for p in folder.parts):
        return None
    return folder


def graph_path(model: nn.Module, folder: str | Path | None = None) -> Path:
    """Where the cached graph of ``model`` lies: ``folder/model.<key>.onnx`` when ``folder`` (the model's own
    folder, :func:`model_folder`) is writable, else ``<user cache>/<model name>-<key>.onnx``."""
    key = graph_key(model)
    if folder is not None and os.access(folder, os.W_OK | os.X_OK):
        return Path(folder) / f"model.{key}.onnx"
    return user_cache_dir() / f"{_model_name(model)}-{key}.onnx"


def cached_onnx(model: nn.Module, folder: str | Path | None = None, report: Report | None = None, *,
                path: Path | None = None) -> Path:
    """The verified ONNX graph of ``model``, exported once to ``path`` (default :func:`graph_path`; an existing
    file is reused as it is). Exported and checked in a temporary folder beside the destination, then renamed
    into place; when the model's folder cannot be written after all, the user cache is used."""
    path = path or graph_path(model, folder)
    if path.is_file():
        return path
    from pixelwise.fileio import OutputError

    try:
        return _export_into(model, path, report)
    except OutputError:
        if path.parent == user_cache_dir():
            raise
        return cached_onnx(model, None, report)


def _export_into(model: nn.Module, path: Path, report: Report | None) -> Path:
    from pixelwise.export import export_onnx
    from pixelwise.fileio import make_temp_dir

    tmp = make_temp_dir(path.parent, f".{path.stem}.export-")
    parity: list[str] = []
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), torch.inference_mode(False):
            warnings.simplefilter("ignore")  # the exporter's notes on dynamic axes are not the user's business
            exported = export_onnx(model, tmp / path.name, input_kind="dense", report=parity.append)
        os.replace(exported, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if report:
        detail = parity[0].removeprefix("onnxruntime parity: ") if parity else "parity checked"
        report(f"onnxruntime: exported {_model_name(model)} once in {time.perf_counter() - start:.1f} s to "
               f"{path} ({detail})")
    return path


# --- running it --------------------------------------------------------------------------------------------
class OnnxRuntimeForward:
    """A model's ``forward`` run by an onnxruntime CPU session on its cached graph: float32 (B, C, H, W) in,
    float32 out; the graph is exported (or found in the cache) and the session opened on the first call."""

    def __init__(self, model: nn.Module, folder: str | Path | None = None, threads: int | None = None,
                 report: Report | None = None) -> None:
        self.model, self.folder, self.threads, self.report = model, folder, threads, report
        self.path = graph_path(model, folder)  # the key is taken now, from the weights being run
        self.session: Any = None

    def open(self) -> Any:
        """Export (or reuse) the graph and open the session (once)."""
        if self.session is None:
            import onnxruntime as ort

            self.path = cached_onnx(self.model, self.folder, self.report, path=self.path)
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads or torch.get_num_threads()
            options.inter_op_num_threads = 1
            options.log_severity_level = 3  # errors only: no notes on the graph's initializers
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        return self.session

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        session = self.open()
        feed = {session.get_inputs()[0].name: x.detach().to("cpu", torch.float32).contiguous().numpy()}
        return torch.from_numpy(session.run(None, feed)[0])


def with_onnxruntime(model: nn.Module, folder: str | Path | None = None, threads: int | None = None,
                     report: Report | None = None) -> nn.Module:
    """A shallow copy of the photo model ``model`` (same weights, config and checks) whose forward runs in
    onnxruntime (:class:`OnnxRuntimeForward`); ``model`` itself is left as it is. ``folder``: the model's own
    folder, where the graph is cached when writable (:func:`graph_path`)."""
    check_backend("onnxruntime")
    runner = copy.copy(model)
    runner.forward = OnnxRuntimeForward(model, folder, threads, report)
    runner.memory_factor = MEMORY_FACTOR  # pixelwise.limits.check_memory: refuse (and suggest --tile) up front
    return runner


def apply_backend(model: nn.Module, backend: str = DEFAULT_BACKEND, *, source: str | Path | None = None,
                  device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
                  threads: int | None = None, torch_only: str | None = None, report: Report | None = None
                  ) -> tuple[nn.Module, str | torch.device | None]:
    """``model`` for ``backend`` (:func:`choose_backend`) and the device to prepare it for: the model itself and
    ``device`` for torch, :func:`with_onnxruntime` and ``"cpu"`` for onnxruntime. ``source``: where the model was
    loaded from (its folder caches the graph, :func:`model_folder`). ``report`` gets one line saying which
    backend runs and why (only when ``backend`` is not the default)."""
    chosen, why = choose_backend(model, backend, device, dtype, torch_only)
    if chosen == "torch":
        if report and backend != DEFAULT_BACKEND:
            report(f"backend: torch ({why})")
        return model, device
    runner = with_onnxruntime(model, model_folder(source), threads, report)
    if report:
        forward = runner.forward
        assert isinstance(forward, OnnxRuntimeForward)
        state = "cached" if forward.path.is_file() else "exported on first use"
        report(f"backend: onnxruntime ({why}; {threads or torch.get_num_threads()} thread(s); graph "
               f"{forward.path}, {state})")
    return runner, "cpu"


__all__ = ["BACKENDS", "DEFAULT_BACKEND", "OnnxRuntimeForward", "apply_backend", "cached_onnx", "check_backend",
           "choose_backend", "graph_key", "graph_path", "model_folder", "onnxruntime_wins", "user_cache_dir",
           "with_onnxruntime"]
