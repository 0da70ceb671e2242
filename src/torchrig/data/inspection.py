"""Looking at caches from outside, for ``torchrig cache``: list, inspect, remove, without taking part
in a cache's lifetime (see the protocol in :mod:`torchrig.data.store`, P1 and P3).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from torchrig._core.errors import UserError
from torchrig.data.cachefile import SUFFIX, read_counters, read_header, stats_of
from torchrig.data.directories import (
    check_directory,
    directory_lock,
    disk_directory,
    remove_if_empty_default,
    shm_directory,
)
from torchrig.data.lifetime import unlink_if_same


@dataclass(frozen=True)
class CacheInfo:
    path: Path
    owner_uid: int
    size: int  # bytes on the filesystem
    state: str  # "in use" | "idle" (persistent, unused) | "stale" | "foreign" | "unreadable" | "not a cache"
    problem: str | None = None
    stats: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(SUFFIX)

    def to_json(self) -> dict[str, Any]:
        """One cache as ``torchrig cache list/stats --json`` print it."""
        d: dict[str, Any] = {
            "location": str(self.path),
            "state": self.state,
            "owner_uid": self.owner_uid,
            "size_bytes": self.size,
        }
        if self.problem:
            d["problem"] = self.problem
        if self.stats:
            d.update({k: v for k, v in self.stats.items() if k != "location"})
        return d


SCHEMA = "torchrig.cache/1"  # `torchrig cache list/stats --json`


def cache_directories(extra: list[Path] | None = None) -> list[Path]:
    """Where ``torchrig cache`` looks: the default shared-memory and disk directories, then ``extra``."""
    seen: list[Path] = []
    for d in [shm_directory(), disk_directory(), *(extra or [])]:
        if d not in seen:
            seen.append(d)
    return seen


def find_cache(name: str, directories: list[Path]) -> CacheInfo:
    """The one cache ``name`` means: its full name or path, else a unique prefix of its name or its label."""
    caches = list_caches(directories)
    exact = [c for c in caches if c.name == name or str(c.path) == name]
    if exact:
        return exact[0]
    matches = [c for c in caches if c.path.name.startswith(name) or (c.stats or {}).get("label") == name]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserError(f"no cache named {name!r}; `torchrig cache list` shows the caches there are.")
    raise UserError(f"{name!r} matches several caches ({', '.join(c.name for c in matches)}); give the full name.")


def inspect_cache(path: Path, *, with_stats: bool = True) -> CacheInfo | None:
    """What ``path`` is, without taking part in its lifetime. Call with the directory lock held.

    ``with_stats=False`` skips reading the per-item tables (all that staleness needs)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        # A FIFO would block the open forever, a device is not ours to read: looked at, never opened (P1).
        kind = (
            "a symlink" if stat.S_ISLNK(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        )
        return CacheInfo(path, st.st_uid, 0, "not a cache", kind)
    try:
        # O_NONBLOCK too: something swapped in after the lstat must not block us either.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        st = os.lstat(path)
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink: never followed, never removed (P1)
            return CacheInfo(path, st.st_uid, st.st_size, "not a cache", "a symlink")
        return CacheInfo(path, st.st_uid, st.st_size, "unreadable", exc.strerror)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return CacheInfo(path, st.st_uid, 0, "not a cache", "not a regular file")
        if st.st_uid != os.geteuid():
            return CacheInfo(path, st.st_uid, st.st_blocks * 512, "foreign", f"belongs to uid {st.st_uid}")
        try:
            header = read_header(fd)
        except (ValueError, UnicodeDecodeError) as exc:
            return CacheInfo(path, st.st_uid, st.st_blocks * 512, "unreadable", str(exc))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            in_use = True
        else:
            in_use = False
            fcntl.flock(fd, fcntl.LOCK_UN)
        state = "in use" if in_use else ("idle" if header.persist else "stale")
        if not with_stats:
            return CacheInfo(path, st.st_uid, st.st_blocks * 512, state)
        t = header.tables()
        off, _, n = t["state"]
        states = np.frombuffer(os.pread(fd, n, off), np.uint8) if n else np.zeros(0, np.uint8)
        length = None
        if header.mode == "variable" and n:
            loff, _, _ = t["length"]
            length = np.frombuffer(os.pread(fd, 8 * n, loff), "<i8")
        c = read_counters(fd)
        stats = stats_of(header, path, states, length, [c["hits"], c["misses"], c["next"], c["refused"]])
        stats["created"] = header.created
        return CacheInfo(path, st.st_uid, st.st_blocks * 512, state, None, stats)
    finally:
        os.close(fd)


def list_caches(directories: list[Path]) -> list[CacheInfo]:
    out: list[CacheInfo] = []
    for d in directories:
        if not Path(d).is_dir():
            continue
        check_directory(Path(d))
        with directory_lock(Path(d)):
            for entry in sorted(os.scandir(d), key=lambda e: e.name):
                if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
                    info = inspect_cache(Path(entry.path))
                    if info is not None:
                        out.append(info)
    return out


def remove_cache(path: Path) -> str:
    """Delete one cache if no process uses it. Returns "removed", "in use", "foreign" or "not a cache file"."""
    directory = path.parent
    with directory_lock(directory):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return "removed"
        except OSError:  # a symlink (ELOOP) or something else we cannot open: not ours to delete (P1)
            return "not a cache file"
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return "not a cache file"
            if st.st_uid != os.geteuid():
                return "foreign"
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return "in use"
            unlink_if_same(path, fd)
        finally:
            os.close(fd)
        remove_if_empty_default(directory)
    return "removed"
