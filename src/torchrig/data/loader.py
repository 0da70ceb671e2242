"""``make_loader``: a ``torch.utils.data.DataLoader`` with defaults that suit a shared-cache dataset.

- workers from the CPUs this process may use, divided among the ranks on this node;
- ``pin_memory`` when CUDA is available;
- every worker's ``torch``, ``numpy`` and ``random`` seeded distinctly (per worker and per rank) and
  reproducibly (from the loader's seed, which follows ``torch.manual_seed`` or ``seed=``);
- a ``DistributedSampler`` when a process group is initialised;
- batches read through ``__getitems__`` (``CachedDataset`` copies a batch of cached items at once).

Every ``DataLoader`` keyword passed in overrides these defaults.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

import numpy as np

from torchrig._core.errors import UserError, require_torch

require_torch("torchrig.data")

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from torchrig.data.cachefile import TOTAL_STORE_ORDER  # noqa: E402
from torchrig.data.transport import RingCollate, RingLoader  # noqa: E402


def default_workers() -> int:
    """Worker processes for one rank: its share of this node's CPUs, at most 8, and none on one CPU."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    local_ranks = _int_env("LOCAL_WORLD_SIZE") or _int_env("SLURM_NTASKS_PER_NODE") or 1
    share = cpus // max(1, local_ranks)
    return min(8, share) if share >= 2 else 0


def make_loader(
    dataset: Any, *, batch_size: int = 64, shuffle: bool = True, seed: int | None = None, **kwargs: Any
) -> DataLoader:
    """A DataLoader over ``dataset`` with the defaults above; ``kwargs`` go to ``DataLoader`` and win.

    ``seed`` makes shuffling and augmentation reproducible without touching the global RNG; without
    it the loader follows ``torch.manual_seed`` like a plain DataLoader. Under DDP (an initialised
    ``torch.distributed`` process group) each rank reads its own shard through a
    ``DistributedSampler``; call ``loader.sampler.set_epoch(epoch)`` each epoch, as with any
    DistributedSampler, to reshuffle.
    """
    if batch_size is not None and batch_size <= 0:
        raise UserError(f"batch_size must be positive, not {batch_size}.")
    rank = _rank()
    options: dict[str, Any] = {
        "batch_size": batch_size,
        "num_workers": default_workers(),
        "pin_memory": torch.cuda.is_available(),
        "drop_last": False,
    }
    user_init = kwargs.pop("worker_init_fn", None)
    if kwargs.get("batch_sampler") is not None:
        # DataLoader refuses batch_size/drop_last next to a batch_sampler: it decides the batches.
        del options["batch_size"], options["drop_last"]
    options.update(kwargs)
    workers = options["num_workers"]
    if workers > 0:
        options.setdefault("persistent_workers", True)
        options.setdefault("prefetch_factor", 2)
    options["worker_init_fn"] = _WorkerSeeder(rank, user_init)
    if seed is not None and "generator" not in options:
        options["generator"] = torch.Generator().manual_seed(seed)
    custom_order = any(options.get(k) is not None for k in ("sampler", "batch_sampler"))
    if not custom_order and _distributed():
        from torch.utils.data.distributed import DistributedSampler

        options["sampler"] = DistributedSampler(
            dataset, shuffle=shuffle, seed=seed or 0, drop_last=bool(options.get("drop_last"))
        )
        shuffle = False
    if options.get("batch_sampler") is not None or options.get("sampler") is not None:
        shuffle = False
    batched = options.get("batch_sampler") is not None or options.get("batch_size") is not None
    if workers > 0 and "collate_fn" not in options and TOTAL_STORE_ORDER and batched:
        # Batches travel through reused shared buffers instead of a fresh segment each (transport.py).
        # Slots for the batches in flight, the one the user holds and the previous one (R3).
        options["collate_fn"] = RingCollate((options.get("prefetch_factor") or 2) + 2)
        return RingLoader(dataset, shuffle=shuffle, **options)
    return DataLoader(dataset, shuffle=shuffle, **options)


class _WorkerSeeder:
    """Seeds a worker's torch, numpy and random from (the loader's per-worker seed, the rank).

    The DataLoader already gives worker ``k`` the torch seed ``base + k`` with ``base`` drawn from the
    loader's generator; mixing in the rank keeps ranks that share a seed from augmenting alike."""

    def __init__(self, rank: int, then: Callable[[int], None] | None) -> None:
        self.rank = rank
        self.then = then

    def __call__(self, worker_id: int) -> None:
        state = np.random.SeedSequence([torch.initial_seed() % 2**63, self.rank]).generate_state(4, np.uint64)
        torch.manual_seed(int(state[0]) % 2**63)
        np.random.seed(int(state[1] % 2**32))
        random.seed(int(state[2]))
        if self.then is not None:
            self.then(worker_id)


def _distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def _rank() -> int:
    if _distributed():
        import torch.distributed as dist

        return dist.get_rank()
    return _int_env("RANK") or 0


def _int_env(name: str) -> int | None:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return None
