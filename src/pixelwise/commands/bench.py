"""``pixelwise bench``: inference time, memory, parameters and GFLOPs of the generators, batch 1."""

from __future__ import annotations

import argparse
from typing import Any

from pixelwise.commands.runtime_args import add_runtime_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default=None,
                        help="comma-separated registry names (default: asapnet, asapnet-reference if registered, "
                             "pix2pixhd, pix2pixhd-local, deblurgan, deblurgan-asap)")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated HEIGHTxWIDTH sizes for every model (default: 256x512,512x1024,"
                             "1024x2048 for label-map models and 720x1280 for deblurring models)")
    add_runtime_args(parser)
    parser.add_argument("--runs", type=int, default=10, help="timed calls per combination (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before timing")
    parser.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    parser.add_argument("--compile", action="store_true", help="torch.compile the timed call")
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend (default inductor)")
    parser.add_argument("--hr-backend", choices=("auto", "torch", "triton"), default="auto",
                        help="ASAP-Net high-res stream: torch (the model's path), triton (the fused kernel: CUDA "
                             "only, opt-in, not yet verified on a GPU) or auto (torch until the kernel is verified)")
    parser.add_argument("--lowres-channels-last", action="store_true",
                        help="ASAP-Net: run the low-res stream in channels_last")
    parser.add_argument("--lowres-cuda-graphs", action="store_true",
                        help="ASAP-Net: replay the low-res stream as a CUDA graph (CUDA only)")
    parser.add_argument("--lowres-compile", action="store_true", help="ASAP-Net: torch.compile the low-res stream")
    parser.add_argument("--label-input", choices=("dense", "ids"), default="dense",
                        help="dense: time the forward on the prepared one-hot input (default); ids: time from "
                             "integer label ids (forward_labels where a model has it)")
    parser.add_argument("--model-option", action="append", default=[], metavar="[MODEL.]KEY=VALUE",
                        help="architecture option for one model (pix2pixhd.ngf=32) or every model that has it "
                             "(ngf=32); repeatable")
    parser.add_argument("--tiny", action="store_true", help="narrow models for quick CPU checks")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the records as JSON")
    parser.add_argument("--markdown", default=None, metavar="FILE", help="also write the table as markdown")
    parser.add_argument("--quiet", action="store_true", help="no per-combination progress lines")


def parse_model_options(items: list[str], models: list[str]) -> dict[str, dict[str, Any]]:
    """``["pix2pixhd.ngf=32", "hr_width=16"]`` -> {"pix2pixhd": {"ngf": 32}, "*": {"hr_width": 16}}."""
    from pixelwise.config import parse_override
    from pixelwise.errors import PixelwiseError

    options: dict[str, dict[str, Any]] = {}
    for item in items:
        path, value = parse_override(item)
        if len(path) == 1:
            scope, key = "*", path[0]
        else:
            scope, key = ".".join(path[:-1]), path[-1]
            if scope not in models:
                raise PixelwiseError(f"--model-option {item!r}: {scope!r} is not among the models {models}")
        options.setdefault(scope, {})[key] = value
    return options


def run(args: argparse.Namespace) -> int:
    import sys

    from pixelwise.bench import default_models, format_markdown, parse_size, run_benchmark, write_json
    from pixelwise.errors import PixelwiseError
    from pixelwise.runtime import resolve_device

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else default_models()
    if not models:
        raise PixelwiseError("--models is empty; give registry names such as asapnet,pix2pixhd")
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()] if args.sizes else None
    device = resolve_device(args.device)
    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise PixelwiseError(f"--threads {args.threads}: give a positive number of threads")
        torch.set_num_threads(args.threads)

    def progress(record: dict[str, Any]) -> None:
        if args.quiet:
            return
        what = record["error"] or f"{record['median_ms']:.2f} ms"
        print(f"  {record['model']} {record['height']}x{record['width']} {record['dtype']}: {what}",
              file=sys.stderr, flush=True)

    records = run_benchmark(models, sizes, device=device, dtype=args.dtype, runs=args.runs, warmup=args.warmup,
                            channels_last=args.channels_last, compile=args.compile,
                            compile_backend=args.compile_backend,
                            model_options=parse_model_options(args.model_option, models), tiny=args.tiny,
                            label_input=args.label_input, hr_backend=args.hr_backend,
                            lowres={"channels_last": True if args.lowres_channels_last else None,
                                    "cuda_graphs": args.lowres_cuda_graphs, "compile": args.lowres_compile},
                            progress=progress)
    table = format_markdown(records)
    print(table, end="")
    if args.json:
        write_json(records, args.json)
    if args.markdown:
        from pixelwise.fileio import atomic_write_text

        atomic_write_text(args.markdown, table)
    return 0
