"""Moving batches from DataLoader workers to the main process through reused shared buffers.

The stock DataLoader collates every batch in a worker into a *fresh* shared-memory segment: create,
size, map and fault in ~10 MB per batch of 64 images, then unmap it when the batch is dropped. Once
samples come from the cache that is the largest cost left (measured ~120 us per sample on this
machine kind, against ~3 us with a reused buffer; see shared-cache.md). Here each worker collates
into a small ring of slots in one shared segment that lives as long as the worker.

Protocol (x86-64 only: it relies on the TSO ordering described in store.py, P5; elsewhere
``make_loader`` keeps the stock collate):

(R1) A worker owns one ring: a header of one flag byte per slot, then the slots. It writes a batch
     into the first slot, from where the last one left off, whose flag reads 0 (free), after setting
     that flag to 1, and sends a :class:`RingBatch` (tensors that view the slot, plus the flag) to the
     main process through the DataLoader's queue.
(R2) The main process hands the user tensors that view the slot itself, no copy: each is built on a
     numpy array that holds a :class:`_Lease` of the slot, and the lease sets the flag back to 0 when
     the last tensor (or view of one) of the batch is freed. So the slot is the user's, and the worker
     writes it again only once nothing in the main process can read it. With ``pin_memory`` the pin
     thread's copy is the one copy and frees the slot at once. A batch that is dropped unseen (a
     partial epoch, a reset of persistent workers) frees its slot when it is garbage collected.
(R3) No slot free (the user keeps batches, or the main process stopped consuming)? The worker
     collates that batch the stock way at once: slower, never stuck, never waiting. A ring has
     ``prefetch_factor + 2`` slots: the batches in flight, the one the user holds, and the previous
     one, still bound to the loop variable while the next is fetched.
(R4) The ring is an anonymous shared segment (torch's file-descriptor sharing): it has no name,
     so nothing is left in /dev/shm whatever happens to the processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, get_worker_info
from torch.utils.data._utils.collate import default_collate

from torchrig.data.layout import round_up

_ALIGN = 64


def _nbytes(batch: list[Any]) -> int | None:
    """Bytes the collated tensors of ``batch`` take, or None for a structure we leave to default_collate."""
    elem = batch[0]
    if isinstance(elem, torch.Tensor):
        return round_up(elem.numel() * elem.element_size() * len(batch), _ALIGN)
    if isinstance(elem, (bool, int, float)):
        return round_up(8 * len(batch), _ALIGN)
    if isinstance(elem, Mapping):
        parts = [_nbytes([d[k] for d in batch]) for k in elem]
        return None if None in parts else sum(parts)  # type: ignore[arg-type]
    if isinstance(elem, tuple | list) and not isinstance(elem, str):
        parts = [_nbytes(list(col)) for col in zip(*batch, strict=False)]
        return None if None in parts else sum(parts)  # type: ignore[arg-type]
    return None


class _Ring:
    def __init__(self, slots: int, slot_bytes: int) -> None:
        self.slots, self.slot_bytes = slots, slot_bytes
        self.head = round_up(slots, _ALIGN)
        storage = torch.UntypedStorage._new_shared(self.head + slots * slot_bytes)
        # torch's stubs demand a stride with a size; at run time it defaults to contiguous
        self.memory = torch.empty(0, dtype=torch.uint8).set_(storage, 0, (storage.nbytes(),))  # type: ignore[call-overload]
        self.flags = self.memory[:slots]
        self.flags.zero_()
        self.next = 0

    def acquire(self) -> int | None:
        """A free slot, taken (R1), or None when every slot is still the main process's (R3)."""
        free = (self.flags[: self.slots] == 0).nonzero()
        if not len(free):
            return None
        ordered = [int(k) for k in free[:, 0]]
        slot = next((k for k in ordered if k >= self.next % self.slots), ordered[0])
        self.flags[slot] = 1
        self.next = slot + 1
        return slot


class RingCollate:
    """A collate_fn for workers: default_collate's result, but in a reused shared ring slot (R1)."""

    def __init__(self, slots: int) -> None:
        self.slots = max(2, slots)
        self._ring: _Ring | None = None
        self._pid = -1

    def __getstate__(self) -> dict:
        return {"slots": self.slots, "_ring": None, "_pid": -1}

    def __call__(self, batch: list[Any]) -> Any:
        if get_worker_info() is None or not batch:
            return default_collate(batch)
        size = _nbytes(batch)
        if size is None:
            return default_collate(batch)
        if self._ring is None or self._pid != os.getpid():
            self._ring, self._pid = _Ring(self.slots, size), os.getpid()
        ring = self._ring
        if size > ring.slot_bytes:
            return default_collate(batch)  # a bigger batch than the first: the stock path
        slot = ring.acquire()
        if slot is None:
            return default_collate(batch)
        try:
            base = ring.head + slot * ring.slot_bytes
            data, _ = _collate_into(batch, ring.memory, base)
        except BaseException:
            ring.flags[slot] = 0
            raise
        return RingBatch(data, ring.flags[slot : slot + 1])


