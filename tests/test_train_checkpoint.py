"""Checkpoint layout: atomic writes, ``latest``, pruning, and never resuming from a partial or damaged one."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from pixelwise.errors import PixelwiseError
from pixelwise.models.io import load_generator
from pixelwise.registry import create_model
from pixelwise.train import checkpoint

from .test_train_loop import subprocess_env


def _models():
    generator = create_model("deblurgan", ngf=4, n_blocks=1)
    discriminator = create_model("patchgan", ndf=4, n_layers=1)
    return generator, discriminator


def _save(run, step, keep=3):
    generator, discriminator = _models()
    state = {"step": step, "rng": [checkpoint.capture_rng_state()]}
    return checkpoint.save_checkpoint(run, step, generator, discriminator, state, {"run_config": {}}, keep=keep)


def test_save_points_latest_and_keeps_the_newest(tmp_path):
    run = tmp_path / "run"
    for step in (2, 4, 6, 8):
        path = _save(run, step, keep=2)
        assert os.readlink(run / "checkpoints" / "latest") == path.name
    assert [s for s, _ in checkpoint.list_checkpoints(run)] == [6, 8]
    assert checkpoint.latest_checkpoint(run) == run / "checkpoints" / "step_8"
    assert sorted(p.name for p in (run / "checkpoints" / "step_8").iterdir()) == sorted(
        ["generator.safetensors", "discriminator.safetensors", "config.json", "training_state.pt", "manifest.json"])
    assert load_generator(run).registry_name == "deblurgan"  # a run dir opens as a model
    loaded = checkpoint.load_checkpoint(run / "checkpoints" / "step_8")
    assert loaded["training_state"]["step"] == 8 and loaded["config"]["discriminator"]["model"] == "patchgan"
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]


def test_damaged_or_partial_checkpoints_are_never_picked(tmp_path):
    run = tmp_path / "run"
    _save(run, 2)
    good = _save(run, 4)
    # a torn save: the temp folder of step 6 never got renamed
    partial = run / "checkpoints" / ".tmp-step_6-abc"
    partial.mkdir()
    (partial / "generator.safetensors").write_bytes(b"half")
    # a step folder without its manifest (copied by hand, or a foreign tool)
    (run / "checkpoints" / "step_7").mkdir()
    assert checkpoint.latest_checkpoint(run) == good
    # latest itself damaged: a truncated weights file
    weights = good / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.warns(UserWarning) as caught:
        assert checkpoint.latest_checkpoint(run) == run / "checkpoints" / "step_2"
    assert "latest -> step_4 is not usable" in str(caught[0].message) and "step_7" in str(caught[1].message)
    with pytest.raises(PixelwiseError, match="damaged: generator.safetensors"):
        checkpoint.verify_checkpoint(good)
    with pytest.raises(PixelwiseError, match="incomplete"):
        checkpoint.resolve_resume(run, str(run / "checkpoints" / "step_7"))
    checkpoint.remove_partial(run)
    assert not partial.exists()


def test_resume_modes(tmp_path):
    run = tmp_path / "run"
    assert checkpoint.resolve_resume(run, None) is None
    assert checkpoint.resolve_resume(run, "auto") is None
    path = _save(run, 3)
    with pytest.raises(PixelwiseError, match="--resume auto"):
        checkpoint.resolve_resume(run, None)
    assert checkpoint.resolve_resume(run, "auto") == path
    assert checkpoint.resolve_resume(tmp_path / "elsewhere", str(run)) == path  # another run dir
    assert checkpoint.resolve_resume(tmp_path / "elsewhere", str(path)) == path  # a checkpoint dir
    with pytest.raises(PixelwiseError, match="no such checkpoint"):
        checkpoint.resolve_resume(run, str(tmp_path / "nope"))


KILL_DURING_SAVE = textwrap.dedent("""
    import os, signal, sys
    import torch
    from pixelwise.registry import create_model
    from pixelwise.train import checkpoint

    run = sys.argv[1]
    g, d = create_model("deblurgan", ngf=4, n_blocks=1), create_model("patchgan", ndf=4, n_layers=1)
    checkpoint.save_checkpoint(run, 1, g, d, {"step": 1}, keep=3)
    real_save = torch.save

    def die_half_way(obj, path, *args, **kwargs):  # the training state of step 2 is half written
        with open(path, "wb") as handle:
            handle.write(b"torn")
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = die_half_way
    checkpoint.save_checkpoint(run, 2, g, d, {"step": 2}, keep=3)
""")


def test_kill_during_save_leaves_latest_on_the_previous_checkpoint(tmp_path):
    run = tmp_path / "run"
    result = subprocess.run([sys.executable, "-c", KILL_DURING_SAVE, str(run)], env=subprocess_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == -9, result.stderr[-2000:]
    assert os.readlink(run / "checkpoints" / "latest") == "step_1"
    assert [s for s, _ in checkpoint.list_checkpoints(run)] == [1]
    assert checkpoint.resolve_resume(run, "auto") == run / "checkpoints" / "step_1"
    assert any(p.name.startswith(".tmp-step_2") for p in (run / "checkpoints").iterdir())
    checkpoint.remove_partial(run)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step_1"]


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.randn()  # leaves a cached Gaussian in NumPy's state
    state = checkpoint.capture_rng_state()
    expected = (random.random(), np.random.randn(), torch.rand(3))
    torch.save({"rng": [state]}, tmp_path / "s.pt")
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    checkpoint.restore_rng_state(torch.load(tmp_path / "s.pt", weights_only=True)["rng"][0])
    again = (random.random(), np.random.randn(), torch.rand(3))
    assert again[0] == expected[0] and again[1] == expected[1] and torch.equal(again[2], expected[2])
