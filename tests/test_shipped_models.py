"""The deblurrers shipped inside the package (pixelwise/deblurgan-small, pixelwise/deblurgan-asap-small): they
load offline by name, their files are what the issue allows (fp16 safetensors <= 8 MB, a model card with Hugging
Face front matter and the exact training command), and they make held-out photos sharper at every blur strength
they were trained for (scikit-image's coffee and chelsea: test-split photos no training photo comes from)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file

import pixelwise
from pixelwise import hub
from pixelwise.data.blur import motion_blur, sample_kernel
from pixelwise.deblur import DEFAULT_DEBLUR_MODEL
from pixelwise.train.config import load_run_config

SHIPPED = ("deblurgan-small", "deblurgan-asap-small", "deblurgan-medium")
STRENGTHS = (0.25, 0.5, 0.75, 1.0)
# dB over the blurred input at strength 0.5, at the path length each model trained on (see each model card): the
# v1 small models at 12 px, the v2 medium model at 60 px (on these 256-px-wide photos a 60-px path is a blur of
# a quarter of the width: measured +0.32 dB, 2026-12-07)
GAIN_AT_HALF = {"deblurgan-small": 0.5, "deblurgan-asap-small": 0.5, "deblurgan-medium": 0.2}


def test_the_shipped_models_are_packaged_and_the_default_is_one_of_them() -> None:
    assert set(SHIPPED) <= set(hub.packaged_names())
    assert DEFAULT_DEBLUR_MODEL.split("/")[1] in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_files_fp16_small_and_a_card_with_front_matter(name: str) -> None:
    folder = hub.PACKAGED_ROOT / name
    weights = folder / "model.safetensors"
    assert weights.stat().st_size <= 8 * 1024 * 1024
    tensors = load_file(str(weights))
    assert {t.dtype for t in tensors.values() if t.is_floating_point()} == {torch.float16}
    text = (folder / "README.md").read_text()
    front = yaml.safe_load(text.split("---")[1])
    assert front["library_name"] == "pixelwise" and front["license"]
    assert {"psnr", "ssim"} <= set(front["metrics"]) and front["datasets"] and "deblurring" in front["tags"]
    assert f"pixelwise train {name} " in text  # the exact training command
    # v1: measured by benchmarks/shipped_deblurrers.py; v2: by benchmarks/deblur_realworld.py (camera scale)
    assert "## Training" in text and ("## Results" if name.endswith("-small") else "## Real-photo benchmark") in text


def held_out_photos() -> list[torch.Tensor]:
    skimage_data = pytest.importorskip("skimage.data")
    photos = []
    for name in ("coffee", "chelsea"):  # bundled-blur's test split: no training photo comes from them
        image = Image.fromarray(getattr(skimage_data, name)())
        image = image.resize((256, round(image.height * 256 / image.width)), Image.Resampling.LANCZOS)
        array = np.asarray(image)[:128, 64:192]
        photos.append(torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 127.5 - 1)
    return photos


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    a8, b8 = ((a.clamp(-1, 1) + 1) * 127.5).round(), ((b + 1) * 127.5).round()
    return float(10 * torch.log10(255.0**2 / (a8 - b8).pow(2).mean()))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_sharpens_held_out_photos_at_every_strength(name: str, one_thread: None) -> None:
    model = pixelwise.from_pretrained(f"pixelwise/{name}")
    max_length = load_run_config(name).data.blur_max_length  # the blur its preset trained on (12 px)
    photos = held_out_photos()
    gains = {}
    for strength in STRENGTHS:
        blurred_psnr, restored_psnr = [], []
        for i, sharp in enumerate(photos):
            kernel = sample_kernel(1000 + i, strength, max_length).kernel.astype("float32")
            blurred = ((motion_blur(sharp, kernel).clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1
            with torch.no_grad():
                restored = model(blurred[None])[0]
            blurred_psnr.append(psnr(blurred, sharp))
            restored_psnr.append(psnr(restored, sharp))
        gains[strength] = float(np.mean(restored_psnr) - np.mean(blurred_psnr))
    assert all(g > 0 for g in gains.values()), gains
    assert gains[0.5] > GAIN_AT_HALF[name], gains
