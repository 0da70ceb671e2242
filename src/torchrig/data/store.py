"""The shared cache store: one file of raw records per dataset, shared by every process on the node.

This module needs only numpy and the standard library (``torchrig cache`` imports it without torch).

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
import json
import mmap
import multiprocessing.util
import os
import platform
import re
import stat
import struct
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from torchrig.data.layout import _round
from torchrig._core.errors import UserError

FORMAT_VERSION = 1
MAGIC = b"TRIGCACH"
SUFFIX = ".cache"
_PAGE = 4096
_FIXED_HEAD = 128  # magic, version, json length, counters (see _Header)
_OFF_HITS, _OFF_MISSES, _OFF_NEXT, _OFF_REFUSED = 64, 72, 80, 88
_LOCK_STATS, _LOCK_ALLOC = 0, 1
EMPTY, CLAIMED, READY = 0, 1, 2
_MAX_JSON = 1 << 20
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# (P5): x86 keeps store order; elsewhere the records carry checksums.
_TSO = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


# ----- directories (P1) ----------------------------------------------------------------------------

def shm_directory() -> Path:
    return Path("/dev/shm") / f"torchrig-{os.geteuid()}"


def disk_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "torchrig" / "data"


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
    check_directory(directory)
    return directory


def check_directory(directory: Path) -> None:
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        raise UserError(f"the cache directory {directory} does not exist.") from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UserError(f"{directory} is not a plain directory (a symlink or a file); remove it or choose another cache directory.")
    if st.st_uid != os.geteuid():
        raise UserError(f"the cache directory {directory} belongs to uid {st.st_uid}, not to you; "
                        "remove it or choose another directory.")
    if st.st_mode & 0o077:
        raise UserError(f"the cache directory {directory} is accessible to other users (mode "
                        f"{stat.S_IMODE(st.st_mode):03o}); run `chmod 700 {directory}` or choose another directory.")


# The directories whose lock this thread holds. A finalizer can run (cyclic GC) anywhere, including
# inside ``directory_lock``; flock on a second description of the same directory would then wait
# for ourselves forever, so ``_Handle.release`` checks this first.
_held = threading.local()


def _holding(directory: Path) -> bool:
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


# ----- the header ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Header:
    """The immutable description of a cache, stored as JSON after the fixed fields."""

    fingerprint: str
    label: str
    n_items: int
    mode: str  # "direct" | "slots" | "variable"
    record_size: int  # fixed formats; 0 for variable
    capacity: int  # bytes of the data area
    spec: dict
    persist: bool
    checksums: bool
    created: float
    creator_pid: int

    @property
    def slots(self) -> int:
        return self.capacity // self.record_size if self.record_size else 0

    def tables(self) -> dict[str, tuple[int, str, int]]:
        """name -> (offset, dtype, count) of the per-item tables, and the data offset."""
        out: dict[str, tuple[int, str, int]] = {}
        pos = _round(_FIXED_HEAD + len(self.to_json()), _PAGE)
        names = [("state", "u1"), ("crc", "<u4")]
        if self.mode != "direct":
            names += [("where", "<i8"), ("owner", "<i4")]
        if self.mode == "variable":
            names += [("length", "<i8")]
        for name, dt in names:
            out[name] = (pos, dt, self.n_items)
            pos = _round(pos + np.dtype(dt).itemsize * self.n_items, 64)
        out["data"] = (_round(pos, _PAGE), "u1", self.capacity)
        return out

    def file_size(self) -> int:
        off, _, n = self.tables()["data"]
        return off + n

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Header:
        d = json.loads(raw.decode("utf-8"))
        types = {"fingerprint": str, "label": str, "n_items": int, "mode": str, "record_size": int, "capacity": int,
                 "spec": dict, "persist": bool, "checksums": bool, "created": (int, float), "creator_pid": int}
        if not isinstance(d, dict) or set(d) != set(types) or not all(isinstance(d[k], t) for k, t in types.items()):
            raise ValueError("unexpected header fields")
        if d["mode"] not in ("direct", "slots", "variable") or d["n_items"] < 0 or d["capacity"] < 0 or d["record_size"] < 0:
            raise ValueError("header values out of range")
        if d["mode"] != "variable" and d["record_size"] <= 0:
            raise ValueError("a fixed-format cache without a record size")
        return cls(**d)


def read_header(fd: int) -> Header:
    """The header of an open cache file; ValueError if it is not a torchrig cache of this format."""
    head = os.pread(fd, _FIXED_HEAD, 0)
    if len(head) < _FIXED_HEAD or head[:8] != MAGIC:
        raise ValueError("not a torchrig cache file")
    version, length = struct.unpack_from("<II", head, 8)
    if version != FORMAT_VERSION:
        raise ValueError(f"cache format {version}, this torchrig reads format {FORMAT_VERSION}")
    if length > _MAX_JSON:
        raise ValueError("an oversized header")
    header = Header.from_json(os.pread(fd, length, _FIXED_HEAD))
    if os.fstat(fd).st_size < header.file_size():
        raise ValueError("a cache file shorter than its header says")
    return header


def read_counters(fd: int) -> dict[str, int]:
    raw = os.pread(fd, 32, _OFF_HITS)
    hits, misses, nxt, refused = struct.unpack("<4q", raw) if len(raw) == 32 else (0, 0, 0, 0)
    return {"hits": hits, "misses": misses, "next": nxt, "refused": refused}


# ----- process-wide bookkeeping (P3) -----------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Handle:
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
        if _holding(self.path.parent):
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
                        _unlink_if_same(self.path, self.fd)
                os.close(self.fd)
                _remove_if_empty_default(self.path.parent)
        except Exception:  # a finalizer never raises: at worst the cache is left for the cleaner (P3)
            with contextlib.suppress(OSError):
                os.close(self.fd)


def _remove_if_empty_default(directory: Path) -> None:
    """Leave /dev/shm as we found it: drop our default directory there once it is empty.
    Directories the user chose are theirs, and are never removed."""
    if directory == shm_directory():
        with contextlib.suppress(OSError):
            os.rmdir(directory)  # fails, harmlessly, unless empty


def _unlink_if_same(path: Path, fd: int) -> None:
    """Unlink ``path`` if it is still the file open as ``fd`` (not a newer cache of the same name)."""
    try:
        a, b = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except FileNotFoundError:
        return
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
        os.unlink(path)


def _finalizer(owner: object, handle: _Handle) -> multiprocessing.util.Finalize:
    """Release ``handle`` when ``owner`` is garbage collected, or at exit (P3).

    A multiprocessing finalizer with a negative priority, not ``atexit``/``weakref.finalize``: at
    interpreter exit multiprocessing first terminates and joins daemonic children (DataLoader
    workers, persistent ones included) and only then runs these, so the main process releases last
    and removes the cache. A worker process runs its own at a clean exit."""
    return multiprocessing.util.Finalize(owner, _Handle.release, args=(handle,), exitpriority=-10)


# ----- the store -------------------------------------------------------------------------------------

def _pwrite_all(fd: int, parts: list[np.ndarray], offset: int) -> None:
    views = [memoryview(np.ascontiguousarray(p)).cast("B") for p in parts if p.size]
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
        self._handle = _Handle(path, fd, header.persist)
        self._finalizer = _finalizer(self, self._handle)
        size = header.file_size()
        self._mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        t = header.tables()
        self._t = {name: np.frombuffer(self._mm, dtype=dt, count=n, offset=off) for name, (off, dt, n) in t.items()}
        self.state = self._t["state"]
        self._data_offset = t["data"][0]
        self.data = self._t["data"]
        if header.record_size:
            self.records = self.data[: header.slots * header.record_size].reshape(header.slots, header.record_size)
        self._counters = np.frombuffer(self._mm, dtype="<i8", count=4, offset=_OFF_HITS)
        self._local = threading.Lock()
        self._pending_hits = 0
        self._pending_misses = 0
        self._pending_refused = 0
        self._spare: np.ndarray | None = None

    # -- (P3) ---------------------------------------------------------------------------------------
    def _own(self) -> None:
        if self._handle.pid != os.getpid():
            self._handle.own()
            self._finalizer = _finalizer(self, self._handle)  # the parent's is not run in a child

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
        rec = self.data[off:off + length].copy()
        if self.header.checksums and zlib.crc32(rec) != int(self._t["crc"][i]):
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
        if mode == "direct":
            start = i * self.header.record_size
        else:
            start = self._claim(i, size)
            if start is None:
                return False
        # pwritev, not stores through the mapping: the kernel copies into the file's pages directly,
        # sparing a write fault per 4 KiB page in every (fresh) worker process.
        _pwrite_all(self.fd, parts, self._data_offset + start)
        if self.header.checksums:
            self._t["crc"][i] = zlib.crc32(self.data[start:start + (self.header.record_size or size)])
        self.state[i] = READY  # (P5): the record's bytes are stored; now it may be seen
        return True

    def _claim(self, i: int, size: int) -> int | None:
        h = self.header
        where, owner = self._t["where"], self._t["owner"]
        me = os.getpid()
        with self._record_lock(_LOCK_ALLOC):
            s = self.state[i]
            if s == READY:
                return None
            if s == CLAIMED and int(owner[i]) != me and _pid_alive(int(owner[i])):
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
                need = _round(size, 64)
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
        with self._record_lock(_LOCK_STATS):
            self._counters[0] += self._pending_hits
            self._counters[1] += self._pending_misses
            self._counters[3] += self._pending_refused
        self._pending_hits = self._pending_misses = self._pending_refused = 0

    def stats(self) -> dict:
        self.flush()
        return _stats(self.header, self.path, self.state, self._t.get("length"), self._counters.tolist())


def _stats(header: Header, path: Path, state: np.ndarray, length: np.ndarray | None, counters: list[int]) -> dict:
    ready = state == READY
    items = int(np.count_nonzero(ready))
    if header.mode == "variable":
        used = int(length[ready].sum()) if length is not None else 0
    else:
        used = items * header.record_size
    return {
        "name": path.name.removesuffix(SUFFIX),
        "label": header.label,
        "location": str(path),
        "mode": header.mode,
        "items": items,
        "n_items": header.n_items,
        "bytes": used,
        "capacity": header.capacity,
        "hits": int(counters[0]),
        "misses": int(counters[1]),
        "refused": int(counters[3]),
        "persist": header.persist,
    }


# ----- creating and attaching (P2) ---------------------------------------------------------------------

def cache_path(directory: Path, label: str, fingerprint: str) -> Path:
    return Path(directory) / f"{label}-{fingerprint[:24]}{SUFFIX}"


def check_label(label: str) -> str:
    if not _LABEL_RE.match(label):
        raise UserError(f"cache name {label!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.")
    return label


def open_store(directory: Path, header: Header) -> SharedStore:
    """Attach to the cache ``header`` describes in ``directory``, creating it if absent (P2).

    Raises :class:`NoSpace` when the directory's filesystem cannot hold it."""
    directory = Path(directory)
    path = cache_path(directory, header.label, header.fingerprint)
    for _ in range(3):
        with directory_lock(directory, create=True):
            _clean_stale(directory, keep=path)
            try:
                fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                fd = _create(directory, path, header)
                return SharedStore(path, fd, header)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise UserError(f"{path} is a symlink; torchrig never follows links in its cache directory, remove it.") from None
                raise
            try:
                existing = _check_file(path, fd)
                if _same_cache(existing, header):
                    fcntl.flock(fd, fcntl.LOCK_SH)
                    return SharedStore(path, fd, existing)
                # Same name, different content: a cache for another capacity or an older build.
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise UserError(f"the cache {path} is in use with a different item layout; "
                                    "pass a different name= or wait for the other job to finish.") from None
                _unlink_if_same(path, fd)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
    raise UserError(f"could not attach to the cache {path}; another process keeps replacing it.")


