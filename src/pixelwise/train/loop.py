"""The one training loop, shared by the four recipes (what differs lives in :mod:`pixelwise.train.recipes`).

One step, on one batch: ``fake = G(x)``; ``critic_steps`` discriminator updates on (real, fake.detach())
(DeblurGAN's 5 critic updates reuse the batch, as its official code does); one generator update against
the updated discriminator. Runs on CPU or CUDA, single process or ``torchrun`` (DDP), with optional
bf16/fp16 autocast, channels_last and ``torch.compile``. Seeded; on CPU a resumed run reproduces an
uninterrupted one bit for bit (model weights, optimizer states, RNG states and the data position are all
in the checkpoint).

    from pixelwise.train.config import load_run_config
    from pixelwise.train.loop import train
    summary = train(load_run_config("deblurgan-tiny", ["train.max_steps=4"]), "runs/demo", resume="auto")
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from pixelwise import losses
from pixelwise.config import save_yaml, to_dict
from pixelwise.data import preflight
from pixelwise.errors import PixelwiseError
from pixelwise.fileio import make_dirs
from pixelwise.models.checks import check_state_shapes
from pixelwise.train import checkpoint, distributed, recipes
from pixelwise.train.config import RunConfig
from pixelwise.train.guards import DivergenceGuard, TrainingDivergedError  # the error is public here too
from pixelwise.train.monitor import Monitor, colorize, label_palette

CONFIG_YAML = "config.yaml"


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


class ResumableSampler(DistributedSampler):
    """:class:`DistributedSampler` (per-epoch shuffle seeded by seed + epoch, ``set_epoch``) that can start
    part-way through an epoch, yielding exactly the indices an uninterrupted epoch would yield from there."""

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        return iter(list(super().__iter__())[self.start:])

    def __len__(self) -> int:
        return self.num_samples - self.start


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (evaluation, a user hook) without disturbing any random stream of the training run."""
    state = checkpoint.capture_rng_state()
    try:
        yield
    finally:
        checkpoint.restore_rng_state(state)


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _visual_input(batch: dict[str, Any], palette: np.ndarray) -> torch.Tensor:
    if "input" in batch:
        return batch["input"]
    return colorize(batch["label"], palette)


def _adam(params: list[nn.Parameter], lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=(float(betas[0]), float(betas[1])))


