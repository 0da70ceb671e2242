"""``CachedDataset``: a map-style dataset whose items come from one shared cache per node.

The wrapped dataset is the deterministic stage (decode, resize); its items are cached once, in
shared memory, for every DataLoader worker of every rank on the machine. ``transform`` is the random
stage (crop, flip) and runs after the cache on every access. See :mod:`torchrig.data.store` for the
protocol that makes this safe across processes.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from torchrig._core.errors import UserError, require_torch
from torchrig._core.units import size_text

require_torch("torchrig.data")

from torchrig.data import cachefile, directories  # noqa: E402
from torchrig.data import store as _store  # noqa: E402
from torchrig.data.layout import Layout, Uncacheable, describe, round_up, strip_shapes  # noqa: E402

_PROBES = 8  # items looked at up front to learn the layout (and cached right away)


class CachedDataset:
    """Wrap ``dataset`` so that its items are cached once per node and shared by every process.

    ``dataset`` is any map-style dataset (``__len__`` and ``__getitem__``) whose items are tensors,
    numpy arrays and scalars, numbers, strings, or tuples/lists/dicts of those, and whose items are the same
    every time they are read (the deterministic stage). ``transform`` runs after the cache on every
    read; for a tuple item ``(input, target, ...)`` it is applied to ``input`` (the torchvision
    convention), otherwise to the whole item.

    The cache is found by name: ``name`` (default: the dataset's class) plus a fingerprint of the
    dataset: its ``fingerprint()`` method if it has one (``ImageFolder`` does: its files, sizes and
    modification times, and the decode settings), else its class, length and a sample of its items.
    ``capacity_bytes`` caps the cache (default: what the items need, bounded by the free space of
    the cache's filesystem minus a margin); when the items do not fit, the first ones cached stay
    and the rest are always read from ``dataset`` (MinIO). ``directory`` places the cache (default
    ``/dev/shm/torchrig-<uid>``, or ``~/.cache/torchrig/data`` when /dev/shm is too small or that
    directory is not ours, with a warning).
    ``persist=True`` keeps the cache on disk (default directory ``~/.cache/torchrig/data``) after
    the last process exits, so the next run starts warm; otherwise the last process to exit
    removes it. ``persist=True`` requires a ``fingerprint()`` method on ``dataset`` or an explicit
    ``name`` (which then vouches for the data): a sample of items cannot tell a changed dataset.
    """

    def __init__(
        self,
        dataset: Any,
        *,
        transform: Callable[[Any], Any] | None = None,
        name: str | None = None,
        capacity_bytes: int | None = None,
        directory: str | os.PathLike[str] | None = None,
        persist: bool = False,
    ) -> None:
        try:
            n = len(dataset)
        except TypeError:
            raise UserError(
                f"CachedDataset needs a map-style dataset with a length; {type(dataset).__name__} has none."
            ) from None
        if capacity_bytes is not None and capacity_bytes < 0:
            raise UserError(f"capacity_bytes must be positive, not {capacity_bytes}.")
        self.dataset = dataset
        self.transform = transform
        self._n = n
        if persist and name is None and not callable(getattr(dataset, "fingerprint", None)):
            # A sample of items cannot see a change elsewhere, and a persistent cache outlives the run.
            raise UserError(
                f"persist=True needs to know when the data changes: give {type(dataset).__name__} a "
                "fingerprint() method that changes with its items, or pass a name= that you change "
                "whenever the data does."
            )
        label = cachefile.check_label(name) if name is not None else _label_for(dataset)
        probes = _probe(dataset, n)
        self._layout = _layout_for(probes, type(dataset).__name__)
        fingerprint = _fingerprint(dataset, n, self._layout, probes)
        sizes = _Sizes.of(self._layout, n, probes)
        self._store: _store.SharedStore | None = _open(
            label,
            fingerprint,
            n,
            self._layout,
            sizes,
            capacity_bytes,
            Path(directory) if directory is not None else None,
            persist,
        )
        self._path = self._store.path
        self._header = self._store.header
        _warn_if_partial(self._header, self._path, sizes, type(dataset).__name__, capacity_bytes, self._store.attached)
        for i, item in probes.items():
            self._put(i, item)

    # ----- the dataset protocol ------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int) -> Any:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """A batch of items: cached ones copied out in one go, missing ones computed and cached."""
        store = self._attached()
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -self._n or idx.max() >= self._n):
            bad = int(idx[(idx < -self._n) | (idx >= self._n)][0])
            raise IndexError(f"index {bad} is out of range for a dataset of {self._n} items")
        idx = np.where(idx < 0, idx + self._n, idx)
        out: list[Any] = [None] * idx.size
        if self._layout.fixed:
            hit, records = store.read_fixed(idx)
            hit_pos = np.flatnonzero(hit)
            for pos, item in zip(hit_pos.tolist(), self._layout.decode_batch(records), strict=False):
                out[pos] = item
            missing = np.flatnonzero(~hit).tolist()
        else:
            missing = []
            for pos, i in enumerate(idx.tolist()):
                rec = store.read_variable(i)
                if rec is None:
                    missing.append(pos)
                else:
                    out[pos] = self._layout.decode_var(rec)
        for pos in missing:
            i = int(idx[pos])
            item = self.dataset[i]
            self._put(i, item)
            out[pos] = item
        store.count(idx.size - len(missing), len(missing))
        store.flush()
        if self.transform is not None:
            out = [self._apply(item) for item in out]
        return out

    def _apply(self, item: Any) -> Any:
        transform = cast("Callable[[Any], Any]", self.transform)  # called only when there is one
        if isinstance(item, tuple) and item:
            return (transform(item[0]), *item[1:])
        return transform(item)

    def _put(self, i: int, item: Any) -> None:
        try:
            parts = self._layout.encode(item)
        except Uncacheable:
            return  # served uncached: counted as a miss every time it is read
        self._attached().write(i, parts)

    # ----- the cache -----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts shared by every process using this cache: hits, misses, items (cached), bytes (of
        cached records), capacity (bytes), location (the cache file), name, and mode."""
        return self._attached().stats()

    @property
    def location(self) -> Path:
        return self._path

    def close(self) -> None:
        """Let go of the cache now (else at garbage collection or exit); the last user removes it."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> CachedDataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _attached(self) -> _store.SharedStore:
        if self._store is None:
            # A spawned worker (or a closed dataset): attach by name, creating it if it is gone.
            self._store = _store.open_store(self._path.parent, self._header)
        return self._store

    def __getstate__(self) -> dict[str, Any]:
        # Workers started with spawn/forkserver get the description and attach by name (P2).
        state = self.__dict__.copy()
        state["_store"] = None
        return state

    def __repr__(self) -> str:
        return f"CachedDataset({type(self.dataset).__name__}, {len(self)} items, cache={self._path})"


# ----- construction helpers ------------------------------------------------------------------------


def _label_for(dataset: Any) -> str:
    label = re.sub(r"[^A-Za-z0-9_.-]", "-", type(dataset).__name__.lower()).strip("-.") or "dataset"
    return label[:40]


def _probe(dataset: Any, n: int) -> dict[int, Any]:
    if n == 0:
        raise UserError("CachedDataset was given an empty dataset; there is nothing to cache.")
    picks = sorted({round(k * (n - 1) / max(1, _PROBES - 1)) for k in range(min(n, _PROBES))})
    return {i: dataset[i] for i in picks}


def _layout_for(probes: dict[int, Any], what: str) -> Layout:
    specs = []
    for i, item in probes.items():
        try:
            specs.append(describe(item)[0])
        except Uncacheable as exc:
            raise UserError(
                f"item {i} of {what} contains {exc}; CachedDataset caches tensors, numpy arrays and scalars, "
                "numbers, strings and tuples/lists/dicts of them."
            ) from None
    first = specs[0]
    if all(s == first for s in specs):
        try:
            return Layout(first, fixed=True)
        except ValueError:
            pass  # strings and bytes: the variable format
    bare = strip_shapes(first)
    for i, s in zip(probes, specs, strict=False):
        if strip_shapes(s) != bare:
            raise UserError(
                f"items of {what} differ in structure or dtype (item {i} vs item {next(iter(probes))}); "
                "CachedDataset needs items of one structure."
            )
    return Layout(bare, fixed=False)


def _fingerprint(dataset: Any, n: int, layout: Layout, probes: dict[int, Any]) -> str:
    h = hashlib.sha256()
    # The class's qualname, not its module: a rank run as a script defines it in __main__, another imports it.
    h.update(f"torchrig-cache/{cachefile.FORMAT_VERSION}\0{type(dataset).__qualname__}\0{n}\0".encode())
    h.update(repr(layout.spec).encode())
    own = getattr(dataset, "fingerprint", None)
    if callable(own):
        h.update(b"own\0" + str(own()).encode())
    else:
        # No identity of its own: the class, the length and the bytes of a sample of items.
        for i, item in probes.items():
            h.update(str(i).encode())
            for raw in describe(item)[1]:
                if raw is not None:
                    h.update(raw.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class _Sizes:
    """What the items need in a cache: ``need`` bytes for all of them (an estimate with headroom for
    variable-size items), ``one`` for the smallest item seen, ``mean`` per item (exact for fixed sizes)."""

    need: int
    one: int
    mean: float

    @classmethod
    def of(cls, layout: Layout, n: int, probes: dict[int, Any]) -> _Sizes:
        if layout.fixed:
            return cls(layout.record_size * n, layout.record_size, float(layout.record_size))
        sizes = [round_up(sum(p.size for p in layout.encode(item)), 64) for item in probes.values()]
        mean = sum(sizes) / len(sizes)
        return cls(int(mean * n * 1.25) + (1 << 20), min(sizes), mean)  # variable sizes: headroom


def _size(n: float) -> str:
    return size_text(n, byte_word="bytes")


def _open(
    label: str,
    fingerprint: str,
    n: int,
    layout: Layout,
    sizes: _Sizes,
    capacity_bytes: int | None,
    directory: Path | None,
    persist: bool,
) -> _store.SharedStore:
    need = sizes.need
    if capacity_bytes is not None and capacity_bytes < sizes.one:
        raise UserError(
            f"capacity_bytes={capacity_bytes} cannot hold a single item ({_size(sizes.one)}); pass at least "
            f"{sizes.one}, or {need} for the whole dataset."
        )
    if directory is not None:
        candidates = [(directory, True)]
    elif persist:
        candidates = [(directories.disk_directory(), False)]
    else:
        candidates = [(directories.shm_directory(), False), (directories.disk_directory(), False)]
    last: _store.NoSpace | None = None
    for k, (where, explicit) in enumerate(candidates):
        if not explicit and k + 1 < len(candidates) and os.path.lexists(where):
            # The default /dev/shm/torchrig-<uid> has a predictable name in a world-writable directory:
            # if someone else made it (or made it a link), use the next place rather than fail the job.
            try:
                directories.check_directory(where, storing=True)
            except UserError as exc:
                warnings.warn(f"{exc} Caching in {candidates[k + 1][0]} instead.", stacklevel=3)
                continue
        base = where if where.exists() else where.parent
        while not base.exists():
            base = base.parent
        free = directories.free_bytes(base)
        if capacity_bytes is None:
            capacity = min(need, directories.default_budget(free))
        else:  # fixed items need no more than ``need``; variable ones may need more than the estimate
            capacity = min(need, capacity_bytes) if layout.fixed else capacity_bytes
        if capacity < sizes.one:  # only a budget from the free space can be this small (see above)
            # No room to create one; a cache already here (another rank's, an earlier run's) still serves.
            existing = _store.attach_existing(where, _header(label, fingerprint, n, layout, sizes.one, need, persist))
            if existing is not None:
                return existing
            if not explicit and k + 1 < len(candidates):
                warnings.warn(
                    f"{where.parent} has {free >> 20} MiB free, too little for a sample cache; "
                    f"caching in {candidates[k + 1][0]} instead (give the container more /dev/shm, "
                    "e.g. docker --shm-size).",
                    stacklevel=3,
                )
                continue
            # No silent cache of nothing: a directory that cannot hold one item is the user's to fix.
            raise UserError(
                f"the sample cache does not fit in {where}: its filesystem has {_size(free)} free, and "
                "torchrig leaves a quarter of that, at least 256 MiB, for everything else, which leaves no "
                f"room for a single item ({_size(sizes.one)}); free some space, pass capacity_bytes= to use "
                "the free space anyway, or choose another directory=."
            )
        header = _header(label, fingerprint, n, layout, capacity, need, persist)
        try:
            return _store.open_store(where, header)
        except _store.NoSpace as exc:
            last = exc
            if explicit or k + 1 == len(candidates):
                break
            warnings.warn(
                f"{exc}; caching in {candidates[k + 1][0]} instead (give the container more "
                "/dev/shm, e.g. docker --shm-size, or pass capacity_bytes=).",
                stacklevel=3,
            )
    assert last is not None
    raise UserError(f"the sample cache does not fit: {last}; pass a smaller capacity_bytes= or another directory=.")


def _warn_if_partial(
    header: cachefile.Header,
    location: Path,
    sizes: _Sizes,
    what: str,
    capacity_bytes: int | None,
    attached: bool,
) -> None:
    """Say once, in the process that builds the dataset, when the cache cannot hold every item.

    Workers never run this (they receive the built dataset), and of several ranks on one node only
    local rank 0 says it: the cache is one per node."""
    if os.environ.get("LOCAL_RANK", "0").strip() not in ("", "0"):
        return
    n = header.n_items
    fits = cachefile.items_that_fit(header, sizes.mean)
    if fits is None or fits >= n:
        return
    if attached:
        why = "the capacity of the existing cache this process attached to"
    elif capacity_bytes is not None:
        why = f"capacity_bytes={capacity_bytes}"
    else:
        why = f"what the free space in {location.parent} allows"
    about = "" if header.record_size else "about "  # variable sizes: estimated from the items sampled
    warnings.warn(
        f"the sample cache holds {about}{fits:,} of the {n:,} items of {what} ({_size(header.capacity)} of "
        f"{_size(sizes.mean * n)}, {why}), so expect a hit rate of {about}{fits / n:.0%} from the second epoch "
        f"on (MinIO: the items cached first stay, the others are read from {what} on every access); pass a "
        "larger capacity_bytes= or give the cache more room to cache them all.",
        stacklevel=3,
    )


def _header(
    label: str, fingerprint: str, n: int, layout: Layout, capacity: int, need: int, persist: bool
) -> cachefile.Header:
    if layout.fixed:
        mode = "direct" if capacity >= need else "slots"
        capacity = need if mode == "direct" else capacity // layout.record_size * layout.record_size
    else:
        mode = "variable"
        capacity = capacity // 64 * 64
    return cachefile.Header(
        fingerprint=fingerprint,
        label=label,
        n_items=n,
        mode=mode,
        record_size=layout.record_size if layout.fixed else 0,
        capacity=capacity,
        spec=layout.spec,
        persist=persist,
        checksums=not cachefile.TOTAL_STORE_ORDER or os.environ.get("TORCHRIG_CACHE_CHECKSUMS") == "1",
        created=time.time(),
        creator_pid=os.getpid(),
    )
