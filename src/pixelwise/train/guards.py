"""Divergence guards that run after every training step, beside the NaN/Inf check of the loop.

Losses can stay finite while a run is already lost (``optim.lr_g=optim.lr_d=1e12``: weights reach 1e12, the
critic dies and sits at its gradient penalty, and training "succeeds"). :class:`DivergenceGuard` stops such
a run with the same kind of message as the NaN check, before the next checkpoint is written, so the last
good checkpoint stays the newest one:

- **parameter norm explosion**: the generator's or discriminator's parameter norm exceeds
  :data:`NORM_GROWTH` times its norm at the start of this run (or of this resume), floored at 1;
- **gradient explosion**: a finite gradient norm above :data:`MAX_GRAD_NORM` (after unscaling);
- **dead critic** (WGAN-GP): for :data:`DEAD_CRITIC_STEPS` steps in a row the Wasserstein term is 0 and the
  gradient penalty equals ``loss.gp_weight``, i.e. the critic's output no longer depends on its input.

The thresholds are far outside what a healthy run reaches (its norms grow by a few times at most).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from pixelwise.errors import PixelwiseError
from pixelwise.train import checkpoint, distributed

NORM_GROWTH = 1e4
MAX_GRAD_NORM = 1e10
DEAD_CRITIC_STEPS = 10


class TrainingDivergedError(PixelwiseError):
    """A loss became NaN or infinite, or the run diverged; nothing was saved after the last good checkpoint."""


def parameter_norm(module: nn.Module) -> float:
    params = [p.detach() for p in module.parameters()]
    if not params:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.float()) for p in params])))


def gradient_norm(module: nn.Module) -> float:
    grads = [p.grad.detach() for p in module.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])))


def stopped_message(what: str, step: int, epoch: int, run_dir: Path) -> str:
    """The NaN check's wording: what happened, that nothing was saved, the last good checkpoint, the fix."""
    last = checkpoint.latest_checkpoint(run_dir)
    where = f"the last good checkpoint is {last}" if last else "no checkpoint had been written yet"
    return (f"{what} at step {step} (epoch {epoch}); training stopped without saving, {where}. Resume it with "
            f"--resume auto after lowering optim.lr_g / optim.lr_d")


class DivergenceGuard:
    """Call :meth:`check` after every step (every rank); it raises :class:`TrainingDivergedError`."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, gan: str = "", gp_weight: float = 0.0
                 ) -> None:
        self.modules = {"generator": generator, "discriminator": discriminator}
        self.initial = {name: parameter_norm(m) for name, m in self.modules.items()}
        self.wgan_gp = gan == "wgan-gp" and gp_weight > 0
        self.gp_weight = float(gp_weight)
        self.dead_steps = 0

    def problem(self, terms: dict[str, torch.Tensor]) -> str | None:
        """What went wrong in this step on this rank, or None."""
        for name, module in self.modules.items():
            norm = parameter_norm(module)
            limit = NORM_GROWTH * max(self.initial[name], 1.0)
            if math.isfinite(norm) and norm > limit:
                start = self.initial[name]
                return (f"the {name}'s parameter norm exploded to {norm:.3g} ({norm / max(start, 1e-12):.3g}x its "
                        f"{start:.3g} at the start; limit {limit:.3g})")
            grad = gradient_norm(module)
            if math.isfinite(grad) and grad > MAX_GRAD_NORM:
                return f"the {name}'s gradient norm exploded to {grad:.3g} (limit {MAX_GRAD_NORM:.3g})"
        if self.wgan_gp and "d_gan" in terms and "d_gp" in terms:
            d_gan, d_gp = float(terms["d_gan"].detach()), float(terms["d_gp"].detach())
            dead = abs(d_gan) <= 1e-6 and abs(d_gp - self.gp_weight) <= 1e-4 * self.gp_weight
            self.dead_steps = self.dead_steps + 1 if dead else 0
            if self.dead_steps >= DEAD_CRITIC_STEPS:
                return (f"the critic is dead: for {self.dead_steps} steps d_gan was 0 and d_gp equal to "
                        f"loss.gp_weight={self.gp_weight:g} (its output no longer depends on the image)")
        return None

    def check(self, terms: dict[str, torch.Tensor], info: distributed.DistInfo, step: int, epoch: int,
              run_dir: Path) -> None:
        problem = self.problem(terms)
        if distributed.all_true(problem is None, info):
            return
        what = f"training diverged: {problem}" if problem else "training diverged on another rank"
        raise TrainingDivergedError(stopped_message(what, step, epoch, run_dir))
