"""Replacing a file (a config file, an env marker) so a crash leaves the old bytes or the new, never half.

The steps (the order matters):

1. resolve symlinks first, so a symlinked dotfile (``~/.condarc -> dotfiles/condarc``) keeps its link
   and the real file gets the new bytes (replacing the link is the bug in lnav #1489);
2. write a temporary file in the *same* directory (``os.replace`` is atomic only within a filesystem);
3. ``fsync`` it and give it the old file's mode (a fresh file gets 0666 minus the umask, as an editor would);
4. ``os.replace`` it over the real file, then ``fsync`` the directory so the rename itself is durable.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def real_path(path: Path | str) -> Path:
    """Where the bytes of ``path`` actually live (symlinks followed, even a dangling one)."""
    return Path(os.path.realpath(os.path.expanduser(str(path))))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_bytes(path: Path | str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        with open(real_path(path), "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):  # a path under a plain file cannot exist either
        return None


def file_mode(path: Path | str) -> int | None:
    try:
        return stat.S_IMODE(os.stat(real_path(path)).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None


def file_in_the_way(path: Path | str) -> Path | None:
    """The nearest folder on the way to ``path`` that exists as something other than a folder, if any.

    ``~/.config/pip`` being a plain file means ``~/.config/pip/pip.conf`` can be neither read nor written.
    """
    real = real_path(path)
    for parent in reversed(real.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def read_only(mode: int | None) -> bool:
    """Whether a file with permission bits ``mode`` was made read-only by its owner (``chmod 444``).

    The owner's write bit, not ``os.access``: root may write anything, yet a user who ran
    ``chmod 444`` as root meant it just the same.
    """
    return mode is not None and not mode & stat.S_IWUSR


def write_atomic(path: Path | str, data: bytes, *, mode: int | None = None) -> Path:
    """Atomically give ``path`` (its symlink target) the bytes ``data``; returns the real path written.

    ``mode``: the permission bits to set; by default the existing file's, or 0666 minus the umask.
    """
    real = real_path(path)
    real.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = file_mode(real)
    if mode is None:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".torchrig-tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), mode)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(real.parent)
    return real


def remove_file(path: Path | str) -> None:
    """Remove the real file behind ``path`` (not a symlink pointing at it); absent is fine."""
    real = real_path(path)
    try:
        os.unlink(real)
    except FileNotFoundError:
        return
    _fsync_dir(real.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
