"""scripts/gpu_train.sh (the v2 deblurrers trained on a GPU): its CPU rehearsal, tiny and plumbing only: both presets
train, each model folder is written under $OUT/models, loads by path, is fp16 and within the 16 MiB bound."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
COMMON = "data.blur_max_length=8 data.validate=off train.log_every=1"
TINY = {  # per preset: tiny widths (plumbing only)
    "deblurgan-asap-medium": "model.options.lr_width=4 model.options.lr_max_width=8 "
                             "model.options.lr_unet_enc_blocks=[1] model.options.lr_unet_dec_blocks=[1] "
                             "model.options.hr_width=4",
    "deblurgan-medium": "model.options.unet_width=4 model.options.unet_enc_blocks=[1,1] "
                        "model.options.unet_dec_blocks=[1,1] model.options.unet_middle_blocks=1",
}


@pytest.mark.slow
def test_gpu_train_script_cpu_rehearsal(tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    photos = tmp_path / "photos" / "train"
    photos.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(photos / f"p{i}.png")
    out = tmp_path / "out"
    for preset, tiny in TINY.items():
        env = {**os.environ, "DEVICE": "cpu", "STEPS": "2", "BATCH": "2", "CROP": "32", "WORKERS": "0",
               "OUT": str(out), "PHOTOS": str(tmp_path / "photos"), "MODELS": preset, "EXTRA": f"{tiny} {COMMON}",
               "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
        result = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_train.sh")], env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    import torch
    from safetensors.torch import load_file

    import pixelwise

    for name in ("deblurgan-asap-medium-gpu", "deblurgan-medium-gpu"):
        folder = out / "models" / name
        weights = folder / "model.safetensors"
        assert weights.stat().st_size <= 16 * 1024 * 1024
        assert all(t.dtype == torch.float16 for t in load_file(weights).values() if t.is_floating_point())
        model = pixelwise.from_pretrained(folder).eval()
        with torch.no_grad():
            assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)
        assert "gpu_train.sh" in (folder / "README.md").read_text()
