"""The state of one training run and its named steps, in the order :func:`pixelwise.train.loop.train` calls
them: build the data order, the networks, losses and optimizers, restore a checkpoint, wrap for DDP /
compile, then per batch :meth:`Session.train_step`, and :meth:`Session.save`.

Everything that must be identical in a resumed run (weights, optimizer and scaler states, RNG streams of every
rank, the position in the epoch) is built here in a fixed order and saved by :meth:`Session.training_state`.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from pixelwise.config import to_dict
from pixelwise.errors import PixelwiseError
from pixelwise.runtime import to_device
from pixelwise.train import checkpoint, distributed, recipes
from pixelwise.train.config import RunConfig
from pixelwise.train.guards import TrainingDivergedError


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


def adam(params: list[nn.Parameter], lr: float, betas: tuple[float, float],
         weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam; with ``weight_decay`` > 0, AdamW that decays the weights (parameters with 2+ dimensions) and
    leaves biases and normalisation parameters alone (two parameter groups)."""
    betas = (float(betas[0]), float(betas[1]))
    if weight_decay <= 0:
        return torch.optim.Adam(params, lr=lr, betas=betas)
    decayed = [p for p in params if p.dim() >= 2]
    kept = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW([{"params": decayed, "weight_decay": float(weight_decay)},
                              {"params": kept, "weight_decay": 0.0}], lr=lr, betas=betas)


