"""make_loader: defaults from the machine, distinct and reproducible worker seeds, DDP sampling."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler, RandomSampler, SequentialSampler

from torchrig.data import make_loader
from torchrig.data.loader import default_workers


class Draws:
    """Each item is what the worker's three RNGs give next, and which worker drew it."""

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int):
        info = torch.utils.data.get_worker_info()
        return torch.rand(()).item(), float(np.random.rand()), random.random(), info.id if info else -1


def _draws(**kwargs) -> list[tuple[float, float, float, int]]:
    loader = make_loader(Draws(), batch_size=4, num_workers=2, multiprocessing_context="fork", **kwargs)
    out = []
    for t, n, r, w in loader:
        out += list(zip(t.tolist(), n.tolist(), r.tolist(), w.tolist(), strict=False))
    return out


def test_defaults_follow_the_machine_and_every_keyword_overrides_them() -> None:
    loader = make_loader(list(range(10)))
    assert loader.num_workers == default_workers() and loader.batch_size == 64
    assert loader.pin_memory == torch.cuda.is_available()
    assert isinstance(loader.sampler, RandomSampler)
    if loader.num_workers:
        assert loader.persistent_workers
    plain = make_loader(list(range(10)), batch_size=3, shuffle=False, num_workers=0, pin_memory=False, drop_last=True)
    assert (plain.num_workers, plain.batch_size, plain.drop_last) == (0, 3, True)
    assert isinstance(plain.sampler, SequentialSampler)
    assert [b.tolist() for b in plain] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    mine = make_loader(list(range(6)), num_workers=0, batch_sampler=[[5, 0], [1, 2, 3]])
    assert [b.tolist() for b in mine] == [[5, 0], [1, 2, 3]], "a batch_sampler replaces batch_size and shuffle"


def test_default_workers_share_the_cpus_among_the_ranks_of_a_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(32)))
    assert default_workers() == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    assert default_workers() == 4
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "32")
    assert default_workers() == 0, "one CPU per rank: load in the main process"


@pytest.mark.slow
def test_worker_seeds_are_distinct_per_worker_and_rank_and_reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c = _draws(seed=7), _draws(seed=7), _draws(seed=8)
    assert a == b, "the same seed gives the same augmentations"
    assert a != c
    by_worker = {w: [x[:3] for x in a if x[3] == w] for w in (0, 1)}
    assert by_worker[0] and by_worker[1]
    for k in range(3):  # torch, numpy and random each differ between the two workers
        assert by_worker[0][0][k] != by_worker[1][0][k]
    monkeypatch.setenv("RANK", "1")
    other_rank = _draws(seed=7)
    assert [x[:3] for x in other_rank] != [x[:3] for x in a], "ranks with one seed still augment differently"


def test_a_process_group_brings_a_distributed_sampler(tmp_path: Path) -> None:
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/rdzv", rank=0, world_size=1)
    try:
        loader = make_loader(list(range(10)), batch_size=5, num_workers=0, seed=3)
        assert isinstance(loader.sampler, DistributedSampler) and loader.sampler.seed == 3
        assert sorted(x for b in loader for x in b.tolist()) == list(range(10))
        mine = make_loader(list(range(10)), num_workers=0, sampler=SequentialSampler(range(10)))
        assert isinstance(mine.sampler, SequentialSampler), "a sampler passed in wins"
    finally:
        dist.destroy_process_group()
