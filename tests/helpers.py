"""Helpers shared by the tests: plain functions (pytest fixtures live in conftest.py). Golden fixtures are read from
../shared/fixtures/official (never copied here). Random label maps come from the library
(:func:`pixelwise.ops.random_label_maps`), the same ones bench and export use."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "official"
FAMILY = {"asap": "asapnet", "p2phd": "pix2pixhd", "dg": "deblurgan"}


def fixture_cases() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.safetensors"))


def load_fixture(case: str) -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    meta = json.loads((FIXTURES / f"{case}.json").read_text())
    return meta, load_file(str(FIXTURES / f"{case}.safetensors"))


def random_photo(h: int = 16, w: int = 16, seed: int = 0, channels: int = 3) -> np.ndarray:
    """Random uint8 pixels, (h, w, 3) (``channels=1``: (h, w))."""
    shape = (h, w, channels) if channels > 1 else (h, w)
    return np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)


def save_photo(path: str | Path, h: int = 16, w: int = 16, seed: int = 0, channels: int = 3) -> Path:
    """:func:`random_photo` written to ``path`` (format from the suffix; parent folders made); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(random_photo(h, w, seed, channels)).save(path)
    return path


def randomise_weights(model: torch.nn.Module, seed: int | None = None, std: float | None = None) -> torch.nn.Module:
    """Weights large enough that every part of the network matters (the official inits are ~0): N(0, ``std``),
    or with ``std=None`` N(0, 0.3) for vectors (norm affines, biases) and N(0, 0.35 / sqrt(fan-in)) otherwise.
    ``seed``: seed torch's global generator first (None: draw from it as it is)."""
    if seed is not None:
        torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std if std is not None else 0.3 if p.dim() == 1 else 0.35 / math.sqrt(p[0].numel()))
    return model


def one_line_error(capsys) -> str:
    """The CLI's stderr, asserted to be one line without a traceback."""
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def png_ok(path: Path, min_side: int = 50, min_bytes: int = 1000) -> bool:
    """A PNG that decodes fully, at least ``min_side`` pixels each way and ``min_bytes`` long (not a blank stub)."""
    with Image.open(path) as image:
        image.load()
        return path.stat().st_size > min_bytes and min(image.size) > min_side
