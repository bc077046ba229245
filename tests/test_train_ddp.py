"""DDP under torchrun: 2 gloo processes on CPU stay in lockstep; rank 0 alone writes the run directory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

from pixelwise.train import checkpoint

from .test_train_loop import small, subprocess_env

RANK_SCRIPT = textwrap.dedent("""
    import json, os, sys
    from safetensors.torch import save_file
    from pixelwise.train.config import load_run_config
    from pixelwise.train.loop import train

    preset, overrides, run_dir, out = json.loads(sys.argv[1])
    summary = train(load_run_config(preset, overrides), run_dir)
    rank = os.environ["RANK"]
    for name, module in (("generator", summary.generator), ("discriminator", summary.discriminator)):
        state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
        save_file(state, os.path.join(out, f"rank{rank}_{name}.safetensors"))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as handle:
        json.dump({"step": summary.step, "checkpoint": str(summary.checkpoint)}, handle)
""")


@pytest.mark.slow
def test_two_gloo_processes_stay_identical(tmp_path):
    """deblurgan-asap-tiny: a conditional spectral-norm discriminator (buffers updated in place, several
    forwards per backward) and the WGAN-GP double backward, the hardest case for DDP."""
    preset = "deblurgan-asap-tiny"
    overrides = small(preset, "train.max_steps=3", "train.checkpoint_every=2", "data.max_images=4")
    run, out = tmp_path / "run", tmp_path / "out"
    out.mkdir()
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
               json.dumps([preset, overrides, str(run), str(out)])]
    result = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["step"] for r in ranks] == [3, 3]
    assert ranks[0]["checkpoint"].endswith("step_3") and ranks[1]["checkpoint"] == "None"
    for name in ("generator", "discriminator"):
        zero, one = load_file(str(out / f"rank0_{name}.safetensors")), load_file(str(out / f"rank1_{name}.safetensors"))
        assert zero.keys() == one.keys()
        assert all(torch.equal(zero[k], one[k]) for k in zero), name
        saved = load_file(str(run / "checkpoints" / "step_3" / f"{name}.safetensors"))
        assert all(torch.equal(zero[k], saved[k]) for k in zero)
    assert [s for s, _ in checkpoint.list_checkpoints(run)] == [2, 3]
    state = torch.load(run / "checkpoints" / "step_3" / checkpoint.TRAINING_STATE, weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2  # every rank's random streams
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])  # per-rank dropout/crops
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3]  # logged once, by rank 0
