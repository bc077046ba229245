"""``pixelwise train CONFIG [key=value ...] --run-dir RUN [--resume auto|PATH]``."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="preset name (e.g. deblurgan-tiny, asapnet-cityscapes) or a YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="dotted overrides of the config, e.g. train.max_steps=4 data.root=/data/cityscapes")
    parser.add_argument("--run-dir", required=True, type=str,
                        help="run directory: config.yaml, metrics.jsonl, samples/, checkpoints/, tensorboard/")
    parser.add_argument("--resume", default=None, metavar="auto|PATH",
                        help="auto: continue from RUN's latest complete checkpoint if any; PATH: a checkpoint or "
                             "run dir. Without it, a run dir that already has checkpoints is refused")
    _accept_overrides_anywhere(parser)


def _accept_overrides_anywhere(parser: argparse.ArgumentParser) -> None:
    """argparse stops collecting positionals at the first option, so ``CONFIG --run-dir RUN a.b=1`` would
    leave ``a.b=1`` unrecognised; collect such ``key=value`` strings into the overrides wherever they are."""
    parse_known = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):  # argparse calls this on the subcommand parser
        parsed, extras = parse_known(args, namespace)
        late = [e for e in extras if "=" in e and not e.startswith("-")]
        parsed.overrides = list(parsed.overrides or []) + late
        return parsed, [e for e in extras if e not in late]

    parser.parse_known_args = parse_known_args


def run(args: argparse.Namespace) -> int:
    from pixelwise.train.config import load_run_config
    from pixelwise.train.loop import train

    config = load_run_config(args.config, args.overrides)
    summary = train(config, args.run_dir, resume=args.resume)
    if summary.checkpoint is not None:
        print(f"pixelwise train: {summary.step} steps ({summary.epoch} epochs) in {summary.elapsed_s:.1f}s; "
              f"checkpoint {summary.checkpoint}")
    return 0
