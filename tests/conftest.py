"""Shared fixtures: test pictures and clips (real where ../shared/data is, else generated),
the real data itself for the tests that need exactly it, the device from the environment.

STYLEVID_TEST_DATA=generated runs the suite as a plain clone would, without ../shared.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from stylevid.cli import main

from .assets import Assets, generated_assets, real_assets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
USE_SHARED = SHARED.is_dir() and os.environ.get("STYLEVID_TEST_DATA") != "generated"

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def data() -> Path:
    """The shared data folder, for the tests that check against exactly these files
    (flow ground truth, Ruder's checker on a real clip, the real masks' formats)."""
    if not USE_SHARED:
        pytest.skip(f"real-data layer: needs ../shared/data (not found at {SHARED} or "
                    "STYLEVID_TEST_DATA=generated)")
    return SHARED


@pytest.fixture(scope="session")
def assets(tmp_path_factory) -> Assets:
    """Photo, paintings, masks, sketch and clip: real where available, else generated."""
    if USE_SHARED:
        return real_assets(SHARED)
    return generated_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="session")
def device() -> torch.device:
    """STYLEVID_TEST_DEVICE (default cpu): the same suite runs on a GPU machine."""
    return torch.device(os.environ.get("STYLEVID_TEST_DEVICE", "cpu"))


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys) -> Callable[..., CliResult]:
    """The command line run in this process: ``main`` is what the ``stylevid`` script
    calls, without a new interpreter importing torch again (2-4 s a call): for mistakes,
    which the command must answer before any work, and for runs whose process does not
    matter. The tests of the installed script itself (its exit on SIGKILL and resume,
    the load note, Ray batch jobs, the README's example) run it in a subprocess."""
    def run(*args: object) -> CliResult:
        capsys.readouterr()
        threads = torch.get_num_threads()  # a render sets them for the process (--threads)
        try:
            code = main([str(a) for a in args])
        finally:
            torch.set_num_threads(threads)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
