"""The cache file's format (see the protocol in :mod:`torchrig.data.store`, P2 and P4): the fixed fields,
the JSON header, the per-item tables, and the cache's name on disk.

Nothing here is unpickled: a header is fixed binary fields plus JSON whose field types are checked.
"""

from __future__ import annotations

import json
import os
import platform
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from torchrig._core.errors import UserError
from torchrig.data.layout import round_up

FORMAT_VERSION = 1
MAGIC = b"TRIGCACH"
SUFFIX = ".cache"
PAGE = 4096
FIXED_HEAD = 128  # magic, version, json length, counters (see Header)
OFF_HITS, OFF_MISSES, OFF_NEXT, OFF_REFUSED = 64, 72, 80, 88
LOCK_STATS, LOCK_ALLOC = 0, 1  # the bytes of the file whose POSIX record locks guard the counters, allocation
EMPTY, CLAIMED, READY = 0, 1, 2
MAX_JSON = 1 << 20
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# (P5): x86 keeps store order; elsewhere the records carry checksums.
TOTAL_STORE_ORDER = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


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
        pos = round_up(FIXED_HEAD + len(self.to_json()), PAGE)
        names = [("state", "u1"), ("crc", "<u4")]
        if self.mode != "direct":
            names += [("where", "<i8"), ("owner", "<i4")]
        if self.mode == "variable":
            names += [("length", "<i8")]
        for name, dt in names:
            out[name] = (pos, dt, self.n_items)
            pos = round_up(pos + np.dtype(dt).itemsize * self.n_items, 64)
        out["data"] = (round_up(pos, PAGE), "u1", self.capacity)
        return out

    def file_size(self) -> int:
        off, _, n = self.tables()["data"]
        return off + n

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Header:
        d = json.loads(raw.decode("utf-8"))
        types: dict[str, type | tuple[type, ...]] = {
            "fingerprint": str,
            "label": str,
            "n_items": int,
            "mode": str,
            "record_size": int,
            "capacity": int,
            "spec": dict,
            "persist": bool,
            "checksums": bool,
            "created": (int, float),
            "creator_pid": int,
        }
        if not isinstance(d, dict) or set(d) != set(types) or not all(isinstance(d[k], t) for k, t in types.items()):
            raise ValueError("unexpected header fields")
        if (
            d["mode"] not in ("direct", "slots", "variable")
            or d["n_items"] < 0
            or d["capacity"] < 0
            or d["record_size"] < 0
        ):
            raise ValueError("header values out of range")
        if d["mode"] != "variable" and d["record_size"] <= 0:
            raise ValueError("a fixed-format cache without a record size")
        return cls(**d)


def read_header(fd: int) -> Header:
    """The header of an open cache file; ValueError if it is not a torchrig cache of this format."""
    head = os.pread(fd, FIXED_HEAD, 0)
    if len(head) < FIXED_HEAD or head[:8] != MAGIC:
        raise ValueError("not a torchrig cache file")
    version, length = struct.unpack_from("<II", head, 8)
    if version != FORMAT_VERSION:
        raise ValueError(f"cache format {version}, this torchrig reads format {FORMAT_VERSION}")
    if length > MAX_JSON:
        raise ValueError("an oversized header")
    header = Header.from_json(os.pread(fd, length, FIXED_HEAD))
    if os.fstat(fd).st_size < header.file_size():
        raise ValueError("a cache file shorter than its header says")
    return header


def read_counters(fd: int) -> dict[str, int]:
    raw = os.pread(fd, 32, OFF_HITS)
    hits, misses, nxt, refused = struct.unpack("<4q", raw) if len(raw) == 32 else (0, 0, 0, 0)
    return {"hits": hits, "misses": misses, "next": nxt, "refused": refused}


def items_that_fit(header: Header, mean_record: float | None) -> int | None:
    """How many items the cache can hold: exact for fixed-size items; for variable ones an estimate
    from ``mean_record`` (bytes per item as stored, None when unknown)."""
    if header.mode == "direct":
        return header.n_items
    if header.mode == "slots":
        return min(header.slots, header.n_items)
    if not mean_record:
        return None
    return min(header.n_items, int(header.capacity // mean_record))


def stats_of(header: Header, path: Path, state: np.ndarray, length: np.ndarray | None, counters: list[int]) -> dict:
    ready = state == READY
    items = int(np.count_nonzero(ready))
    if header.mode == "variable":
        used = int(length[ready].sum()) if length is not None else 0
        # Full (an item was refused): what it holds is what fits; else estimate from the slab used so far.
        fits = items if counters[3] else items_that_fit(header, counters[2] / items if items else None)
    else:
        used = items * header.record_size
        fits = items_that_fit(header, None)
    return {
        "name": path.name.removesuffix(SUFFIX),
        "label": header.label,
        "location": str(path),
        "mode": header.mode,
        "items": items,
        "n_items": header.n_items,
        "fits": fits,  # items the capacity holds (None: not known yet); fits / n_items is the hit rate to expect
        "fits_fraction": None if fits is None else fits / max(1, header.n_items),
        "bytes": used,
        "capacity": header.capacity,
        "hits": int(counters[0]),
        "misses": int(counters[1]),
        "refused": int(counters[3]),
        "persist": header.persist,
    }


def cache_path(directory: Path, label: str, fingerprint: str) -> Path:
    return Path(directory) / f"{label}-{fingerprint[:24]}{SUFFIX}"


def check_label(label: str) -> str:
    if not _LABEL_RE.match(label):
        raise UserError(
            f"cache name {label!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    return label
