"""pixelwise study: the four-model comparison (training, per-epoch metrics, runtime) -> one report folder."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("preset", help="study preset (demo: bundled photos, CPU minutes; seed: the report's "
                                       "full-size setup on Cityscapes + sharp photos) or a study YAML file "
                                       "(e.g. a previous OUT/study.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="dotted overrides, e.g. epochs=5 labels.data.root=/data/cityscapes "
                             "deblur.data.root=/data/sharp eval.fid=false")
    parser.add_argument("--out", default=None, help="report folder (default: runs/study-<preset>)")
    parser.add_argument("--report-only", action="store_true",
                        help="re-render tables, plots and index.html from OUT/results.json without training")


def run(args: argparse.Namespace) -> int:
    from pixelwise.extras import require_extra

    require_extra("train", "pixelwise study")
    from pathlib import Path

    from pixelwise.study.config import default_out_dir
    from pixelwise.study.runner import print_summary, rerender_report, run_study_preset

    out = Path(args.out) if args.out else default_out_dir(args.preset)
    if args.report_only:
        output = rerender_report(out)
    else:
        output = run_study_preset(args.preset, out, args.overrides)
    print_summary(output)
    return 0
