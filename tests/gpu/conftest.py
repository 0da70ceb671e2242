"""The GPU lane: what only a real NVIDIA GPU can prove (``make test-gpu``, marker ``gpu``).

Every test here is marked ``gpu`` and skipped, with the reason, where torch is missing or sees no CUDA
device, so ``make test`` on a CPU machine stays green and fast. On a GPU machine the lane runs with the
system interpreter and its own torch (``make test-gpu``): nothing is installed, and the CLI is always
``python -m torchrig`` with ``src/`` on ``PYTHONPATH`` (see gpu_lane.py).

The modules are numbered on purpose: the ones that start the CLI in subprocesses (doctor, selftest) run
before the ones that create a CUDA context in the pytest process itself (pinned memory, training), which
holds it for the rest of the session; on a GPU in an exclusive compute mode the ranks could not start.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gpu_lane import no_gpu_reason


@pytest.fixture(autouse=True, scope="session")
def _needs_a_gpu() -> None:
    """Skip every test of the lane, saying why, where it cannot run. The modules import torch only when it can,
    so that their tests are collected, and reported as skipped, anywhere: a run that collects nothing exits 5."""
    reason = no_gpu_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def home_and_tmp(tmp_path: Path) -> tuple[Path, Path]:
    """A private HOME and TMPDIR for one CLI run."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    return home, tmp
