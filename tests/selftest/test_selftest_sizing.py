"""How much each rank reads in the training stage, at any world size: every rank always gets full batches.

At 34 ranks and more, 1024 images in batches of 32 once left each rank no full batch at all, and every run
ended in ``StopIteration``. The shards are cut here by the real ``DistributedSampler`` and ``BatchSampler``
the loader uses (``drop_last=True``, as in the stage), for the first and the last rank.
"""

from __future__ import annotations

import pytest

from torchrig.selftest.stages import training
from torchrig.selftest.stages.training import sizing

torch = pytest.importorskip("torch")
from torch.utils.data import BatchSampler, DistributedSampler  # noqa: E402


def full_batches(world: int, rank: int, length: int, batch: int) -> int:
    sampler = DistributedSampler(range(length), num_replicas=world, rank=rank, shuffle=True, drop_last=True)
    return sum(1 for _ in BatchSampler(sampler, batch_size=batch, drop_last=True))


@pytest.mark.parametrize(
    ("world", "batch", "length"),
    [
        (1, 32, 1024),  # one GPU: as ever
        (2, 32, 1024),  # --cpu 2, what CI runs: as ever
        (34, 7, 1024),  # the first world size that had no full batch of 32 (1024 // 34 = 30 images a rank)
        (64, 4, 1024),  # the most --cpu allows: the smallest batch, 1024 images still enough
        (1024, 4, 16384),  # a large torchrun job: more images instead of a smaller batch
    ],
)
def test_every_rank_reads_full_batches_at_any_world_size(world: int, batch: int, length: int) -> None:
    size = sizing(world)
    assert (size.batch, size.dataset_length) == (batch, length)
    for rank in (0, world - 1):
        assert full_batches(world, rank, size.dataset_length, size.batch) == size.batches_per_epoch
    assert size.batches_per_epoch >= training.MIN_BATCHES_PER_EPOCH
    assert world * size.batch >= training.BATCH  # the global batch is never smaller than one rank's of 32


def test_the_default_steps_read_a_second_epoch_from_the_cache_whenever_more_than_one_rank_trains() -> None:
    for world in range(2, 1025):
        assert sizing(world).batches_per_epoch < training.DEFAULT_STEPS, world


def test_a_world_without_ranks_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        sizing(0)
