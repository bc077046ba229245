"""``pixelwise train CONFIG [key=value ...] --run-dir RUN [--resume auto|PATH]``."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pixelwise.config import list_presets

    parser.add_argument("config", help="preset name (<model>-<data>-<size>: " + ", ".join(list_presets())
                        + "; old names still work) or a YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="dotted overrides of the config, e.g. train.max_steps=4 data.root=/data/cityscapes")
    parser.add_argument("--run-dir", required=True, type=str,
                        help="run directory: config.yaml, metrics.jsonl, samples/, checkpoints/, tensorboard/")
    parser.add_argument("--resume", default=None, metavar="auto|PATH",
                        help="auto: continue from RUN's latest complete checkpoint if any; PATH: a checkpoint or "
                             "run dir. Without it, a run dir that already has checkpoints is refused")


def run(args: argparse.Namespace) -> int:
    from pixelwise.extras import require_extra

    require_extra("train", "pixelwise train")
    from pixelwise.train.config import load_run_config
    from pixelwise.train.loop import train

    config = load_run_config(args.config, args.overrides)
    summary = train(config, args.run_dir, resume=args.resume)
    if summary.checkpoint is not None:
        print(f"pixelwise train: {summary.step} steps ({summary.epoch} epochs) in {summary.elapsed_s:.1f}s; "
              f"checkpoint {summary.checkpoint}")
    return 0
