"""``--device``, ``--dtype``, ``--threads`` (and ``--backend``): the one definition of the runtime flags, with the
same names, defaults and help in every command that runs a model (infer, deblur, eval, bench, app).
:func:`pixelwise.cli.main` applies ``--threads`` before a command runs; ``--device``/``--dtype``/``--backend`` go
to the library, which resolves them (:mod:`pixelwise.runtime`, :mod:`pixelwise.onnx_runtime`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

DTYPE_NAMES = ("float32", "bfloat16", "float16")  # pixelwise.runtime.DTYPES; fp32/bf16/fp16 are accepted as aliases


def _dtype(text: str) -> str:
    from pixelwise.runtime import canonical_dtype

    return canonical_dtype(text)


def _threads(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of threads") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: use 1 or more threads")
    return value


BACKEND_NAMES = ("torch", "onnxruntime", "auto")  # pixelwise.onnx_runtime.BACKENDS (checked by a test)
BACKEND_HELP = (
    "torch (default): PyTorch. onnxruntime: photo models on the CPU in float32 through ONNX Runtime (pip install "
    "\"pixelwise[export]\"); the model is exported once and the .onnx cached beside it, or in "
    "~/.cache/pixelwise/onnx, keyed by a hash of its weights. auto: onnxruntime where this package measured it "
    "faster (DeblurGAN models on the CPU, 2x; not DeblurGAN-ASAP) and it is installed, else torch. One line says "
    "which ran"
)


def add_runtime_args(parser: argparse.ArgumentParser, dtype: bool = True, backend: bool = False) -> None:
    """Add ``--device`` (default auto), ``--dtype`` (default float32; ``dtype=False`` for a command that always
    computes in float32), ``--threads`` (default: PyTorch's) and, with ``backend=True`` (photo inference:
    deblur, infer), ``--backend`` (default torch; :mod:`pixelwise.onnx_runtime`)."""
    group = parser.add_argument_group("runtime")
    if backend:
        group.add_argument("--backend", choices=BACKEND_NAMES, default="torch", help=BACKEND_HELP)
    group.add_argument("--device", default="auto", help="auto (default: CUDA when available, else CPU), cpu, cuda or "
                                                        "cuda:N")
    if dtype:
        group.add_argument("--dtype", type=_dtype, choices=DTYPE_NAMES, default="float32",
                           help="compute dtype: float32 (default), bfloat16 or float16 (also fp32/bf16/fp16); half "
                                "precision is faster on GPUs and gives slightly different output")
    group.add_argument("--threads", type=_threads, default=None, metavar="N",
                       help="CPU threads PyTorch (and onnxruntime) use (default: PyTorch's choice, one per core)")


def backend_log(command: str) -> Callable[[str], None]:
    """Where the library's backend line goes: stderr, above any progress bar."""

    def log(line: str) -> None:
        from tqdm import tqdm

        tqdm.write(f"pixelwise {command}: {line}", file=sys.stderr)

    return log


def apply_runtime_args(args: argparse.Namespace) -> None:
    """Apply ``--threads`` (when the command has it and it was given)."""
    threads = getattr(args, "threads", None)
    if threads:
        import torch

        torch.set_num_threads(threads)


__all__ = ["BACKEND_NAMES", "DTYPE_NAMES", "add_runtime_args", "apply_runtime_args", "backend_log"]
