"""pixelwise app: the browser demo (Gradio; install the ``[app]`` extra)."""

from __future__ import annotations

import argparse

from pixelwise.commands.runtime_args import add_runtime_args

EPILOG = """\
--model takes model dirs, checkpoint dirs, run dirs, a study folder (its runs/*, e.g. runs/demo), shipped models
(pixelwise/<name>, e.g. pixelwise/deblurgan-asap-small), training preset names (untrained, e.g. asapnet-tiny) or
registry names (untrained). Without --model the app opens runs/demo (what `pixelwise demo` writes) when it
exists in the current folder, else tiny untrained label models, labelled so. The deblurrers shipped with pixelwise
are always offered too; the Deblur tab preselects the first deblurrer named with --model, else the default of
`pixelwise deblur` (made for real photos; the demo's tiny deblurrers are not). Each model says where it comes
from (shipped / demo, trained N steps / untrained) and shows its card (parameters, budget, held-out gains).

Tabs: Paint a label map (brush + fill on the model's label palette; every stroke reruns ASAP-Net, and pix2pixHD
beside it when both are loaded; id-PNG upload), Deblur a photo (any size, tiled when large; optional synthetic
blur first; before/after; download), Models (params, GFLOPs at the shown size, timings, benchmark).
Requests run one at a time; up to --max-queue more wait (each page shows its place in the queue), more are
refused with a message. Result files are removed when their page is closed, or after an hour.
The server listens on 127.0.0.1 unless --host says otherwise.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--model", action="append", default=None, metavar="NAME|DIR",
                        help="a model to load (repeatable); see below")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    add_runtime_args(parser, dtype=False)
    parser.add_argument("--max-queue", type=int, default=None, metavar="N",
                        help="requests that may wait for the models at once (default 64); more are refused")
    parser.add_argument("--size", default=None, metavar="HxW",
                        help="paint canvas size (default: the label model's training size, else 256x512)")


def run(args: argparse.Namespace) -> int:
    from pixelwise.app import serve

    size = None
    if args.size:
        from pixelwise.app._library import parse_size

        size = parse_size(args.size)
    if args.max_queue is not None and args.max_queue < 1:
        from pixelwise.errors import PixelwiseError

        raise PixelwiseError(f"--max-queue {args.max_queue}: give at least 1")
    serve(args.model, host=args.host, port=args.port, device=args.device, size=size, max_queue=args.max_queue)
    return 0
