"""Test-wide rules: no test touches the real home, the real /dev/shm/torchrig-<uid>, or the checkout.

- ``HOME`` and the XDG directories point into a fresh temporary folder for every test;
- ``TORCHRIG_SHM_DIR`` points the data caches at a private folder in /dev/shm for the whole session
  (subprocesses, DataLoader workers and torchrun ranks inherit it), removed at the end; a test that
  leaves a cache there fails the run;
- the caches the user already has in ``/dev/shm/torchrig-<uid>`` must all still be there, unchanged,
  after the run;
- no test may create or change a file in the checkout (``git status`` before and after; pytest's own
  cache and ``__pycache__`` aside).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REAL_SHM_CACHES = Path("/dev/shm") / f"torchrig-{os.geteuid()}"


@pytest.fixture(autouse=True)
def sandbox_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and the XDG directories point into a fresh temporary folder for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    for var in (
        "PIP_CONFIG_FILE",
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "UV_INDEX_URL",
        "CONDARC",
        "HF_ENDPOINT",
        "TORCHRIG_ENVS_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return home


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """name -> (inode, size) of every entry, without following links or opening anything."""
    try:
        return {e.name: (e.inode(), e.stat(follow_symlinks=False).st_size) for e in os.scandir(directory)}
    except OSError:
        return {}


@pytest.fixture(autouse=True, scope="session")
def private_shm() -> Iterator[Path]:
    """The data caches of every test go to a private folder, never to the user's /dev/shm/torchrig-<uid>."""
    users_caches = _snapshot(REAL_SHM_CACHES)
    where = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="torchrig-tests-", dir=where))
    caches = root / f"torchrig-{os.geteuid()}"
    os.environ["TORCHRIG_SHM_DIR"] = str(caches)
    try:
        yield caches
        left = sorted(p.name for p in caches.iterdir()) if caches.exists() else []
        assert not left, f"tests left these caches behind: {left}"
    finally:
        os.environ.pop("TORCHRIG_SHM_DIR", None)
        shutil.rmtree(root, ignore_errors=True)
        after = _snapshot(REAL_SHM_CACHES)
        touched = {name for name, key in users_caches.items() if after.get(name) != key}
    assert not touched, f"the test run changed or removed the user's caches in {REAL_SHM_CACHES}: {sorted(touched)}"


def _checkout_status() -> set[str] | None:
    """Every changed, new or ignored path in the checkout, as git sees it (None outside a git checkout)."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    skip = ("__pycache__/", ".pytest_cache/", ".venv/", ".egg-info/")
    return {line for line in done.stdout.splitlines() if not any(part in line for part in skip)}


@pytest.fixture(autouse=True, scope="session")
def checkout_untouched() -> Iterator[None]:
    """Fail the run if any test wrote into the checkout."""
    before = _checkout_status()
    yield
    after = _checkout_status()
    if before is not None and after is not None:
        new = sorted(after - before)
        assert not new, f"tests wrote into the checkout: {new}"


@pytest.fixture
def repo_root() -> Path:
    return REPO


def pytest_report_header(config: pytest.Config) -> str:
    return f"torchrig tests: HOME sandboxed per test; caches in a private TORCHRIG_SHM_DIR (pid {os.getpid()})"