def _same_cache(a: Header, b: Header) -> bool:
    """Same data and record format. Capacity and mode may differ (each rank sizes its budget from the
    free space it sees): whoever attaches second adopts the existing cache's."""
    return (a.fingerprint, a.n_items, a.record_size, a.spec) == (b.fingerprint, b.n_items, b.record_size, b.spec)


def _check_file(path: Path, fd: int) -> Header:
    st = os.fstat(fd)
    if st.st_uid != os.geteuid():
        raise UserError(f"the cache file {path} belongs to uid {st.st_uid}, not to you; torchrig will not use it "
                        "(remove it, or choose another directory).")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{path} is not a regular file; remove it.")
    if st.st_mode & 0o077:
        os.fchmod(fd, 0o600)  # ours, but readable by others: make it private again (P1)
    try:
        return read_header(fd)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a usable torchrig cache ({exc}); remove it with `torchrig cache clear`.") from None


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
        os.pwrite(fd, blob, _FIXED_HEAD)
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.rename(tmp, path)
        return fd
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _clean_stale(directory: Path, keep: Path | None = None) -> list[Path]:
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


# ----- looking at caches from outside (the CLI) --------------------------------------------------------

@dataclass(frozen=True)
class CacheInfo:
    path: Path
    owner_uid: int
    size: int  # bytes on the filesystem
    state: str  # "in use" | "idle" (persistent, unused) | "stale" | "foreign" | "unreadable" | "not a cache"
    problem: str | None = None
    stats: dict | None = None


def inspect_cache(path: Path, *, with_stats: bool = True) -> CacheInfo | None:
    """What ``path`` is, without taking part in its lifetime. Call with the directory lock held.

    ``with_stats=False`` skips reading the per-item tables (all that staleness needs)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        # A FIFO would block the open forever, a device is not ours to read: looked at, never opened (P1).
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
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
        stats = _stats(header, path, states, length, [c["hits"], c["misses"], c["next"], c["refused"]])
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
            _unlink_if_same(path, fd)
        finally:
            os.close(fd)
        _remove_if_empty_default(directory)
    return "removed"
