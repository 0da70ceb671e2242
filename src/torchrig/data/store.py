"""The shared cache store: one file of raw records per dataset, shared by every process on the node.

This module and its neighbours need only numpy and the standard library (``torchrig cache`` imports
them without torch). The protocol below is the contract of all of them: :mod:`.directories` (P1,
P2's directory lock), :mod:`.cachefile` (the format), :mod:`.lifetime` (P3), this module (P2, P4-P6:
creating, attaching, reading, writing) and :mod:`.inspection` (what ``torchrig cache`` shows).

Protocol
========

Read this before changing anything below; the code refers back to these sections as "(P1)" etc.

(P1) Where a cache lives, and who may touch it.
     A cache is one file ``<dir>/<label>-<fingerprint>.cache``. The default ``<dir>`` is
     ``/dev/shm/torchrig-<uid>`` (``~/.cache/torchrig/data`` for ``persist=True`` or when /dev/shm is
     too small). The directory is created 0700 and must be a real directory owned by us with no
     group/other bits; files are created 0600 and opened with ``O_NOFOLLOW``; every attach checks
     the file's owner. Anything else is refused with one sentence, never followed or deleted.

(P2) Creating and attaching (both under an exclusive ``flock`` on the directory itself).
     The creator writes the file under a temporary name, reserves its full size with
     ``posix_fallocate`` (an undersized tmpfs fails here with ENOSPC, never later with SIGBUS on
     a page that was never backed), writes the header, takes its lifetime lock (P3), and only then
     renames it into place. So a file visible under its final name is always complete and locked.
     An attacher opens the final name, checks owner and header (magic, format version,
     fingerprint, sizes) and takes its lifetime lock. Nothing read from the header is unpickled:
     it is fixed binary fields plus a JSON spec that :mod:`torchrig.data.layout` validates.

(P3) Lifetime: a shared ``flock`` held by every process that uses the cache.
     Each process holds ``LOCK_SH`` on its own open file description. A forked child inherits
     its parent's description, so on first use in a new pid it opens ``/proc/self/fd/N`` to get
     its own description and lock (see ``_Handle.own``). On release (garbage collection or
     interpreter exit) a process, under the directory lock, drops its lock and tries ``LOCK_EX |
     LOCK_NB``: success means no other process holds the cache, and it unlinks the file (unless
     the cache is persistent). A process that dies without releasing loses its locks with its
     file descriptors, so a cache whose users are all gone is one nobody holds: the next attach
     in that directory, and ``torchrig cache clear``, delete such stale caches (a stale cache with
     the very name the attaching job needs is adopted instead: its READY records are valid).

(P4) Slots, states and who writes them.
     Each item ``i`` has a state byte: 0 EMPTY, 1 CLAIMED (being written by pid ``owner[i]``),
     2 READY. Items are only ever added (MinIO: fill, never evict), so a READY item never changes.
     - *direct* (fixed-size items, all fit): item ``i`` lives in slot ``i``. Any process that
       missed ``i`` may write slot ``i`` with no lock: the cached stage is deterministic, so
       concurrent writers write identical bytes. It writes the record, then sets state 2.
     - *slots* (fixed-size, only some fit) and *variable*: a writer first claims ``i`` under the
       allocation lock (a POSIX record lock on byte 1 of the file): EMPTY -> CLAIMED, with a slot
       (or a byte range) taken from the bump counter in the header. A claim whose owner pid no
       longer exists is taken over with its space. When the counter reaches the capacity nothing
       more is claimed: the hit rate is then the fraction cached, every epoch (CoorDL's MinIO).
       The claimer writes the record, then sets state 2.

(P5) Visibility.
     A record becomes visible when its state byte turns 2, which happens after the record's bytes
     are stored. On x86-64 (TSO) stores become visible in program order and loads are not
     reordered with loads, so a reader that sees 2 sees the whole record. On other CPUs the cache is
     created with checksums: the writer stores a CRC-32 before the state, and readers verify it
     and treat a mismatch as a miss. Readers copy records out (one copy per batch) before handing
     them on, so no caller ever holds a view that aliases the shared file.

(P6) What a crash leaves.
     A writer killed before the state byte turns 2 leaves the item EMPTY (direct) or CLAIMED by a
     dead pid: both read as a miss and are rewritten by the next process that misses them; never a
     torn sample. A creator killed mid-creation leaves only a temporary file, which the next
     attach deletes. Hit and miss counters are flushed under a POSIX record lock on byte 0 once per
     batch, so a killed worker loses at most its last batch's counts.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import stat
import struct
import sys
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from torchrig._core.errors import UserError
from torchrig.data.cachefile import (
    CLAIMED,
    FIXED_HEAD,
    FORMAT_VERSION,
    LOCK_ALLOC,
    LOCK_STATS,
    MAGIC,
    OFF_HITS,
    READY,
    SUFFIX,
    Header,
    cache_path,
    read_header,
    stats_of,
)
from torchrig.data.directories import directory_lock, free_bytes
from torchrig.data.inspection import inspect_cache
from torchrig.data.layout import round_up
from torchrig.data.lifetime import Handle, finalizer, pid_alive, unlink_if_same

if TYPE_CHECKING:
    # numpy's stubs declare ndarray.__buffer__ only for Python >= 3.12, so mypy (python_version 3.10) does
    # not see arrays as buffers; they are, and the casts below say so without copying anything.
    from typing_extensions import Buffer


def pwrite_all(fd: int, parts: list[np.ndarray], offset: int) -> None:
    views = [memoryview(cast("Buffer", np.ascontiguousarray(p))).cast("B") for p in parts if p.size]
    while views:
        batch = views[:512]  # IOV_MAX is 1024
        written = os.pwritev(fd, batch, offset)
        offset += written
        # Drop what was written; a short write (possible in principle) resumes mid-buffer.
        while batch and written >= len(batch[0]):
            written -= len(batch[0])
            batch.pop(0)
            views.pop(0)
        if written:
            views[0] = views[0][written:]


class SharedStore:
    """An open cache file: raw records, per-item states, shared counters. See the protocol above."""

    def __init__(self, path: Path, fd: int, header: Header) -> None:
        self.path = path
        self.header = header
        self._handle = Handle(path, fd, header.persist)
        self._finalizer = finalizer(self, self._handle)
        size = header.file_size()
        self._mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        t = header.tables()
        self._t = {name: np.frombuffer(self._mm, dtype=dt, count=n, offset=off) for name, (off, dt, n) in t.items()}
        self.state = self._t["state"]
        self._data_offset = t["data"][0]
        self.data = self._t["data"]
        if header.record_size:
            self.records = self.data[: header.slots * header.record_size].reshape(header.slots, header.record_size)
        self._counters = np.frombuffer(self._mm, dtype="<i8", count=4, offset=OFF_HITS)
        self._local = threading.Lock()
        self._pending_hits = 0
        self._pending_misses = 0
        self._pending_refused = 0
        self._spare: np.ndarray | None = None
        self.attached = False  # True: opened an existing cache (its capacity wins, P2), not created it

    # -- (P3) ---------------------------------------------------------------------------------------
    def _own(self) -> None:
        if self._handle.pid != os.getpid():
            self._handle.own()
            self._finalizer = finalizer(self, self._handle)  # the parent's is not run in a child

    def close(self) -> None:
        self.flush()
        self._finalizer()

    @property
    def fd(self) -> int:
        self._own()
        return self._handle.fd

    @contextlib.contextmanager
    def _record_lock(self, byte: int) -> Iterator[None]:
        fd = self.fd
        with self._local:
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, byte)
            try:
                yield
            finally:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, byte)

    # -- reading (P5) -------------------------------------------------------------------------------
    def read_fixed(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hit mask, a private copy of the hit records in order). Fixed formats only."""
        hit = self.state[indices] == READY
        idx = indices[hit]
        slots = idx if self.header.mode == "direct" else self._t["where"][idx]
        if self.header.mode == "slots" and len(slots) and (slots.min() < 0 or slots.max() >= self.header.slots):
            raise ValueError(f"the cache {self.path} holds a slot number out of range; clear it")
        recs = np.take(self.records, slots, axis=0, mode="clip", out=self._read_buffer(len(slots)))
        if self.header.checksums and len(idx):
            good = np.array([zlib.crc32(r) for r in recs], dtype=np.uint32) == self._t["crc"][idx]
            if not good.all():
                hit[np.flatnonzero(hit)[~good]] = False
                recs = recs[good]
        return hit, recs

    def _read_buffer(self, rows: int) -> np.ndarray:
        """Where a batch of records is copied to: a fresh array, or last batch's once nothing uses it.

        Decoded items are views that keep their base array alive, so a reference count of 2 (our
        attribute and getrefcount's argument) proves every item of the previous batch is gone. It is
        counted before any local name is bound to the buffer (a local would be a third reference).
        Reusing it saves faulting in ~10 MB of fresh pages per batch (P5: callers still never see
        shared memory)."""
        with self._local:  # the check and the view that marks it taken, as one step among threads
            if self._spare is None or self._spare.shape[0] < rows or sys.getrefcount(self._spare) > 2:
                self._spare = np.empty((max(rows, 1), self.header.record_size), np.uint8)
            return self._spare[:rows]

    def read_variable(self, i: int) -> np.ndarray | None:
        if self.state[i] != READY:
            return None
        off, length = int(self._t["where"][i]), int(self._t["length"][i])
        if off < 0 or length < 0 or off + length > self.header.capacity:
            raise ValueError(f"the cache {self.path} holds a record outside its data area; clear it")
        rec: np.ndarray = self.data[off : off + length].copy()
        if self.header.checksums and zlib.crc32(cast("Buffer", rec)) != int(self._t["crc"][i]):
            return None
        return rec

    # -- writing (P4) -------------------------------------------------------------------------------
    def write(self, i: int, parts: list[np.ndarray]) -> bool:
        """Store item ``i`` from its record parts; False when it is already there, being written
        elsewhere, or there is no space (MinIO)."""
        size = sum(p.size for p in parts)
        if self.state[i] == READY:
            return False
        mode = self.header.mode
        start: int | None
        if mode == "direct":
            start = i * self.header.record_size
        else:
            start = self._claim(i, size)
            if start is None:
                return False
        # pwritev, not stores through the mapping: the kernel copies into the file's pages directly,
        # sparing a write fault per 4 KiB page in every (fresh) worker process.
        pwrite_all(self.fd, parts, self._data_offset + start)
        if self.header.checksums:
            self._t["crc"][i] = zlib.crc32(cast("Buffer", self.data[start : start + (self.header.record_size or size)]))
        self.state[i] = READY  # (P5): the record's bytes are stored; now it may be seen
        return True

    def _claim(self, i: int, size: int) -> int | None:
        h = self.header
        where, owner = self._t["where"], self._t["owner"]
        me = os.getpid()
        with self._record_lock(LOCK_ALLOC):
            s = self.state[i]
            if s == READY:
                return None
            if s == CLAIMED and int(owner[i]) != me and pid_alive(int(owner[i])):
                return None  # someone is writing it right now
            if s == CLAIMED and (h.mode == "slots" or int(self._t["length"][i]) >= size):
                owner[i] = me  # (P6): take over a dead writer's claim and its space
                return int(where[i]) * h.record_size if h.mode == "slots" else int(where[i])
            nxt = int(self._counters[2])
            if h.mode == "slots":
                if nxt >= h.slots:
                    self._pending_refused += 1
                    return None
                where[i], self._counters[2] = nxt, nxt + 1
                start = nxt * h.record_size
            else:
                need = round_up(size, 64)
                if nxt + need > h.capacity:
                    self._pending_refused += 1
                    return None
                where[i], self._counters[2] = nxt, nxt + need
                self._t["length"][i] = size
                start = nxt
            owner[i] = me
            self.state[i] = CLAIMED
            return start

    # -- counters (P6) ------------------------------------------------------------------------------
    def count(self, hits: int, misses: int) -> None:
        self._pending_hits += hits
        self._pending_misses += misses

    def flush(self) -> None:
        if not (self._pending_hits or self._pending_misses or self._pending_refused) or self._handle.closed:
            return
        with self._record_lock(LOCK_STATS):
            self._counters[0] += self._pending_hits
            self._counters[1] += self._pending_misses
            self._counters[3] += self._pending_refused
        self._pending_hits = self._pending_misses = self._pending_refused = 0

    def stats(self) -> dict:
        self.flush()
        return stats_of(self.header, self.path, self.state, self._t.get("length"), self._counters.tolist())


