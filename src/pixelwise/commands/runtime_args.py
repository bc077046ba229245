"""``--device``, ``--dtype`` and ``--threads``: the one definition of the runtime flags, with the same names, defaults
and help in every command that runs a model (infer, deblur, eval, bench, app). :func:`pixelwise.cli.main` applies
``--threads`` before a command runs; ``--device``/``--dtype`` go to the library, which resolves them
(:mod:`pixelwise.runtime`)."""

from __future__ import annotations

import argparse

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


def add_runtime_args(parser: argparse.ArgumentParser, dtype: bool = True) -> None:
    """Add ``--device`` (default auto), ``--dtype`` (default float32; ``dtype=False`` for a command that always
    computes in float32) and ``--threads`` (default: PyTorch's)."""
    group = parser.add_argument_group("runtime")
    group.add_argument("--device", default="auto", help="auto (default: CUDA when available, else CPU), cpu, cuda or "
                                                        "cuda:N")
    if dtype:
        group.add_argument("--dtype", type=_dtype, choices=DTYPE_NAMES, default="float32",
                           help="compute dtype: float32 (default), bfloat16 or float16 (also fp32/bf16/fp16); half "
                                "precision is faster on GPUs and gives slightly different output")
    group.add_argument("--threads", type=_threads, default=None, metavar="N",
                       help="CPU threads PyTorch uses (default: PyTorch's choice, one per core)")


def apply_runtime_args(args: argparse.Namespace) -> None:
    """Apply ``--threads`` (when the command has it and it was given)."""
    threads = getattr(args, "threads", None)
    if threads:
        import torch

        torch.set_num_threads(threads)


__all__ = ["DTYPE_NAMES", "add_runtime_args", "apply_runtime_args"]