def _collate_into(batch: list[Any], memory: torch.Tensor, pos: int) -> tuple[Any, int]:
    elem = batch[0]
    if isinstance(elem, torch.Tensor):
        n = elem.numel() * elem.element_size() * len(batch)
        out = memory[pos : pos + n].view(elem.dtype).view(len(batch), *elem.shape)
        torch.stack(batch, 0, out=out)
        return out, pos + round_up(n, _ALIGN)
    if isinstance(elem, (bool, int, float)):
        # default_collate's dtypes: float64 for floats, int64 (bool for bools) otherwise.
        t = torch.tensor(batch, dtype=torch.float64) if isinstance(elem, float) else torch.tensor(batch)
        n = t.numel() * t.element_size()
        out = memory[pos : pos + n].view(t.dtype)
        out.copy_(t)
        return out, pos + round_up(8 * len(batch), _ALIGN)
    if isinstance(elem, Mapping):
        result: dict[Any, Any] = {}
        for k in elem:
            result[k], pos = _collate_into([d[k] for d in batch], memory, pos)
        mapping_type: Any = type(elem)  # a concrete Mapping class, built from a dict (as default_collate does)
        return (mapping_type(result) if not isinstance(elem, dict) else result), pos
    columns = []
    for col in zip(*batch, strict=False):
        value, pos = _collate_into(list(col), memory, pos)
        columns.append(value)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*columns), pos
    return columns, pos  # default_collate returns a list for tuples and lists alike


def _copy(data: Any, fn: Callable[[torch.Tensor], Any]) -> Any:
    if isinstance(data, torch.Tensor):
        return fn(data)
    if isinstance(data, Mapping):
        return {k: _copy(v, fn) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_copy(v, fn) for v in data))
    if isinstance(data, Sequence) and not isinstance(data, str):
        return type(data)(_copy(v, fn) for v in data) if isinstance(data, tuple) else [_copy(v, fn) for v in data]
    return data


def _clone(t: torch.Tensor) -> torch.Tensor:
    """A private copy made with one single-threaded memcpy (torch's copy_ would start its OpenMP
    team for a 10 MB batch, and on a busy host those threads spin)."""
    out = torch.empty_like(t)
    if t.is_contiguous() and t.numel():
        np.copyto(out.view(-1).view(torch.uint8).numpy(), t.view(-1).view(torch.uint8).numpy())
    else:
        out.copy_(t)
    return out


class _Lease:
    """One batch's hold on its ring slot: freed (flag back to 0, R2) when the last tensor viewing it is."""

    def __init__(self, flag: torch.Tensor) -> None:
        self.flag = flag

    def __del__(self) -> None:
        self.flag[0] = 0


class _Lent:
    """What a lent tensor's numpy array is built on: the slot's memory, and the lease that keeps it taken.

    numpy keeps the object an array was made from (through ``__array_interface__``) as its base, and
    ``torch.from_numpy`` keeps the array for as long as the tensor's storage lives, views included."""

    def __init__(self, view: np.ndarray, lease: _Lease) -> None:
        self.__array_interface__ = view.__array_interface__
        self.view, self.lease = view, lease


def _lend(t: torch.Tensor, lease: _Lease) -> torch.Tensor:
    try:
        view = t.numpy()
    except (TypeError, RuntimeError):  # a dtype numpy lacks (bfloat16, ...): a private copy instead
        return _clone(t)
    return torch.from_numpy(np.asarray(_Lent(view, lease)))


class RingBatch:
    """A batch that still lives in a worker's ring slot; :meth:`take` lends it to the user (R2)."""

    flag: torch.Tensor | None  # None once the slot is released

    def __init__(self, data: Any, flag: torch.Tensor) -> None:
        self.data, self.flag, self._received = data, flag, False

    def __getstate__(self) -> dict:
        return {"data": self.data, "flag": self.flag}

    def __setstate__(self, state: dict) -> None:
        self.data, self.flag, self._received = state["data"], state["flag"], True

    def _release(self) -> None:
        if self._received and self.flag is not None:
            self.flag[0] = 0  # (R2) the copy is done: the worker may reuse the slot
            self.flag = None
            self.data = None

    def take(self) -> Any:
        """The batch as the user's tensors, viewing the slot; the slot frees when they are all gone (R2)."""
        if not self._received or self.flag is None:
            return _copy(self.data, _clone)
        lease = _Lease(self.flag)
        out = _copy(self.data, lambda t: _lend(t, lease))
        self.flag = None  # the lease releases it now
        self.data = None
        return out

    def pin_memory(self, device: Any = None) -> Any:
        out = _copy(self.data, lambda t: t.pin_memory())
        self._release()
        return out

    def __del__(self) -> None:
        self._release()


class RingLoader(DataLoader):
    """A DataLoader whose workers hand batches over through rings (see the protocol above)."""

    ring_batches = 0  # how many batches came through a ring (the rest took the stock path)

    # A generator of batches, not the _BaseDataLoaderIter that DataLoader declares (its callers only iterate):
    # Any, as Iterator[Any] would not be a valid override.
    def __iter__(self) -> Any:
        it = super().__iter__()
        keep: dict[int, torch.UntypedStorage] = {}
        for batch in it:
            if isinstance(batch, RingBatch):
                self.ring_batches += 1
                # a batch just received has its flag: only _release (in take, below) clears it
                storage = cast(torch.Tensor, batch.flag).untyped_storage()
                # Holding each ring keeps torch's fd cache warm: later batches map nothing new.
                keep.setdefault(storage.data_ptr(), storage)
                yield batch.take()
            else:
                yield batch