def open_store(directory: Path, header: Header) -> SharedStore:
    """Attach to the cache ``header`` describes in ``directory``, creating it if absent (P2).

    Raises :class:`NoSpace` when the directory's filesystem cannot hold it."""
    directory = Path(directory)
    path = cache_path(directory, header.label, header.fingerprint)
    for _ in range(3):
        with directory_lock(directory, create=True):
            clean_stale(directory, keep=path)
            try:
                fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                fd = _create(directory, path, header)
                return SharedStore(path, fd, header)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise UserError(
                        f"{path} is a symlink; torchrig never follows links in its cache directory, remove it."
                    ) from None
                raise
            try:
                existing = _check_file(path, fd)
                if _same_cache(existing, header):
                    fcntl.flock(fd, fcntl.LOCK_SH)
                    store = SharedStore(path, fd, existing)
                    store.attached = True
                    return store
                # Same name, different content: a cache for another capacity or an older build.
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise UserError(
                        f"the cache {path} is in use with a different item layout; "
                        "pass a different name= or wait for the other job to finish."
                    ) from None
                unlink_if_same(path, fd)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
    raise UserError(f"could not attach to the cache {path}; another process keeps replacing it.")


def attach_existing(directory: Path, header: Header) -> SharedStore | None:
    """Attach to the cache ``header`` describes if one is already in ``directory``; never create or replace.

    For a caller with no room to create one: a cache another rank or an earlier run made is still usable
    (its capacity wins, P2), however full the disk has become since."""
    directory = Path(directory)
    path = cache_path(directory, header.label, header.fingerprint)
    if not directory.is_dir() or not path.exists():
        return None
    with directory_lock(directory):
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, OSError):
            return None
        try:
            existing = _check_file(path, fd)
            if not _same_cache(existing, header):
                os.close(fd)
                return None
            fcntl.flock(fd, fcntl.LOCK_SH)
            store = SharedStore(path, fd, existing)
        except BaseException:
            os.close(fd)
            raise
        store.attached = True
        return store


