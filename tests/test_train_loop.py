"""The training loop on CPU: every tiny recipe runs, a single pair is overfitted, a killed run resumes bit for
bit, NaN losses stop the run without touching the last good checkpoint, the run directory is complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from pixelwise.errors import PixelwiseError
from pixelwise.train import checkpoint
from pixelwise.train.config import load_run_config
from pixelwise.train.loop import EpochEnd, TrainingDivergedError, train
from pixelwise.train.recipes import Recipe

TINY = ["asapnet-tiny", "pix2pixhd-tiny", "pix2pixhd-local-tiny", "deblurgan-tiny", "deblurgan-asap-tiny"]
SMALL_LABELS = ["data.load_height=32", "data.load_width=64"]
SMALL_PHOTOS = ["data.load_height=48", "data.load_width=48", "data.crop_height=32", "data.crop_width=32"]
QUIET = ["train.batch_size=1", "train.progress=false", "train.tensorboard=false", "train.log_every=1",
         "train.sample_every=0", "train.checkpoint_every=0"]


def small(preset: str, *overrides: str) -> list[str]:
    """Overrides that make a tiny preset tiny enough for a unit test (32-pixel images, batch 1)."""
    sizes = SMALL_PHOTOS if "deblur" in preset else SMALL_LABELS
    return [*QUIET, *sizes, *overrides]


pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]  # trains models; conftest.one_thread


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    return env


@pytest.mark.parametrize("preset", TINY)
def test_every_tiny_recipe_trains_two_steps(preset, tmp_path):
    config = load_run_config(preset, small(preset, "train.max_steps=2"))
    summary = train(config, tmp_path / "run")
    assert summary.step == 2 and summary.checkpoint == tmp_path / "run" / "checkpoints" / "step_2"
    assert "g_total" in summary.losses
    # a recipe with an adversary logs the discriminator's loss; asapnet-tiny has none (gan_weight and
    # feature_matching 0) and its critic is neither run nor logged
    adversarial = Recipe.from_config(config).adversarial
    assert ("d_total" in summary.losses) == adversarial and adversarial == (preset != "asapnet-tiny")
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2]
    from pixelwise.models.io import load_generator

    generator = load_generator(tmp_path / "run")
    assert generator.registry_name == config.model.name


def test_run_directory_layout_and_cli(tmp_path):
    from pixelwise.cli import main

    run = tmp_path / "run"
    code = main(["train", "deblurgan-tiny", "--run-dir", str(run), *small("deblurgan-tiny"), "train.max_steps=4",
                 "train.checkpoint_every=2", "train.keep_checkpoints=1", "train.sample_every=2",
                 "train.tensorboard=true", "train.log_every=2"])
    assert code == 0
    assert (run / "config.yaml").is_file() and (run / "samples" / "step_2.png").is_file()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert [p.name for _, p in checkpoint.list_checkpoints(run)] == ["step_4"]  # keep_checkpoints=1
    assert os.readlink(run / "checkpoints" / "latest") == "step_4"
    record = json.loads((run / "checkpoints" / "step_4" / "config.json").read_text())
    assert record["model"] == "deblurgan" and record["discriminator"]["model"] == "patchgan"
    assert record["run_config"]["train"]["max_steps"] == 4
    line = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"step", "epoch", "g_mse", "g_gan", "d_gp", "lr_g", "lr_d", "time"} <= set(line) and line["step"] == 4
    state = torch.load(run / "checkpoints" / "step_4" / "training_state.pt", weights_only=True)
    assert state["step"] == 4 and {"python", "numpy", "torch"} <= set(state["rng"][0])
    # without --resume an existing run is refused; with --resume auto a finished run has nothing to do
    assert main(["train", "deblurgan-tiny", "--run-dir", str(run), *small("deblurgan-tiny"), "train.max_steps=4"]) == 2
    assert main(["train", "deblurgan-tiny", "--run-dir", str(run), "--resume", "auto", *small("deblurgan-tiny"),
                 "train.max_steps=4"]) == 0


class OnePair(torch.utils.data.Dataset):
    """A fixed (blurred, sharp) pair: no random crop, flip or kernel."""

    def __init__(self, sample: dict, length: int = 1) -> None:
        self.sample, self.length = sample, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        return dict(self.sample)


def _first_eval_sample(config) -> dict:
    from pixelwise.data import build_dataset

    return build_dataset(config.data, split="test", train=False)[0]


def test_overfits_one_pair(tmp_path):
    config = load_run_config("pix2pixhd-tiny", small("pix2pixhd-tiny", "train.max_steps=60", "train.log_every=60",
                                                     "train.epochs=1000"))
    pair = OnePair(_first_eval_sample(config))
    from pixelwise.data import network_input
    from pixelwise.train.recipes import build_generator

    batch = torch.utils.data.default_collate([pair[0]])
    torch.manual_seed(config.train.seed)
    before = build_generator(config).eval()
    with torch.no_grad():
        l1_before = (before(network_input(batch, config.data)) - batch["target"]).abs().mean().item()
    summary = train(config, tmp_path / "run", dataset=pair)
    from pixelwise.models.io import load_generator

    after = load_generator(summary.run_dir)
    with torch.no_grad():
        l1_after = (after(network_input(batch, config.data)) - batch["target"]).abs().mean().item()
    assert l1_after < 0.6 * l1_before, (l1_before, l1_after)


KILL_SCRIPT = textwrap.dedent("""
    import json, os, signal, sys
    from pixelwise.train import checkpoint
    from pixelwise.train.config import load_run_config
    from pixelwise.train.loop import train

    preset, overrides, run_dir, kill_at = json.loads(sys.argv[1])
    save = checkpoint.save_checkpoint

    def save_then_die(run, step, *args, **kwargs):
        path = save(run, step, *args, **kwargs)
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no final save: as a crash or `kill -9`
        return path

    checkpoint.save_checkpoint = save_then_die
    train(load_run_config(preset, overrides), run_dir)
