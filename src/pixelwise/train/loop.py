"""The one training loop, shared by the four recipes (what differs lives in :mod:`pixelwise.train.recipes`).

One step, on one batch: ``fake = G(x)``; ``critic_steps`` discriminator updates on (real, fake.detach())
(DeblurGAN's 5 critic updates reuse the batch, as its official code does); one generator update against
the updated discriminator. Runs on CPU or CUDA, single process or ``torchrun`` (DDP), with optional
bf16/fp16 autocast, channels_last and ``torch.compile``. Seeded; on CPU a resumed run reproduces an
uninterrupted one bit for bit (model weights, optimizer states, RNG states and the data position are all
in the checkpoint).

    from pixelwise.train.config import load_run_config
    from pixelwise.train.loop import train
    summary = train(load_run_config("deblurgan-bundled-tiny", ["train.max_steps=4"]), "runs/demo", resume="auto")
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from pixelwise import losses, rundir
from pixelwise.config import save_yaml
from pixelwise.data import preflight
from pixelwise.data.config import DataConfig
from pixelwise.data.palette import colorize_labels
from pixelwise.fileio import make_dirs
from pixelwise.train import checkpoint, distributed
from pixelwise.train.config import RunConfig
from pixelwise.train.guards import DivergenceGuard
from pixelwise.train.monitor import Monitor
from pixelwise.train.session import (  # noqa: F401 - TrainingDivergedError, seed_everything: public here
    Session,
    TrainingDivergedError,
    preserved_rng,
    seed_everything,
)


@dataclass
class EpochEnd:
    """What the ``on_epoch_end`` hook receives (on rank 0, after every full epoch). The generator is the
    bare module (no DDP / compile wrapper) in eval mode; the hook runs under ``torch.no_grad`` with the RNG
    states saved and restored around it, so evaluating never changes the training run."""

    epoch: int  # epochs completed so far (1 after the first)
    step: int  # steps completed so far
    run_dir: Path
    generator: nn.Module
    device: torch.device
    config: RunConfig
    losses: dict[str, float]  # the most recently logged (rank-averaged) losses


EpochHook = Callable[[EpochEnd], "dict[str, float] | None"]  # returned metrics go to metrics.jsonl/TensorBoard


@dataclass
class TrainSummary:
    run_dir: Path
    step: int
    epoch: int
    checkpoint: Path | None  # the final checkpoint (None on ranks other than 0)
    resumed_from: Path | None
    losses: dict[str, float] = field(default_factory=dict)  # last logged values
    epoch_metrics: list[dict[str, Any]] = field(default_factory=list)  # what the hook returned, per epoch
    elapsed_s: float = 0.0
    generator: nn.Module | None = field(default=None, repr=False)  # the trained bare modules (every rank)
    discriminator: nn.Module | None = field(default=None, repr=False)


def train(config: RunConfig, run_dir: str | Path, resume: str | None = None,
          on_epoch_end: EpochHook | None = None, dataset: Dataset | None = None) -> TrainSummary:
    """Train ``config`` into ``run_dir``. ``resume``: None (fresh; refuses a run dir with checkpoints),
    ``"auto"`` (continue from ``run_dir``'s newest complete checkpoint if there is one) or a checkpoint /
    run dir path. ``on_epoch_end(EpochEnd) -> dict | None`` runs on rank 0 after every epoch; the metrics it
    returns are logged. ``dataset`` replaces ``build_dataset(config.data)`` (same sample format).
    Under ``torchrun`` every rank calls this; rank 0 writes the run directory."""
    config.validate()
    run_dir = Path(run_dir)
    if config.loss.uses_vgg:
        losses.check_vgg_weights(config.loss.vgg_weights)  # fail before any work
    resume_from = checkpoint.resolve_resume(run_dir, resume)
    info = distributed.setup(config.train.device)
    flags = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark)
    try:
        return _train(config, run_dir, resume_from, on_epoch_end, dataset, info)
    finally:
        torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])
        torch.backends.cudnn.benchmark = flags[2]
        distributed.cleanup(info)


def _train(config: RunConfig, run_dir: Path, resume_from: Path | None, on_epoch_end: EpochHook | None,
           dataset: Dataset | None, info: distributed.DistInfo) -> TrainSummary:
    tc = config.train
    _configure_backends(tc.deterministic, info.device)
    run = Session(config, run_dir, info)
    run.build_data(dataset)
    run.build_networks()
    state = run.restore(resume_from)
    run.wrap()
    monitor = _open_run_dir(run)
    run.seed_ranks(state)

    from tqdm.auto import tqdm

    progress = tqdm(total=run.total, initial=run.step, disable=not (info.is_main and tc.progress), dynamic_ncols=True,
                    desc=f"train {run_dir.name}", unit="step")
    summary = TrainSummary(run_dir=run_dir, step=run.step, epoch=run.epoch, checkpoint=None, resumed_from=resume_from)
    log = _LossLog()
    final_path: Path | None = None
    run.g_raw.train()
    run.d_raw.train()
    guard = DivergenceGuard(run.g_raw, run.d_raw, config.loss.gan, config.loss.gp_weight)
    try:
        while run.step < run.total:
            run.start_epoch()
            for batch in preflight.worker_errors(run.loader):
                factor = run.set_learning_rates()
                terms, fake, batch_on_device = run.train_step(batch)
                run.count_step()
                log.window_steps += 1
                run.check_finite(terms)
                guard.check(terms, info, run.step, run.epoch, run_dir)
                epoch_done = run.finish_epoch()
                record = log.record(run, terms, factor) if run.step % tc.log_every == 0 or run.step == run.total else {}
                if record:
                    progress.set_postfix({k: f"{v:.3g}" for k, v in log.last.items() if k.endswith("total")},
                                         refresh=False)
                if tc.sample_every and run.step % tc.sample_every == 0 and info.is_main:
                    monitor.sample(run.step, _visual_input(batch_on_device, config.data), fake,
                                   batch_on_device["target"])
                if epoch_done and on_epoch_end is not None:
                    record.update(_epoch_hook(run, on_epoch_end, log.last, summary))
                if record:
                    monitor.log(run.step, run.epoch, record)
                progress.update(1)
                if run.step == run.total or (tc.checkpoint_every and run.step % tc.checkpoint_every == 0):
                    final_path = run.save()
                if run.step >= run.total:
                    break
    finally:
        progress.close()
        monitor.close()
    summary.step, summary.epoch, summary.losses = run.step, run.epoch, log.last
    summary.checkpoint = (final_path or resume_from) if info.is_main else None
    summary.elapsed_s = time.perf_counter() - log.started
    summary.generator, summary.discriminator = run.g_raw, run.d_raw
    return summary


# --- the loop's named steps ------------------------------------------------------------------------------------
def _visual_input(batch: dict[str, Any], data: DataConfig) -> torch.Tensor:
    """What the sample grids show as the input: the input photo, or the label map in the one palette."""
    if "input" in batch:
        return batch["input"]
    return colorize_labels(batch["label"], data)


def _configure_backends(deterministic: bool, device: torch.device) -> None:
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def _open_run_dir(run: Session) -> Monitor:
    """Rank 0: the run directory, partial checkpoints of a killed run removed, the resolved config saved."""
    if run.info.is_main:
        make_dirs(run.run_dir)
        checkpoint.remove_partial(run.run_dir)
        save_yaml(run.config, run.run_dir / rundir.RUN_CONFIG)
    return Monitor(run.run_dir, run.info.is_main, run.tc.tensorboard, run.step)


class _LossLog:
    """The logged losses: rank-averaged every ``log_every`` steps, with learning rates and step timing."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.started = time.perf_counter()
        self.window_start, self.window_steps = self.started, 0

    def record(self, run: Session, terms: dict[str, torch.Tensor], factor: float) -> dict[str, float]:
        self.last = distributed.mean_over_ranks(terms, run.info)
        now = time.perf_counter()
        optim = run.config.optim
        record = {**self.last, "lr_g": optim.lr_g * factor, "lr_d": optim.lr_d * factor, "time": now - self.started,
                  "sec_per_step": (now - self.window_start) / self.window_steps}
        self.window_start, self.window_steps = now, 0
        return record


def _epoch_hook(run: Session, hook: EpochHook, last_losses: dict[str, float],
                summary: TrainSummary) -> dict[str, float]:
    """Rank 0 runs ``hook`` on the bare generator in eval mode, without gradients and with every RNG stream
    preserved; the other ranks wait. Returns the metrics to log."""
    metrics = None
    if run.info.is_main:
        run.g_raw.eval()
        with preserved_rng(), torch.no_grad():
            metrics = hook(EpochEnd(run.epoch, run.step, run.run_dir, run.g_raw, run.device, run.config,
                                    dict(last_losses)))
        run.g_raw.train()
    distributed.barrier(run.info)
    if not metrics:
        return {}
    summary.epoch_metrics.append({"epoch": run.epoch, "step": run.step, **metrics})
    return {k: float(v) for k, v in metrics.items()}
