"""The self-test's work directories, and the ones a killed run left behind.

A run works in ``$TMPDIR/torchrig-selftest-XXXX`` (under torchrun, one per rank:
``torchrig-selftest-rankN-XXXX``): the rank logs, the checkpoints, the sample cache. Its owner removes
it at the end, on an error and on the signals that end it (see :mod:`torchrig.selftest.launcher`, (6)).
A SIGKILL gives the owner no chance to, so the next run does:

- while its owner runs, a directory holds ``owner.lock`` with an exclusive ``flock`` on it. The kernel
  releases the lock when the owner dies, however it dies; a directory whose lock nobody holds was left
  behind, and :func:`remove_abandoned` (which every run calls first) removes it;
- the lock file appears already locked (it is locked under a temporary name, then renamed), so no one
  ever finds a live run's directory unlocked; a directory without a lock file is still being made, was
  kept with ``--keep`` (its lock file is removed when it is kept), or is not ours: it is never touched;
- only directories of this user are looked at, never through a symbolic link.

``torchrig cache clear --all`` removes the same leftovers (with ``--dry-run``, names them).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from pathlib import Path

PREFIX = "torchrig-selftest-"
LOCK = "owner.lock"


class WorkDir:
    """A work directory held by this process until :meth:`close`."""

    def __init__(self, path: Path, lock_fd: int | None) -> None:
        self.path = path
        self._lock_fd = lock_fd

    def close(self, *, keep: bool) -> None:
        """Remove the directory, or keep it without its lock (so no later run takes it for left behind)."""
        if keep:
            with contextlib.suppress(OSError):
                (self.path / LOCK).unlink()
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock, after the directory is gone or made a kept one
            self._lock_fd = None


def create(prefix: str = PREFIX) -> WorkDir:
    """A fresh work directory in the temporary directory, locked by this process."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    pending = path / f".{LOCK}.new"
    fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a new file no one else has opened: never waits
        os.rename(pending, path / LOCK)
    except BaseException:
        os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
        raise
    return WorkDir(path, fd)


def remove_abandoned(root: Path | None = None, *, dry_run: bool = False) -> list[Path]:
    """Remove this user's work directories in ``root`` (the temporary directory) whose owner is gone.

    ``dry_run=True`` removes nothing and returns the directories that would have been removed
    (``torchrig cache clear --all --dry-run``)."""
    where = Path(root) if root is not None else Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(where))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            continue
        if _abandoned_then_removed(Path(entry.path), dry_run=dry_run):
            removed.append(Path(entry.path))
    return sorted(removed)


def disk_usage(path: Path) -> int:
    """Bytes the files under ``path`` take on their filesystem (links are counted, never followed)."""
    total = 0
    for top, dirs, files in os.walk(path, followlinks=False):
        for name in [*dirs, *files]:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(top, name)).st_blocks * 512
    return total


def _abandoned_then_removed(path: Path, *, dry_run: bool = False) -> bool:
    try:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:  # no lock file: being made, kept, or not a run's; or a link: not ours to follow
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its owner is running
            return False
        if dry_run:
            return True  # closing the descriptor below lets the lock go
        shutil.rmtree(path, ignore_errors=True)  # holding the lock, so no other run removes it at once
        return not path.exists()
    finally:
        os.close(fd)
