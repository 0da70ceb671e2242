"""The store on its own: finalizers, odd entries in the cache directory, the batch read buffer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import run_py

# A small direct-mode cache built straight from a Header: no dataset, no torch needed in the child.
_OPEN = """
import gc, os, sys, time
from pathlib import Path
from torchrig.data import cachefile, directories, inspection, store
d = Path(sys.argv[1])
def open_one(label="t"):
    h = cachefile.Header(fingerprint="f" * 64, label=label, n_items=4, mode="direct", record_size=8, capacity=32,
                     spec={}, persist=False, checksums=False, created=time.time(), creator_pid=os.getpid())
    return store.open_store(d, h)
"""


def test_a_store_collected_while_its_directory_lock_is_held_does_not_deadlock(cache_dir: Path) -> None:
    code = (
        _OPEN
        + """
gc.disable()
s = open_one()
cycle = [s]; cycle.append(cycle)  # only the cyclic collector can free it
path = s.path
del s, cycle
with directories.directory_lock(d):
    gc.collect()  # runs the store's finalizer right here, under our own directory lock
print("done")
# The lifetime lock was dropped, so the cache is stale: the next attach removes it.
with directories.directory_lock(d):
    assert inspection.inspect_cache(path).state == "stale"
    store.clean_stale(d)
assert not path.exists()
"""
    )
    try:
        proc = run_py(code, str(cache_dir), timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the finalizer deadlocked on the directory lock its own thread held")
    assert "done" in proc.stdout


def test_a_fifo_named_like_a_cache_blocks_neither_listing_nor_attaching_nor_clearing(cache_dir: Path) -> None:
    import json
    import os
    import sys

    from torchrig.data import directories, inspection

    directories.ensure_directory(cache_dir)
    fifo = cache_dir / "odd-0123.cache"
    os.mkfifo(fifo, 0o600)
    cli = [sys.executable, "-m", "torchrig", "cache"]
    try:
        listing = subprocess.run(
            [*cli, "list", "--json", "--dir", str(cache_dir)], capture_output=True, text=True, timeout=20
        )
        (entry,) = json.loads(listing.stdout)["caches"]
        assert entry["state"] == "not a cache" and entry["problem"] == "a FIFO"
        # An attach in that directory looks at every *.cache for stale ones (P3).
        proc = run_py(_OPEN + "s = open_one(); s.close(); print('attached')", str(cache_dir), timeout=20)
        assert "attached" in proc.stdout
        done = subprocess.run(
            [*cli, "clear", "--all", "--dir", str(cache_dir)], capture_output=True, text=True, timeout=20
        )
        assert done.returncode == 0 and "a FIFO, not a cache file" in done.stdout
        assert inspection.remove_cache(fifo) == "not a cache file" and fifo.exists()
    except subprocess.TimeoutExpired:
        pytest.fail("a FIFO in the cache directory blocked a cache command")


def test_the_batch_read_buffer_is_reused_only_once_nothing_refers_to_it(cache_dir: Path) -> None:
    import os
    import time
    import weakref

    import numpy as np

    from torchrig.data import cachefile, store

    h = cachefile.Header(
        fingerprint="b" * 64,
        label="buf",
        n_items=4,
        mode="direct",
        record_size=8,
        capacity=32,
        spec={},
        persist=False,
        checksums=False,
        created=time.time(),
        creator_pid=os.getpid(),
    )
    s = store.open_store(cache_dir, h)
    try:
        for i in range(4):
            s.write(i, [np.full(8, i, np.uint8)])
        idx = np.arange(4)
        _, a = s.read_fixed(idx)
        first = weakref.ref(a.base)
        del a
        _, b = s.read_fixed(idx)
        assert b.base is first(), "nothing held the last batch: its buffer is reused"
        _, c = s.read_fixed(idx[::-1])
        assert c.base is not b.base, "a batch still held is never overwritten"
        assert (b[:, 0] == np.arange(4)).all() and (c[:, 0] == np.arange(4)[::-1]).all()
    finally:
        s.close()


def test_items_still_held_survive_the_next_batches(cache_dir: Path) -> None:
    import numpy as np

    from torchrig.data import CachedDataset

    from .test_cached import Labelled

    base = Labelled()
    with CachedDataset(base, directory=cache_dir) as ds:
        ds.__getitems__(list(range(10)))  # now every item is cached: later batches are pure hits
        kept = ds.__getitems__(list(range(10)))
        for _ in range(3):
            ds.__getitems__(list(range(9, -1, -1)))
        assert all(np.array_equal(x, base.x[i]) and label == base.labels[i] for i, (x, label) in enumerate(kept))


def test_tensor_items_still_held_survive_the_next_batches(images: Path, cache_dir: Path) -> None:
    import torch

    from torchrig.data import CachedDataset, ImageFolder

    base = ImageFolder(images, size=8)
    n = len(base)
    with CachedDataset(base, directory=cache_dir) as ds:
        ds.__getitems__(list(range(n)))
        kept = ds.__getitems__(list(range(n)))
        for _ in range(3):
            ds.__getitems__(list(range(n - 1, -1, -1)))
        assert all(torch.equal(x, base[i][0]) for i, (x, _) in enumerate(kept))
