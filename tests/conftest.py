"""Test-wide rules: no test touches the real home, and none leaves anything in /dev/shm."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHM = Path("/dev/shm")


def _shm_entries() -> set[str]:
    try:
        return {p.name for p in SHM.iterdir() if "torchrig" in p.name}
    except OSError:
        return set()


@pytest.fixture(autouse=True)
def sandbox_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and the XDG directories point into a fresh temporary folder for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    for var in ("PIP_CONFIG_FILE", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX_URL",
                "CONDARC", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture(autouse=True, scope="session")
def shm_stays_tidy():
    """Fail the run if any test left a torchrig file or directory in /dev/shm."""
    before = _shm_entries()
    yield
    left = _shm_entries() - before
    assert not left, f"tests left these in /dev/shm: {sorted(left)}"


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def pytest_report_header(config: pytest.Config) -> str:
    return f"torchrig tests: HOME sandboxed per test; /dev/shm checked for leftovers (pid {os.getpid()})"
