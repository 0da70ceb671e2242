"""Every directory torchrig uses is resolved in one place and moves with the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from torchrig._core import paths


def test_the_xdg_variables_move_every_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var, sub in (
        ("XDG_CONFIG_HOME", "c"),
        ("XDG_STATE_HOME", "s"),
        ("XDG_CACHE_HOME", "k"),
        ("XDG_DATA_HOME", "d"),
    ):
        monkeypatch.setenv(var, str(tmp_path / sub))
    assert paths.config_dir() == tmp_path / "c" / "torchrig"
    assert paths.state_dir() == tmp_path / "s" / "torchrig"
    assert paths.cache_dir() == tmp_path / "k" / "torchrig"
    assert paths.envs_dir() == tmp_path / "d" / "torchrig" / "envs"


def test_without_xdg_variables_the_defaults_are_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "TORCHRIG_ENVS_DIR"):
        monkeypatch.delenv(var, raising=False)
    assert paths.config_dir() == tmp_path / ".config" / "torchrig"
    assert paths.state_dir() == tmp_path / ".local" / "state" / "torchrig"
    assert paths.cache_dir() == tmp_path / ".cache" / "torchrig"
    assert paths.envs_dir() == tmp_path / ".local" / "share" / "torchrig" / "envs"


def test_the_shared_memory_directory_is_the_users_own_unless_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCHRIG_SHM_DIR")
    assert paths.shm_dir() == Path("/dev/shm") / f"torchrig-{os.geteuid()}"
    monkeypatch.setenv("TORCHRIG_SHM_DIR", "/tmp/elsewhere")
    assert paths.shm_dir() == Path("/tmp/elsewhere")


def test_this_test_run_never_points_at_the_users_shared_memory_caches() -> None:
    # tests/conftest.py moves every cache of the run into a private folder, inherited by subprocesses
    assert paths.shm_dir() != Path("/dev/shm") / f"torchrig-{os.geteuid()}"
    assert "torchrig-tests-" in str(paths.shm_dir())
