"""pixelwise deblur: deblur your own photos with a shipped (or any photo -> photo) model; PNGs (or --format) out."""

from __future__ import annotations

import argparse

from pixelwise.commands.runtime_args import add_runtime_args

EPILOG = """\
Without --model the deblurrer shipped inside the package is used (pixelwise models lists the shipped ones).
--model takes a model dir (config.json + model.safetensors), a checkpoint dir, a run dir, pixelwise/<name>
or a Hugging Face Hub repo id org/name. Photos of any size are padded to the model's size multiple and
cropped back; --tile N processes N x N tiles overlapping by --tile-overlap pixels (see pixelwise infer --help).

Photos come out as users have them: upright (EXIF orientation applied, the tag reset), alpha kept unchanged,
16-bit PNG/TIFF kept at 16 bits (in png or same), grayscale as grayscale, ICC profile and EXIF carried over.
No input is ever overwritten: an output that would replace an input is refused before any work (--output may
be the inputs' folder with a --suffix). Outputs that exist are skipped, so a stopped run resumes; --overwrite
redoes them.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pixelwise.commands.outputs import add_output_arguments
    from pixelwise.deblur import DEFAULT_DEBLUR_MODEL

    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("inputs", nargs="+", metavar="PHOTO", help="photo files, folders or glob patterns")
    parser.add_argument("--output", "-o", required=True,
                        help="folder for the deblurred photos (same stems as the inputs, + --suffix)")
    parser.add_argument("--model", default=None, metavar="NAME|DIR",
                        help=f"deblurring model (default: the shipped {DEFAULT_DEBLUR_MODEL})")
    parser.add_argument("--scale", type=float, default=1.0, metavar="S",
                        help="run the model on the photo downscaled by S (0 < S <= 1) and add its correction back "
                             "at full size: for shake longer than the model's training paths, e.g. a phone photo "
                             "(default 1: full size; see the docs' Deblurring page)")
    parser.add_argument("--tile", type=int, default=None, metavar="N", help="tile size in pixels")
    parser.add_argument("--tile-overlap", type=int, default=64, metavar="M", help="tile overlap in pixels (64)")
    add_runtime_args(parser, backend=True)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pixelwise.commands.outputs import output_options, report
    from pixelwise.commands.runtime_args import backend_log
    from pixelwise.deblur import deblur_files

    written = deblur_files(args.inputs, args.output, model=args.model, tile=args.tile, overlap=args.tile_overlap,
                           device=args.device, dtype=args.dtype, progress=not args.quiet, scale=args.scale,
                           backend=args.backend, report=backend_log("deblur"),
                           **output_options(args))
    report(written, args.output, "deblurred image(s)")
    return 0