def _same_cache(a: Header, b: Header) -> bool:
    """Same data and record format. Capacity and mode may differ (each rank sizes its budget from the
    free space it sees): whoever attaches second adopts the existing cache's."""
    return (a.fingerprint, a.n_items, a.record_size, a.spec) == (b.fingerprint, b.n_items, b.record_size, b.spec)


def _check_file(path: Path, fd: int) -> Header:
    st = os.fstat(fd)
    if st.st_uid != os.geteuid():
        raise UserError(
            f"the cache file {path} belongs to uid {st.st_uid}, not to you; torchrig will not use it "
            "(remove it, or choose another directory)."
        )
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{path} is not a regular file; remove it.")
    if st.st_mode & 0o077:
        os.fchmod(fd, 0o600)  # ours, but readable by others: make it private again (P1)
    try:
        return read_header(fd)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(
            f"{path} is not a usable torchrig cache ({exc}); remove it with `torchrig cache clear`."
        ) from None


class NoSpace(Exception):
    """The filesystem cannot hold the cache (posix_fallocate said ENOSPC)."""

    def __init__(self, directory: Path, size: int, free: int) -> None:
        super().__init__(f"{directory} has {free >> 20} MiB free, the cache needs {size >> 20} MiB")
        self.directory, self.size, self.free = directory, size, free