def _ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """DDP without buffer broadcasts in forward (``broadcast_buffers=False``; newer PyTorch spells it
    ``forward_sync_buffers=False``): buffers are synced once at construction only."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters:
        return DistributedDataParallel(module, device_ids=ids, forward_sync_buffers=False)
    return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)


def _check_finite(values: dict[str, torch.Tensor], info: distributed.DistInfo, step: int, epoch: int,
                  run_dir: Path) -> None:
    finite = bool(torch.isfinite(torch.stack([v.detach().float() for v in values.values()])).all())
    if distributed.all_true(finite, info):
        return
    bad = [k for k, v in values.items() if not torch.isfinite(v).all()] or ["a loss on another rank"]
    last = checkpoint.latest_checkpoint(run_dir)
    where = f"the last good checkpoint is {last}" if last else "no checkpoint had been written yet"
    raise TrainingDivergedError(
        f"{', '.join(bad)} became NaN/Inf at step {step} (epoch {epoch}); training stopped without saving, "
        f"{where}. Resume it with --resume auto after lowering optim.lr_g / optim.lr_d, or with "
        f"train.precision=fp32 if it ran in fp16/bf16"
    )


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
    from pixelwise.data import build_dataset, network_input

    tc = config.train
    device = info.device
    if tc.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    memory_format = torch.channels_last if tc.channels_last else torch.contiguous_format

    # --- data --------------------------------------------------------------------------------------------
    seed_everything(tc.seed)
    if dataset is None:
        dataset = build_dataset(config.data, split=config.data.split, train=True)
    if config.data.validate != "off":  # every file looked at before the first step, on rank 0 only
        report = preflight.problems_message(*preflight.find_problems(dataset, config.data.validate, tc.progress),
                                            config.data.validate) if info.is_main else None
        preflight.raise_if(distributed.broadcast_object(report, info))
    sampler = ResumableSampler(dataset, info.world_size, info.rank, tc.seed)
    steps_per_epoch = sampler.num_samples // tc.batch_size
    if steps_per_epoch < 1:
        raise PixelwiseError(
            f"the training data has {len(dataset)} samples, fewer than train.batch_size={tc.batch_size} x "
            f"{info.world_size} process(es): lower train.batch_size or add data (data.max_images?)"
        )
    loader_generator = torch.Generator()
    loader = DataLoader(dataset, batch_size=tc.batch_size, sampler=sampler, num_workers=tc.num_workers,
                        drop_last=True, pin_memory=device.type == "cuda", generator=loader_generator)

    # --- networks, losses, optimizers (identical initial weights on every rank) --------------------------
    seed_everything(tc.seed)
    g_raw = recipes.build_generator(config).to(device=device, memory_format=memory_format)
    d_raw = recipes.build_discriminator(config).to(device=device, memory_format=memory_format)
    recipe = recipes.Recipe.from_config(config).to(device, memory_format)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(tc.precision)
    scaler_g = torch.amp.GradScaler(device.type, enabled=tc.precision == "fp16")
    # the critic's gradient penalty differentiates the scaled output twice: start lower than 2**16, which
    # overflows it in fp16 on the first step (and with one critic step per G step there is no retry)
    scaler_d = torch.amp.GradScaler(device.type, init_scale=2.0**8, enabled=tc.precision == "fp16")
    opt_d = _adam(list(d_raw.parameters()), config.optim.lr_d, config.optim.betas)
    step = epoch = batch_in_epoch = 0
    g_trains_global = recipes.trains_global(tc, 0)
    state: dict[str, Any] | None = None
    if resume_from is not None:
        loaded = checkpoint.load_checkpoint(resume_from)
        state = loaded["training_state"]
        for net, key, section in ((g_raw, "generator", "model"), (d_raw, "discriminator", "discriminator")):
            check_state_shapes(net, loaded[key], str(resume_from / f"{key}.safetensors"), f"the {section}: section")
        try:
            g_raw.load_state_dict(loaded["generator"])
            d_raw.load_state_dict(loaded["discriminator"])
        except RuntimeError as exc:
            raise PixelwiseError(f"checkpoint {resume_from} does not fit this config's networks "
                                 f"(model/discriminator sections changed?): {exc}") from exc
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        g_trains_global = state["g_trains_global"]
    opt_g = _adam(recipes.generator_parameters(g_raw, g_trains_global), config.optim.lr_g, config.optim.betas)
    if state is not None:
        opt_g.load_state_dict(state["optimizer_g"])
        opt_d.load_state_dict(state["optimizer_d"])
        scaler_g.load_state_dict(state["scaler_g"])
        scaler_d.load_state_dict(state["scaler_d"])
        if state["world_size"] != info.world_size or state["steps_per_epoch"] != steps_per_epoch:
            if info.is_main:
                print(f"pixelwise train: resuming with {info.world_size} process(es) / {steps_per_epoch} steps per "
                      f"epoch instead of {state['world_size']} / {state['steps_per_epoch']}: the run continues, "
                      f"but data order and random streams differ from an uninterrupted run")
            batch_in_epoch = min(batch_in_epoch, steps_per_epoch - 1)

    # --- wrappers: DDP (broadcast_buffers=False: the discriminator runs several times per backward and its
    # spectral-norm vectors are updated in place), then torch.compile ------------------------------------
    g_run: nn.Module = g_raw
    d_run: nn.Module = d_raw  # the discriminator step (DDP-synchronised)
    d_plain: nn.Module = d_raw  # the generator step (frozen D, no gradient sync)
    if info.distributed:
        g_run, d_run = _ddp(g_raw, device), _ddp(d_raw, device)
    if tc.compile:
        g_run = torch.compile(g_run)
        d_plain = torch.compile(d_raw)
        if config.loss.gan != "wgan-gp":  # the gradient penalty needs double backward, which compile lacks
            d_run = torch.compile(d_run)

    # --- run directory -----------------------------------------------------------------------------------
    if info.is_main:
        make_dirs(run_dir)
        checkpoint.remove_partial(run_dir)
        save_yaml(config, run_dir / CONFIG_YAML)
    monitor = Monitor(run_dir, info.is_main, tc.tensorboard, step)
    palette = label_palette(config.data.label_set)
    total = recipes.total_steps(tc, steps_per_epoch)

    seed_everything(tc.seed + info.rank)  # per-rank streams (dropout, crops, GP interpolation)
    if state is not None:
        rng = state["rng"]
        checkpoint.restore_rng_state(rng[info.rank] if info.rank < len(rng) else rng[0])

    def training_state() -> dict[str, Any]:
        return {
            "step": step, "epoch": epoch, "batch_in_epoch": batch_in_epoch, "steps_per_epoch": steps_per_epoch,
            "world_size": info.world_size, "batch_size": tc.batch_size, "g_trains_global": g_trains_global,
            "optimizer_g": opt_g.state_dict(), "optimizer_d": opt_d.state_dict(),
            "scaler_g": scaler_g.state_dict(), "scaler_d": scaler_d.state_dict(),
            "schedule": {"lr_g": config.optim.lr_g, "lr_d": config.optim.lr_d,
                         "lr_factor": recipes.lr_factor(tc, step, epoch), "epochs": tc.epochs,
                         "decay_epochs": tc.decay_epochs, "max_steps": tc.max_steps, "decay_steps": tc.decay_steps},
            "rng": distributed.gather_objects(checkpoint.capture_rng_state(), info),
        }

    def save() -> Path | None:
        state_now = training_state()  # a collective: every rank takes part
        path = None
        if info.is_main:
            extra = {"run_config": to_dict(config)}
            path = checkpoint.save_checkpoint(run_dir, step, g_raw, d_raw, state_now, extra, tc.keep_checkpoints)
        distributed.barrier(info)
        return path

    def one_step(batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, Any]]:
        batch = _to_device(batch, device)
        x = network_input(batch, config.data).contiguous(memory_format=memory_format)
        real = batch["target"].contiguous(memory_format=memory_format)
        autocast = torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None)
        with autocast:
            fake = g_run(x)
        d_raw.requires_grad_(True)
        for _ in range(tc.critic_steps):
            d_raw.zero_grad(set_to_none=True)
            with autocast:
                d_loss, d_terms = recipe.discriminator_loss(d_run, x, real, fake, scaler_d)
            scaler_d.scale(d_loss).backward()
            scaler_d.step(opt_d)
            scaler_d.update()
        d_raw.requires_grad_(False)
        g_raw.zero_grad(set_to_none=True)  # all of G: parameters outside opt_g must not accumulate
        with autocast:
            g_loss, g_terms = recipe.generator_loss(d_plain, x, real, fake, recipes.adversarial_factor(tc, step))
        scaler_g.scale(g_loss).backward()
        scaler_g.step(opt_g)
        scaler_g.update()
        d_raw.requires_grad_(True)
        return {**g_terms, **d_terms}, fake.detach(), batch

    # --- the loop ----------------------------------------------------------------------------------------
    from tqdm.auto import tqdm

    progress = tqdm(total=total, initial=step, disable=not (info.is_main and tc.progress), dynamic_ncols=True,
                    desc=f"train {run_dir.name}", unit="step")
    summary = TrainSummary(run_dir=run_dir, step=step, epoch=epoch, checkpoint=None, resumed_from=resume_from)
    last_losses: dict[str, float] = {}
    started = time.perf_counter()
    window_start, window_steps = started, 0
    final_path: Path | None = None
    g_raw.train()
    d_raw.train()
    guard = DivergenceGuard(g_raw, d_raw, config.loss.gan, config.loss.gp_weight)
    try:
        while step < total:
            if not g_trains_global and recipes.trains_global(tc, epoch):
                # pix2pixHD's update_fixed_params: from now on all of G trains, with a fresh Adam state
                g_trains_global = True
                opt_g = _adam(recipes.generator_parameters(g_raw, True), config.optim.lr_g, config.optim.betas)
            sampler.set_epoch(epoch)
            sampler.start = batch_in_epoch * tc.batch_size
            loader_generator.manual_seed(tc.seed * 1_000_003 + epoch)  # worker seeds per epoch
            for batch in preflight.worker_errors(loader):
                factor = recipes.lr_factor(tc, step, epoch)
                for group in opt_g.param_groups:
                    group["lr"] = config.optim.lr_g * factor
                for group in opt_d.param_groups:
                    group["lr"] = config.optim.lr_d * factor
                terms, fake, batch_on_device = one_step(batch)
                step += 1
                batch_in_epoch += 1
                window_steps += 1
                _check_finite(terms, info, step, epoch, run_dir)
                guard.check(terms, info, step, epoch, run_dir)
                epoch_done = batch_in_epoch >= steps_per_epoch
                if epoch_done:
                    epoch += 1
                    batch_in_epoch = 0
                record: dict[str, float] = {}
                if step % tc.log_every == 0 or step == total:
                    last_losses = distributed.mean_over_ranks(terms, info)
                    now = time.perf_counter()
                    record.update(last_losses)
                    record.update({"lr_g": config.optim.lr_g * factor, "lr_d": config.optim.lr_d * factor,
                                   "time": now - started, "sec_per_step": (now - window_start) / window_steps})
                    window_start, window_steps = now, 0
                    progress.set_postfix({k: f"{v:.3g}" for k, v in last_losses.items() if k.endswith("total")},
                                         refresh=False)
                if tc.sample_every and step % tc.sample_every == 0 and info.is_main:
                    monitor.sample(step, _visual_input(batch_on_device, palette), fake, batch_on_device["target"])
                if epoch_done and on_epoch_end is not None:
                    metrics = None
                    if info.is_main:
                        g_raw.eval()
                        with preserved_rng(), torch.no_grad():
                            metrics = on_epoch_end(EpochEnd(epoch, step, run_dir, g_raw, device, config,
                                                            dict(last_losses)))
                        g_raw.train()
                    distributed.barrier(info)
                    if metrics:
                        record.update({k: float(v) for k, v in metrics.items()})
                        summary.epoch_metrics.append({"epoch": epoch, "step": step, **metrics})
                if record:
                    monitor.log(step, epoch, record)
                progress.update(1)
                if step == total or (tc.checkpoint_every and step % tc.checkpoint_every == 0):
                    final_path = save()
                if step >= total:
                    break
    finally:
        progress.close()
        monitor.close()
    summary.step, summary.epoch, summary.losses = step, epoch, last_losses
    summary.checkpoint = (final_path or resume_from) if info.is_main else None
    summary.elapsed_s = time.perf_counter() - started
    summary.generator, summary.discriminator = g_raw, d_raw
    return summary
