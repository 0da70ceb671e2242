"""``CachedDataset`` + ``make_loader`` feeding a real GPU training step, the way the runtime guide says to.

Two epochs of a small CNN on image-like data: the workers fill the shared cache in epoch 1 and read it in
epoch 2; batches come back pinned and go to the GPU with ``non_blocking=True``; every sample is the
deterministic stage's item (or its mirror image: the random flip runs after the cache, every time); the
loss falls. The cache lives in a private directory of this test, never in ``/dev/shm/torchrig-<uid>``.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpu_lane import no_gpu_reason

if no_gpu_reason() is None:  # else conftest skips every test, saying why
    import torch
    import torch.nn.functional as F

    from torchrig.data import CachedDataset, make_loader, store
    from torchrig.selftest.model import tiny_cnn
    from torchrig.selftest.synthetic import SyntheticImages

pytestmark = pytest.mark.gpu

ITEMS, BATCH, EPOCHS = 1024, 64, 2


class Indexed:
    """The deterministic stage: a synthetic 3x32x32 uint8 image of one of 10 classes, its label, its index."""

    def __init__(self, n: int) -> None:
        self.images = SyntheticImages(n, seed=7)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        image, label = self.images[i]
        return image, label, i

    def fingerprint(self) -> str:
        return f"gpu-lane/{self.images.fingerprint()}"


def scale(image: torch.Tensor) -> torch.Tensor:
    return image.float().div_(127.5).sub_(1.0)


def flip_and_scale(image: torch.Tensor) -> torch.Tensor:
    """The random stage, after the cache: a horizontal flip half the time, then floats around 0."""
    if torch.rand(()) < 0.5:
        image = image.flip(-1)
    return scale(image)


def _entries(directory: Path) -> list[str] | None:
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return None


@pytest.fixture
def cache_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh 0700 directory on /dev/shm (tmpfs, as in production) or, without one, under tmp_path."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        directory = Path(tempfile.mkdtemp(prefix="torchrig-gpu-lane-", dir=shm))
    else:
        directory = tmp_path / "cache"
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_the_cache_feeds_two_epochs_of_gpu_training_through_pinned_non_blocking_copies(cache_dir: Path) -> None:
    real = store.shm_directory()
    real_before = _entries(real)
    device = torch.device("cuda", torch.cuda.current_device())
    base = Indexed(ITEMS)
    # What every sample must be: the deterministic item, scaled on the CPU as the workers do, or its mirror.
    plain = torch.stack([scale(base[i][0]) for i in range(ITEMS)])
    expected = plain.to(device), plain.flip(-1).to(device)
    labels_of = torch.tensor([base[i][1] for i in range(ITEMS)], device=device)

    cached = CachedDataset(base, transform=flip_and_scale, directory=cache_dir)
    assert Path(cached.stats()["location"]).parent == cache_dir
    loader = make_loader(
        cached, batch_size=BATCH, shuffle=True, seed=0, num_workers=2, pin_memory=True, persistent_workers=False
    )  # the cache must survive workers that end with the epoch
    assert loader.pin_memory and loader.num_workers == 2

    torch.manual_seed(0)
    model = tiny_cnn(seed=0).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses: list[float] = []
    flipped: list[torch.Tensor] = []
    counts: list[dict[str, Any]] = [cached.stats()]
    for _ in range(EPOCHS):
        seen = torch.zeros(ITEMS, dtype=torch.int64, device=device)
        mirror = torch.zeros(ITEMS, dtype=torch.bool, device=device)
        for batch in loader:
            assert all(t.is_pinned() for t in batch), "the loader should pin batches"
            images, labels, index = (t.to(device, non_blocking=True) for t in batch)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.item()))  # synchronises: the copies above are complete

            same = (images == expected[0][index]).flatten(1).all(1)
            mirrored = (images == expected[1][index]).flatten(1).all(1)
            assert bool((same | mirrored).all()), "a sample is neither its cached item nor its mirror image"
            assert torch.equal(labels, labels_of[index])
            seen.index_add_(0, index, torch.ones_like(index))
            mirror[index] = mirrored & ~same
        assert bool((seen == 1).all()), "every item once per epoch"
        flipped.append(mirror)
        counts.append(cached.stats())

    assert all(math.isfinite(x) for x in losses)
    steps = len(losses)
    assert steps == EPOCHS * math.ceil(ITEMS / BATCH)
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last <= 0.5 * first, f"the loss did not fall: {first:.3f} -> {last:.3f} over {steps} steps"

    reads = [{k: after[k] - before[k] for k in ("hits", "misses")} for before, after in itertools.pairwise(counts)]
    assert counts[1]["items"] == ITEMS and sum(reads[0].values()) == ITEMS, counts
    assert reads[1] == {"hits": ITEMS, "misses": 0}, f"epoch 2 must come from the cache: {reads}"
    # the random stage ran on every read, not once into the cache
    for mirror in flipped:
        assert 0.35 * ITEMS < int(mirror.sum()) < 0.65 * ITEMS
    assert int((flipped[0] != flipped[1]).sum()) > ITEMS // 4

    # Another reader of the same data attaches to the same cache, and its records are the deterministic items.
    with CachedDataset(Indexed(ITEMS), directory=cache_dir) as again:
        assert again.location == cached.location
        before = again.stats()
        items = again.__getitems__(list(range(ITEMS)))
        after = again.stats()
        assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (ITEMS, 0)
        for i in (0, 1, ITEMS // 2, ITEMS - 1):
            image, label, index = items[i]
            assert torch.equal(image, base[i][0]) and (label, index) == (base[i][1], i)
    cached.close()
    del loader
    assert not list(cache_dir.glob("*.cache")), "the last user removes a non-persistent cache"
    assert _entries(real) == real_before, f"the test touched {real}"
