"""Where caches live and who may touch them (see the protocol in :mod:`torchrig.data.store`, P1 and P2).

The default directory is the shared-memory root of :func:`torchrig._core.paths.shm_dir`
(``/dev/shm/torchrig-<uid>``, or ``$TORCHRIG_SHM_DIR``); ``persist=True`` caches, and caches that do
not fit there, go to :func:`torchrig._core.paths.cache_dir` ``/data``. A directory is created 0700 and
must be a real directory owned by us with no group/other bits.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from torchrig._core import paths
from torchrig._core.errors import UserError


def shm_directory() -> Path:
    """The default cache directory, in shared memory: ``$TORCHRIG_SHM_DIR`` or ``/dev/shm/torchrig-<uid>``."""
    return paths.shm_dir()


def disk_directory() -> Path:
    """Where persistent caches (and those /dev/shm cannot hold) go: ``$XDG_CACHE_HOME/torchrig/data``."""
    return paths.cache_dir() / "data"


def ensure_directory(directory: Path, *, create: bool = True) -> Path:
    """Create (0700) or check a cache directory: a real directory, ours, private. UserError otherwise."""
    directory = Path(directory)
    if create:
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise UserError(f"cannot create the cache directory {directory}: {exc.strerror}.") from None
    check_directory(directory, storing=True)
    return directory


def check_directory(directory: Path, *, storing: bool = False) -> None:
    """A real directory, ours, private to us: UserError otherwise.

    ``storing``: caches are about to be written there, so the error may advise making it private;
    for a listing or a removal it only says why torchrig does not touch it (`cache list --dir /etc`
    must not suggest `chmod 700 /etc`).
    """
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        raise UserError(f"the cache directory {directory} does not exist.") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UserError(
            f"{directory} is not a plain directory (a symlink or a file); remove it or choose another cache directory."
        )
    if st.st_uid != os.geteuid():
        if not storing:
            raise UserError(
                f"{directory} belongs to uid {st.st_uid}, not to you, so it holds none of your torchrig caches."
            )
        raise UserError(
            f"the cache directory {directory} belongs to uid {st.st_uid}, not to you; "
            "remove it or choose another directory."
        )
    if st.st_mode & 0o077:
        mode = f"{stat.S_IMODE(st.st_mode):03o}"
        if not storing:
            raise UserError(
                f"{directory} is open to other users (mode {mode}), and torchrig keeps caches only in "
                "directories private to you, so it does not look for them there."
            )
        raise UserError(
            f"the cache directory {directory} is accessible to other users (mode "
            f"{mode}); run `chmod 700 {directory}` or choose another directory."
        )


# The directories whose lock this thread holds. A finalizer can run (cyclic GC) anywhere, including
# inside ``directory_lock``; flock on a second description of the same directory would then wait
# for ourselves forever, so ``Handle.release`` checks this first.
_held = threading.local()


def holding(directory: Path) -> bool:
    return os.path.abspath(directory) in getattr(_held, "dirs", ())


@contextlib.contextmanager
def directory_lock(directory: Path, *, create: bool = False) -> Iterator[int]:
    """(P2) The exclusive lock that orders creation, attachment, release and cleaning in a directory.

    A releasing process removes the directory when it empties it, so after locking we check that
    the directory we hold is still the one at that path (and still ours), and retry otherwise."""
    for _ in range(10):
        if create:
            ensure_directory(directory)
        try:
            dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            if create:
                continue
            raise
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                check_directory(directory)  # raises the one-sentence error
            raise
        try:
            fcntl.flock(dfd, fcntl.LOCK_EX)
            st = os.fstat(dfd)
            if st.st_nlink == 0:
                continue  # removed while we waited for the lock: start over
            check_directory(directory)
            here = os.lstat(directory)
            if (here.st_dev, here.st_ino) != (st.st_dev, st.st_ino):
                continue
            held = _held.__dict__.setdefault("dirs", [])
            held.append(os.path.abspath(directory))
            try:
                yield dfd
            finally:
                held.remove(os.path.abspath(directory))
            return
        finally:
            os.close(dfd)
    raise UserError(f"the cache directory {directory} keeps disappearing; is another program cleaning it?")


def free_bytes(directory: Path) -> int:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def default_budget(free: int) -> int:
    """What a cache may take of ``free`` bytes: leave a quarter (at least 256 MiB) for everything else,
    the DataLoader's own per-batch shared memory included."""
    return max(0, free - max(free // 4, 256 << 20))


def remove_if_empty_default(directory: Path) -> None:
    """Leave /dev/shm as we found it: drop our default directory there once it is empty.
    Directories the user chose are theirs, and are never removed."""
    if directory == shm_directory():
        with contextlib.suppress(OSError):
            os.rmdir(directory)  # fails, harmlessly, unless empty
