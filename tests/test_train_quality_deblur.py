"""Short runs of the tiny deblurring presets, as shipped, end no worse than doing nothing: the residual
generators start as the identity (zero-initialised output) and learn a pixel loss before any adversarial
term, so the restored held-out tile is at least as close to the sharp one as the blurred input is."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelwise.data import DataConfig, build_dataset
from pixelwise.metrics import psnr, quantize
from pixelwise.models.io import load_generator
from pixelwise.train.config import load_run_config
from pixelwise.train.loop import train

SIZES = ["data.load_height=64", "data.load_width=64", "data.crop_height=32", "data.crop_width=32",
         "data.blur_max_length=16", "data.max_images=16"]
QUIET = ["train.progress=false", "train.tensorboard=false", "train.sample_every=0", "train.checkpoint_every=0",
         "train.log_every=10"]


pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]  # trains models; conftest.one_thread


def held_out_tiles(count: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """The first bundled *test* tiles (never trained on), 64x64, blurred at strength 0.7 with their fixed
    evaluation kernels (data seed 0)."""
    config = DataConfig(format="bundled-blur", root="", load_height=64, load_width=64, blur_strength=0.7,
                        blur_max_length=16)
    dataset = build_dataset(config, "test", train=False)
    samples = [dataset[i] for i in range(count)]
    return torch.stack([s["input"] for s in samples]), torch.stack([s["target"] for s in samples])


@pytest.mark.parametrize("preset", ["deblurgan-tiny", "deblurgan-asap-tiny"])
def test_short_run_is_no_worse_than_the_identity(preset: str, tmp_path) -> None:
    blurred, sharp = held_out_tiles()
    summary = train(load_run_config(preset, [*SIZES, *QUIET, "train.max_steps=40"]), tmp_path / "run")
    generator = load_generator(summary.run_dir).eval()
    with torch.no_grad():
        restored = generator(blurred)
    before = float(np.mean(psnr(quantize(blurred), quantize(sharp))))
    after = float(np.mean(psnr(quantize(restored), quantize(sharp))))
    assert after >= before, (before, after)
    assert (restored - blurred).abs().mean() > 1e-4  # it trained: not the untouched identity