def _create(directory: Path, path: Path, header: Header) -> int:
    size = header.file_size()
    tmp = directory / f".{path.name}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        try:
            # (P2) Reserve every byte now: ENOSPC here, not SIGBUS on first touch of an unbacked page.
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                raise NoSpace(directory, size, free_bytes(directory)) from None
            raise
        blob = header.to_json()
        os.pwrite(fd, MAGIC + struct.pack("<II", FORMAT_VERSION, len(blob)), 0)
        os.pwrite(fd, blob, FIXED_HEAD)
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.rename(tmp, path)
        return fd
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def clean_stale(directory: Path, keep: Path | None = None) -> list[Path]:
    """Delete caches nobody holds (their users died) and leftover temporary files (P3, P6).

    Must be called with the directory lock held. Persistent caches and other users' files stay."""
    removed: list[Path] = []
    for entry in os.scandir(directory):
        p = Path(entry.path)
        if entry.name.startswith(".") and ".tmp-" in entry.name and entry.is_file(follow_symlinks=False):
            if entry.stat(follow_symlinks=False).st_uid == os.geteuid():
                with contextlib.suppress(OSError):
                    os.unlink(p)
                    removed.append(p)
            continue
        if not entry.name.endswith(SUFFIX) or p == keep:
            continue
        info = inspect_cache(p, with_stats=False)
        if info is not None and info.state == "stale":
            with contextlib.suppress(OSError):
                os.unlink(p)
                removed.append(p)
    return removed
