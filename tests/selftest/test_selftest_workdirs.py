"""Work directories: a run's own is locked while its owner lives; what a killed owner left, the next run removes.

The owners here are real processes (a child Python that makes a work directory and waits), killed for real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from torchrig.selftest import workdirs

OWNER = (
    "import sys, time\n"
    "from torchrig.selftest import workdirs\n"
    "work = workdirs.create()\n"
    "(work.path / 'rank-0.log').write_text('a log')\n"
    "print(work.path, flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A live process holding a work directory in ``tmp_path`` (its TMPDIR), killed at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-c", OWNER],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TMPDIR=str(tmp_path)),
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        path = Path(proc.stdout.readline().strip())
        assert path.parent == tmp_path and path.name.startswith("torchrig-selftest-")
        yield proc, path
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_live_owners_directory_is_left_alone(owner: tuple[subprocess.Popen[str], Path], tmp_path: Path) -> None:
    _, path = owner
    assert workdirs.remove_abandoned(tmp_path) == []
    assert (path / "rank-0.log").read_text() == "a log"


def test_the_directory_of_an_owner_killed_with_sigkill_is_removed_by_the_next_run(
    owner: tuple[subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    proc, path = owner
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert path.exists()  # the owner had no chance to remove it
    assert workdirs.remove_abandoned(tmp_path) == [path]
    assert not path.exists()


def test_a_run_removes_its_own_directory_or_keeps_it_for_good(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # tempfile caches the directory it found first
    gone = workdirs.create()
    assert sorted(p.name for p in gone.path.iterdir()) == [workdirs.LOCK]
    gone.close(keep=False)
    assert not gone.path.exists()

    kept = workdirs.create()
    (kept.path / "rank-0.log").write_text("a log")
    kept.close(keep=True)
    assert workdirs.remove_abandoned() == []  # kept with --keep: no lock, never taken for left behind
    assert (kept.path / "rank-0.log").read_text() == "a log"


def test_only_this_users_real_directories_are_looked_at(tmp_path: Path) -> None:
    lookalike = tmp_path / "torchrig-selftest-notarun"  # no lock file: being made, or not a run's
    lookalike.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / workdirs.LOCK).write_text("")
    (tmp_path / "torchrig-selftest-link").symlink_to(target)  # never followed
    (tmp_path / "torchrig-selftest-file").write_text("")
    assert workdirs.remove_abandoned(tmp_path) == []
    assert lookalike.is_dir() and (target / workdirs.LOCK).exists()
    assert workdirs.remove_abandoned(tmp_path / "missing") == []