""")


@pytest.mark.parametrize("preset, extra", [("deblurgan-tiny", "train.gan_warmup_steps=3"),
                                           ("asapnet-tiny", "train.gan_warmup_steps=0")])
def test_killed_run_resumes_bit_exactly(preset, extra, tmp_path):
    """8 steps straight == 4 steps, SIGKILL, resume to 8: generator, discriminator and optimizer states are
    bit-identical. 3 samples per epoch, so the kill lands mid-epoch and the run crosses epoch boundaries;
    deblurgan-tiny has dropout, random crops/blur kernels, the WGAN-GP interpolation and a GAN warm-up whose
    ramp the kill interrupts (off for steps 0-2, ramping over 3-5), asapnet-tiny spectral-norm buffers."""
    overrides = small(preset, "train.max_steps=8", "train.checkpoint_every=2", "data.max_images=3",
                      "train.log_every=1", extra)
    straight = train(load_run_config(preset, overrides), tmp_path / "straight")

    killed = tmp_path / "killed"
    args = json.dumps([preset, overrides, str(killed), 4])
    result = subprocess.run([sys.executable, "-c", KILL_SCRIPT, args], env=subprocess_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == -9, result.stderr[-2000:]
    assert checkpoint.latest_checkpoint(killed).name == "step_4"
    resumed = train(load_run_config(preset, overrides), killed, resume="auto")
    assert resumed.resumed_from == killed / "checkpoints" / "step_4" and resumed.step == 8

    a, b = straight.checkpoint, resumed.checkpoint
    for name in (checkpoint.GENERATOR, checkpoint.DISCRIMINATOR):
        wa, wb = load_file(str(a / name)), load_file(str(b / name))
        assert wa.keys() == wb.keys()
        assert all(torch.equal(wa[k], wb[k]) for k in wa), name
    sa = torch.load(a / checkpoint.TRAINING_STATE, weights_only=True)
    sb = torch.load(b / checkpoint.TRAINING_STATE, weights_only=True)
    assert (sa["epoch"], sa["batch_in_epoch"]) == (sb["epoch"], sb["batch_in_epoch"]) == (2, 2)
    for opt in ("optimizer_g", "optimizer_d"):
        for key, value in sa[opt]["state"].items():
            assert all(torch.equal(value[k], sb[opt]["state"][key][k]) for k in value)
    assert torch.equal(sa["rng"][0]["torch"], sb["rng"][0]["torch"])
    lines = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert lines == list(range(1, 9))  # the resumed run continues the log, with no duplicates


class PoisonedPairs(OnePair):
    """The third sample handed out has a NaN in its target (the loader runs in this process)."""

    calls = 0

    def __getitem__(self, index: int) -> dict:
        sample = dict(self.sample)
        PoisonedPairs.calls += 1
        if PoisonedPairs.calls == 3:
            sample["target"] = sample["target"].clone()
            sample["target"][0, 0, 0] = float("nan")
        return sample


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = load_run_config("deblurgan-tiny", small("deblurgan-tiny", "train.max_steps=5",
                                                     "train.checkpoint_every=1"))
    run = tmp_path / "run"
    PoisonedPairs.calls = 0
    with pytest.raises(TrainingDivergedError) as info:
        train(config, run, dataset=PoisonedPairs(_first_eval_sample(config), length=4))
    message = str(info.value)
    last_good = run / "checkpoints" / "step_2"
    assert "NaN/Inf at step 3" in message and str(last_good) in message and "--resume auto" in message
    assert [s for s, _ in checkpoint.list_checkpoints(run)] == [1, 2]
    assert checkpoint.latest_checkpoint(run) == last_good
    checkpoint.verify_checkpoint(last_good)


def test_epoch_hook_sees_every_epoch_and_does_not_change_training(tmp_path):
    overrides = small("pix2pixhd-local-tiny", "train.max_steps=4", "data.max_images=2")
    seen: list[tuple[int, int, bool]] = []

    def hook(event: EpochEnd) -> dict[str, float]:
        seen.append((event.epoch, event.step, event.generator.training))
        torch.rand(100)  # the hook's randomness must not leak into training
        return {"val_metric": float(event.epoch)}

    with_hook = train(load_run_config("pix2pixhd-local-tiny", overrides), tmp_path / "a", on_epoch_end=hook)
    without = train(load_run_config("pix2pixhd-local-tiny", overrides), tmp_path / "b")
    assert seen == [(1, 2, False), (2, 4, False)]
    assert [m["val_metric"] for m in with_hook.epoch_metrics] == [1.0, 2.0]
    lines = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [x.get("val_metric") for x in lines] == [None, 1.0, None, 2.0]
    wa = load_file(str(with_hook.checkpoint / checkpoint.GENERATOR))
    wb = load_file(str(without.checkpoint / checkpoint.GENERATOR))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_local_enhancer_trains_only_the_enhancer_first(tmp_path):
    """fix_global_epochs=1: during epoch 0 the global generator G1 (``model.*``) keeps its initial weights;
    afterwards it trains too (pix2pixHD's niter_fix_global)."""
    overrides = small("pix2pixhd-local-tiny", "data.max_images=2", "train.checkpoint_every=2",
                      "train.keep_checkpoints=5")
    config = load_run_config("pix2pixhd-local-tiny", [*overrides, "train.max_steps=4"])
    from pixelwise.train.recipes import build_generator

    torch.manual_seed(config.train.seed)
    initial = build_generator(config).state_dict()
    train(config, tmp_path / "run")
    after_epoch0 = load_file(str(tmp_path / "run" / "checkpoints" / "step_2" / checkpoint.GENERATOR))
    after_epoch1 = load_file(str(tmp_path / "run" / "checkpoints" / "step_4" / checkpoint.GENERATOR))
    global_keys = [k for k in initial if k.startswith("model.") and k.endswith("weight")]
    local_keys = [k for k in initial if k.startswith("model1_") and k.endswith("weight")]
    assert all(torch.equal(initial[k], after_epoch0[k]) for k in global_keys)
    assert not all(torch.equal(initial[k], after_epoch0[k]) for k in local_keys)
    assert not all(torch.equal(initial[k], after_epoch1[k]) for k in global_keys)


def test_missing_vgg_weights_stop_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    config = load_run_config("deblurgan-tiny", small("deblurgan-tiny", "loss.content=100", "loss.vgg_weights=imagenet"))
    with pytest.raises(PixelwiseError, match=r"vgg19-dcbb9e9d\.pth.*loss\.vgg_weights"):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_too_little_data_is_a_clear_error(tmp_path):
    config = load_run_config("deblurgan-tiny", small("deblurgan-tiny", "data.max_images=2", "train.batch_size=3"))
    with pytest.raises(PixelwiseError, match="train.batch_size=3"):
        train(config, tmp_path / "run")


@pytest.mark.parametrize("flags", [["train.precision=bfloat16", "train.channels_last=true"],
                                   ["train.precision=fp16"]])  # the older spelling: an alias
def test_mixed_precision_and_channels_last_on_cpu(flags, tmp_path):
    preset = "deblurgan-asap-tiny"  # gradient penalty under autocast (fp16: through the gradient scaler)
    summary = train(load_run_config(preset, small(preset, "train.max_steps=2", *flags)), tmp_path / "run")
    assert summary.step == 2 and all(torch.isfinite(torch.tensor(v)) for v in summary.losses.values())
    state = torch.load(summary.checkpoint / checkpoint.TRAINING_STATE, weights_only=True)
    assert bool(state["scaler_g"]) == ("train.precision=fp16" in flags)
    saved = load_run_config(tmp_path / "run" / "config.yaml").train.precision  # written in the one spelling
    assert saved == ("float16" if "train.precision=fp16" in flags else "bfloat16")


def test_local_enhancer_starts_from_a_trained_global_generator(tmp_path):
    """model.init_from: pix2pixhd-tiny's generator is G1 of pix2pixhd-local-tiny (pix2pixHD's load_pretrain)."""
    glob = train(load_run_config("pix2pixhd-tiny", small("pix2pixhd-tiny", "train.max_steps=1")), tmp_path / "g1")
    from pixelwise.train.recipes import build_generator

    local = build_generator(load_run_config("pix2pixhd-local-tiny", [f"model.init_from={glob.run_dir}"]))
    trained = load_file(str(glob.checkpoint / checkpoint.GENERATOR))
    shared = [k for k in local.state_dict() if k.startswith("model.")]
    assert shared and all(torch.equal(local.state_dict()[k], trained[k]) for k in shared)
    with pytest.raises(PixelwiseError, match=r"model.init_from=.*nowhere"):
        build_generator(load_run_config("pix2pixhd-local-tiny", [f"model.init_from={tmp_path / 'nowhere'}"]))