def _ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """DDP without buffer broadcasts in forward (``broadcast_buffers=False``; newer PyTorch spells it
    ``forward_sync_buffers=False``): buffers are synced once at construction only."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters:
        return DistributedDataParallel(module, device_ids=ids, forward_sync_buffers=False)
    return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)


class Session:
    """One run's networks, optimizers, gradient scalers, data order and counters (step, epoch, position)."""

    def __init__(self, config: RunConfig, run_dir: Path, info: distributed.DistInfo) -> None:
        self.config, self.tc, self.run_dir, self.info = config, config.train, run_dir, info
        self.device = info.device
        self.memory_format = torch.channels_last if self.tc.channels_last else torch.contiguous_format
        self.step = self.epoch = self.batch_in_epoch = 0
        self.g_trains_global = recipes.trains_global(self.tc, 0)

    # --- set-up, in this order -------------------------------------------------------------------------------
    def build_data(self, dataset: Dataset | None) -> None:
        """The dataset, its resumable sampler and the loader (the data order depends only on the seed)."""
        from pixelwise.data import build_dataset

        tc, info = self.tc, self.info
        seed_everything(tc.seed)
        if dataset is None:
            dataset = build_dataset(self.config.data, split=self.config.data.split, train=True)
        if self.config.data.validate != "off":  # every file looked at before the first step, on rank 0 only
            from pixelwise.data import preflight

            report = preflight.problems_message(*preflight.find_problems(dataset, self.config.data.validate,
                                                                         tc.progress),
                                                self.config.data.validate) if info.is_main else None
            preflight.raise_if(distributed.broadcast_object(report, info))
        self.dataset = dataset
        self.sampler = ResumableSampler(dataset, info.world_size, info.rank, tc.seed)
        self.steps_per_epoch = self.sampler.num_samples // tc.batch_size
        if self.steps_per_epoch < 1:
            raise PixelwiseError(
                f"the training data has {len(dataset)} samples, fewer than train.batch_size={tc.batch_size} x "
                f"{info.world_size} process(es): lower train.batch_size or add data (data.max_images?)"
            )
        self.loader_generator = torch.Generator()
        self.loader = DataLoader(dataset, batch_size=tc.batch_size, sampler=self.sampler, num_workers=tc.num_workers,
                                 drop_last=True, pin_memory=self.device.type == "cuda",
                                 generator=self.loader_generator)
        self.total = recipes.total_steps(tc, self.steps_per_epoch)

    def build_networks(self) -> None:
        """Generator, discriminator, the recipe's losses, gradient scalers and the discriminator's optimizer,
        identical on every rank (seeded)."""
        config, tc = self.config, self.tc
        seed_everything(tc.seed)
        self.g_raw = recipes.build_generator(config).to(device=self.device, memory_format=self.memory_format)
        self.d_raw = recipes.build_discriminator(config).to(device=self.device, memory_format=self.memory_format)
        self.recipe = recipes.Recipe.from_config(config).to(self.device, self.memory_format)
        self.amp_dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(tc.precision)
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=tc.precision == "float16")
        # the critic's gradient penalty differentiates the scaled output twice: start lower than 2**16, which
        # overflows it in fp16 on the first step (and with one critic step per G step there is no retry)
        self.scaler_d = torch.amp.GradScaler(self.device.type, init_scale=2.0**8, enabled=tc.precision == "float16")
        self.opt_d = adam(list(self.d_raw.parameters()), config.optim.lr_d, config.optim.betas,
                          config.optim.weight_decay_d)

    def restore(self, resume_from: Path | None) -> dict[str, Any] | None:
        """Load a checkpoint's weights and counters (when resuming), then build the generator's optimizer over
        the parameters that train now and restore the optimizer and scaler states. Returns the training state."""
        config, info = self.config, self.info
        state: dict[str, Any] | None = None
        if resume_from is not None:
            loaded = checkpoint.load_checkpoint(resume_from)
            state = loaded["training_state"]
            from pixelwise.models.io import check_state_shapes

            for net, key, section in ((self.g_raw, "generator", "model"),
                                      (self.d_raw, "discriminator", "discriminator")):
                check_state_shapes(net, loaded[key], str(resume_from / f"{key}.safetensors"),
                                   f"the {section}: section")
            try:
                self.g_raw.load_state_dict(loaded["generator"])
                self.d_raw.load_state_dict(loaded["discriminator"])
            except RuntimeError as exc:
                raise PixelwiseError(f"checkpoint {resume_from} does not fit this config's networks "
                                     f"(model/discriminator sections changed?): {exc}") from exc
            self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
            self.g_trains_global = state["g_trains_global"]
        self.opt_g = adam(recipes.generator_parameters(self.g_raw, self.g_trains_global), config.optim.lr_g,
                          config.optim.betas, config.optim.weight_decay_g)
        if state is not None:
            self.opt_g.load_state_dict(state["optimizer_g"])
            self.opt_d.load_state_dict(state["optimizer_d"])
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
            if state["world_size"] != info.world_size or state["steps_per_epoch"] != self.steps_per_epoch:
                if info.is_main:
                    print(f"pixelwise train: resuming with {info.world_size} process(es) / {self.steps_per_epoch} "
                          f"steps per epoch instead of {state['world_size']} / {state['steps_per_epoch']}: the run "
                          f"continues, but data order and random streams differ from an uninterrupted run")
                self.batch_in_epoch = min(self.batch_in_epoch, self.steps_per_epoch - 1)
        return state

    def wrap(self) -> None:
        """DDP (broadcast_buffers=False: the discriminator runs several times per backward and its spectral-norm
        vectors are updated in place), then torch.compile. ``d_run`` is the discriminator step's (synchronised)
        module, ``d_plain`` the generator step's (frozen D, no gradient sync)."""
        self.g_run: nn.Module = self.g_raw
        self.d_run: nn.Module = self.d_raw
        self.d_plain: nn.Module = self.d_raw
        if self.info.distributed:
            self.g_run, self.d_run = _ddp(self.g_raw, self.device), _ddp(self.d_raw, self.device)
        if self.tc.compile:
            self.g_run = torch.compile(self.g_run)
            self.d_plain = torch.compile(self.d_raw)
            if self.config.loss.gan != "wgan-gp":  # the gradient penalty needs double backward, which compile lacks
                self.d_run = torch.compile(self.d_run)

    def seed_ranks(self, state: dict[str, Any] | None) -> None:
        """Per-rank random streams (dropout, crops, GP interpolation), or the checkpoint's."""
        seed_everything(self.tc.seed + self.info.rank)
        if state is not None:
            rng = state["rng"]
            checkpoint.restore_rng_state(rng[self.info.rank] if self.info.rank < len(rng) else rng[0])

    # --- per epoch and per step ------------------------------------------------------------------------------
    def start_epoch(self) -> None:
        """pix2pixHD's switch to training all of G (with a fresh Adam), and the epoch's data order."""
        tc, config = self.tc, self.config
        if not self.g_trains_global and recipes.trains_global(tc, self.epoch):
            # pix2pixHD's update_fixed_params: from now on all of G trains, with a fresh Adam state
            self.g_trains_global = True
            self.opt_g = adam(recipes.generator_parameters(self.g_raw, True), config.optim.lr_g, config.optim.betas,
                              config.optim.weight_decay_g)
        self.sampler.set_epoch(self.epoch)
        self.sampler.start = self.batch_in_epoch * tc.batch_size
        self.loader_generator.manual_seed(tc.seed * 1_000_003 + self.epoch)  # worker seeds per epoch

    def set_learning_rates(self) -> float:
        """This step's schedule factor applied to both optimizers; returns it."""
        factor = recipes.lr_factor(self.tc, self.step, self.epoch)
        for group in self.opt_g.param_groups:
            group["lr"] = self.config.optim.lr_g * factor
        for group in self.opt_d.param_groups:
            group["lr"] = self.config.optim.lr_d * factor
        return factor

    def train_step(self, batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, Any]]:
        """``fake = G(x)``; ``critic_steps`` discriminator updates on (real, fake.detach()); one generator update
        against the updated discriminator. Returns (loss terms, fake, the batch on the device)."""
        from pixelwise.data import network_input

        tc, recipe = self.tc, self.recipe
        g_raw, d_raw, scaler_g, scaler_d = self.g_raw, self.d_raw, self.scaler_g, self.scaler_d
        batch = to_device(batch, self.device, non_blocking=True)
        x = network_input(batch, self.config.data).contiguous(memory_format=self.memory_format)
        real = batch["target"].contiguous(memory_format=self.memory_format)
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)
        with autocast:
            fake = self.g_run(x)
        d_raw.requires_grad_(True)
        d_terms: dict[str, torch.Tensor] = {}
        for _ in range(tc.critic_steps if recipe.adversarial else 0):
            d_raw.zero_grad(set_to_none=True)
            with autocast:
                d_loss, d_terms = recipe.discriminator_loss(self.d_run, x, real, fake, scaler_d)
            scaler_d.scale(d_loss).backward()
            scaler_d.step(self.opt_d)
            scaler_d.update()
        d_raw.requires_grad_(False)
        g_raw.zero_grad(set_to_none=True)  # all of G: parameters outside opt_g must not accumulate
        with autocast:
            g_loss, g_terms = recipe.generator_loss(self.d_plain, x, real, fake,
                                                    recipes.adversarial_factor(tc, self.step))
        scaler_g.scale(g_loss).backward()
        scaler_g.step(self.opt_g)
        scaler_g.update()
        d_raw.requires_grad_(True)
        return {**g_terms, **d_terms}, fake.detach(), batch

    def count_step(self) -> None:
        self.step += 1
        self.batch_in_epoch += 1

    def finish_epoch(self) -> bool:
        """True (and the epoch counted) when this step completed an epoch."""
        if self.batch_in_epoch < self.steps_per_epoch:
            return False
        self.epoch += 1
        self.batch_in_epoch = 0
        return True

    def check_finite(self, values: dict[str, torch.Tensor]) -> None:
        """Stop (without saving) when a loss is NaN/Inf on any rank."""
        info, step, epoch, run_dir = self.info, self.step, self.epoch, self.run_dir
        finite = bool(torch.isfinite(torch.stack([v.detach().float() for v in values.values()])).all())
        if distributed.all_true(finite, info):
            return
        bad = [k for k, v in values.items() if not torch.isfinite(v).all()] or ["a loss on another rank"]
        last = checkpoint.latest_checkpoint(run_dir)
        where = f"the last good checkpoint is {last}" if last else "no checkpoint had been written yet"
        raise TrainingDivergedError(
            f"{', '.join(bad)} became NaN/Inf at step {step} (epoch {epoch}); training stopped without saving, "
            f"{where}. Resume it with --resume auto after lowering optim.lr_g / optim.lr_d, or with "
            f"train.precision=float32 if it ran in float16/bfloat16"
        )

    # --- checkpoints -----------------------------------------------------------------------------------------
    def training_state(self) -> dict[str, Any]:
        """Everything a resumed run needs besides the weights (a collective: every rank takes part)."""
        tc, config = self.tc, self.config
        return {
            "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "steps_per_epoch": self.steps_per_epoch, "world_size": self.info.world_size, "batch_size": tc.batch_size,
            "g_trains_global": self.g_trains_global,
            "optimizer_g": self.opt_g.state_dict(), "optimizer_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict(),
            "schedule": {"lr_g": config.optim.lr_g, "lr_d": config.optim.lr_d,
                         "lr_factor": recipes.lr_factor(tc, self.step, self.epoch), "epochs": tc.epochs,
                         "decay_epochs": tc.decay_epochs, "max_steps": tc.max_steps, "decay_steps": tc.decay_steps},
            "rng": distributed.gather_objects(checkpoint.capture_rng_state(), self.info),
        }

    def save(self) -> Path | None:
        """Write a checkpoint (rank 0) after every rank has contributed its state; returns its path on rank 0."""
        state_now = self.training_state()
        path = None
        if self.info.is_main:
            extra = {"run_config": to_dict(self.config)}
            path = checkpoint.save_checkpoint(self.run_dir, self.step, self.g_raw, self.d_raw, state_now, extra,
                                              self.tc.keep_checkpoints)
        distributed.barrier(self.info)
        return path


__all__ = ["ResumableSampler", "Session", "TrainingDivergedError", "preserved_rng", "seed_everything"]
