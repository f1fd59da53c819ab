"""Shared fixtures: real data from ../shared/data, the device from the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def data() -> Path:
    """The shared data folder (real paintings, photos, video, flow ground truth)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared test data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def device() -> torch.device:
    """STYLEVID_TEST_DEVICE (default cpu): the same suite runs on a GPU machine."""
    return torch.device(os.environ.get("STYLEVID_TEST_DEVICE", "cpu"))
