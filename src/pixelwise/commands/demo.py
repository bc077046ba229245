"""pixelwise demo: the `demo` study on the bundled real photos, on CPU in minutes; prints both tables."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="report folder (default: runs/demo); "
                                                           "OUT/index.html is the report")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="dotted overrides of the demo study preset, e.g. epochs=2 device=cuda")


def run(args: argparse.Namespace) -> int:
    from pixelwise.extras import require_extra

    require_extra("train", "pixelwise demo")
    from pixelwise.study.runner import print_summary, run_study_preset

    output = run_study_preset("demo", args.out, args.overrides)
    print_summary(output)
    return 0
