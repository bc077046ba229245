"""Shared test helpers. Golden fixtures are read from ../shared/fixtures/official (never copied here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "official"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # tools outside the package
FAMILY = {"asap": "asapnet", "p2phd": "pix2pixhd", "dg": "deblurgan"}


def fixture_cases() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.safetensors"))


def load_fixture(case: str) -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    meta = json.loads((FIXTURES / f"{case}.json").read_text())
    return meta, load_file(str(FIXTURES / f"{case}.safetensors"))


@pytest.fixture(autouse=True)
def _deterministic_cpu():
    torch.manual_seed(0)
    yield


@pytest.fixture
def one_thread():
    """Small models, FFTs and resizes run fastest (and steadiest on a shared 2-core machine) on one thread.
    Opt in per module: ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
