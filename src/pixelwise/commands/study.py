"""pixelwise study: the four-model comparison (training, per-epoch metrics, runtime) -> one report folder."""

from __future__ import annotations

import argparse


def accept_trailing_overrides(parser: argparse.ArgumentParser) -> None:
    """Let ``key=value`` overrides also follow options (``pixelwise study demo --out DIR epochs=2``): argparse
    stops filling a positional list once an option intervenes, so the leftovers that look like overrides are
    appended to ``args.overrides`` (in order) instead of being rejected."""
    plain = parser.parse_known_args

    def parse_known_args(args: list[str] | None = None, namespace: argparse.Namespace | None = None) -> tuple[
            argparse.Namespace, list[str]]:
        namespace, extras = plain(args, namespace)
        trailing = [a for a in extras if "=" in a and not a.startswith("-")]
        namespace.overrides = [*(getattr(namespace, "overrides", None) or []), *trailing]
        return namespace, [a for a in extras if not ("=" in a and not a.startswith("-"))]

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


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
    accept_trailing_overrides(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pixelwise.evaluate.study import default_out_dir, print_summary, rerender_report, run_study_preset

    out = Path(args.out) if args.out else default_out_dir(args.preset)
    if args.report_only:
        output = rerender_report(out)
    else:
        output = run_study_preset(args.preset, out, args.overrides)
    print_summary(output)
    return 0
