"""pytest fixtures shared by the tests (plain helper functions: tests/helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # tools outside the package


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
