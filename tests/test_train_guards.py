"""pixelwise.train.guards: a run whose losses stay finite but whose weights explode, or whose critic died, stops
with the NaN guard's kind of message and keeps the last good checkpoint."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pixelwise.cli import main
from pixelwise.train import checkpoint
from pixelwise.train.guards import DEAD_CRITIC_STEPS, MAX_GRAD_NORM, DivergenceGuard

from .test_train_loop import small


@pytest.mark.slow
def test_huge_learning_rate_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "deblurgan-tiny", "--run-dir", str(run), *small("deblurgan-tiny", "train.checkpoint_every=1")]
    assert main([*base, "train.max_steps=2"]) == 0
    good = checkpoint.latest_checkpoint(run)
    assert good.name == "step_2"
    # today this "succeeds": losses stay finite while the weights reach 1e12 and the critic dies
    assert main([*base, "train.max_steps=6", "optim.lr_g=1e12", "optim.lr_d=1e12", "--resume", "auto"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert "training diverged" in err and "parameter norm exploded" in err and "at step 3" in err
    assert f"the last good checkpoint is {good}" in err and "--resume auto after lowering optim.lr_g" in err
    assert [s for s, _ in checkpoint.list_checkpoints(run)] == [1, 2]
    assert checkpoint.latest_checkpoint(run) == good
    checkpoint.verify_checkpoint(good)


def test_dead_critic_and_exploding_gradients_are_caught():
    g, d = nn.Linear(2, 2), nn.Linear(2, 1)
    guard = DivergenceGuard(g, d, "wgan-gp", 10.0)
    dead = {"d_gan": torch.tensor(0.0), "d_gp": torch.tensor(10.0)}
    alive = {"d_gan": torch.tensor(-0.3), "d_gp": torch.tensor(0.2)}
    for _ in range(DEAD_CRITIC_STEPS - 1):
        assert guard.problem(dead) is None
    assert guard.problem(alive) is None  # a live step resets the count
    for _ in range(DEAD_CRITIC_STEPS - 1):
        assert guard.problem(dead) is None
    assert "critic is dead" in guard.problem(dead)
    assert DivergenceGuard(g, d, "lsgan", 10.0).problem(dead) is None  # only WGAN-GP has that penalty
    g.weight.grad = torch.full_like(g.weight, MAX_GRAD_NORM)
    assert "gradient norm exploded" in DivergenceGuard(g, d).problem({})
    g.weight.grad = None
    fresh = DivergenceGuard(g, d)
    with torch.no_grad():
        g.weight.mul_(3.0)  # healthy growth is not flagged
    assert fresh.problem({}) is None
