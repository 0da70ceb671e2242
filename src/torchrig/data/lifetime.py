"""A process's part in a cache's lifetime (see the protocol in :mod:`torchrig.data.store`, P3):
the shared ``flock`` every user holds, taken anew in a forked child, dropped on release, and the
last user out removing the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing.util
import os
from pathlib import Path

from torchrig.data.directories import directory_lock, holding, remove_if_empty_default


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Handle:
    """One process's lifetime lock on a cache file (P3). Shared by the store and its finalizer."""

    def __init__(self, path: Path, fd: int, persist: bool) -> None:
        self.path = path
        self.fd = fd
        self.pid = os.getpid()
        self.persist = persist
        self.closed = False

    def own(self) -> None:
        """In a forked child: take our own open file description and shared lock (P3)."""
        if self.pid == os.getpid() or self.closed:
            return
        fd = os.open(f"/proc/self/fd/{self.fd}", os.O_RDWR | os.O_CLOEXEC)
        fcntl.flock(fd, fcntl.LOCK_SH)
        self.fd, self.pid = fd, os.getpid()

    def release(self) -> None:
        if self.closed or self.pid != os.getpid():
            return  # a forked child that never used the cache: its parent's lock is not ours to drop
        self.closed = True
        if holding(self.path.parent):
            # Collected while this thread holds the directory lock: waiting for it would deadlock.
            # Dropping the lifetime lock is enough; the cache is then stale and the next attach or
            # `torchrig cache clear` removes it (P3).
            with contextlib.suppress(OSError):
                os.close(self.fd)
            return
        try:
            with directory_lock(self.path.parent):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                if not self.persist:
                    try:
                        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        pass  # another process still uses it: the last one out removes it
                    else:
                        unlink_if_same(self.path, self.fd)
                os.close(self.fd)
                remove_if_empty_default(self.path.parent)
        except Exception:  # a finalizer never raises: at worst the cache is left for the cleaner (P3)
            with contextlib.suppress(OSError):
                os.close(self.fd)


def unlink_if_same(path: Path, fd: int) -> None:
    """Unlink ``path`` if it is still the file open as ``fd`` (not a newer cache of the same name)."""
    try:
        a, b = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except FileNotFoundError:
        return
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
        os.unlink(path)


def finalizer(owner: object, handle: Handle) -> multiprocessing.util.Finalize:
    """Release ``handle`` when ``owner`` is garbage collected, or at exit (P3).

    A multiprocessing finalizer with a negative priority, not ``atexit``/``weakref.finalize``: at
    interpreter exit multiprocessing first terminates and joins daemonic children (DataLoader
    workers, persistent ones included) and only then runs these, so the main process releases last
    and removes the cache. A worker process runs its own at a clean exit."""
    return multiprocessing.util.Finalize(owner, Handle.release, args=(handle,), exitpriority=-10)
