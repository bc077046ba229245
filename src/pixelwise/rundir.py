"""The one place that names the files of a training run directory::

    RUN/config.yaml                         the resolved RunConfig (pixelwise train writes it first)
    RUN/metrics.jsonl                       one JSON line per logged step (+ what epoch hooks returned)
    RUN/samples/step_<N>.png                input | output | target grids
    RUN/tensorboard/                        TensorBoard events (train.tensorboard)
    RUN/checkpoints/step_<N>/               generator.safetensors, discriminator.safetensors, config.json,
                                            training_state.pt, manifest.json (see pixelwise.train.checkpoint)
    RUN/checkpoints/latest -> step_<N>      the newest complete checkpoint

How checkpoints are written, verified and resumed is :mod:`pixelwise.train.checkpoint`; this module only knows
names, so that inference and evaluation can open a run without importing the training stack.
"""

from __future__ import annotations

import re
from pathlib import Path

RUN_CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
SAMPLES = "samples"
TENSORBOARD = "tensorboard"
CHECKPOINTS = "checkpoints"
LATEST = "latest"
GENERATOR = "generator.safetensors"
DISCRIMINATOR = "discriminator.safetensors"
CHECKPOINT_CONFIG = "config.json"  # the generator's model record (so a checkpoint opens as a model dir)
TRAINING_STATE = "training_state.pt"
MANIFEST = "manifest.json"
STEP_DIR = re.compile(r"^step_(\d+)$")


def checkpoints_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINTS


def step_name(step: int) -> str:
    return f"step_{step}"


def latest_link(run_dir: str | Path) -> Path:
    return checkpoints_dir(run_dir) / LATEST


def sample_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / SAMPLES / f"{step_name(step)}.png"


def find_run_config(path: str | Path, levels: int = 3) -> Path | None:
    """The run's ``config.yaml`` for a run dir or a folder inside it (a checkpoint dir), if there is one."""
    path = Path(path).resolve()
    for candidate in (path, *list(path.parents)[:levels]):
        if (candidate / RUN_CONFIG).is_file():
            return candidate / RUN_CONFIG
    return None


__all__ = ["CHECKPOINTS", "CHECKPOINT_CONFIG", "DISCRIMINATOR", "GENERATOR", "LATEST", "MANIFEST", "METRICS",
           "RUN_CONFIG", "SAMPLES", "STEP_DIR", "TENSORBOARD", "TRAINING_STATE", "checkpoints_dir", "find_run_config",
           "latest_link", "sample_path", "step_name"]
