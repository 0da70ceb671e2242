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
from torchrig.data import store
d = Path(sys.argv[1])
def open_one(label="t"):
    h = store.Header(fingerprint="f" * 64, label=label, n_items=4, mode="direct", record_size=8, capacity=32,
                     spec={}, persist=False, checksums=False, created=time.time(), creator_pid=os.getpid())
    return store.open_store(d, h)
"""


def test_a_store_collected_while_its_directory_lock_is_held_does_not_deadlock(cache_dir: Path) -> None:
    code = _OPEN + """
gc.disable()
s = open_one()
cycle = [s]; cycle.append(cycle)  # only the cyclic collector can free it
path = s.path
del s, cycle
with store.directory_lock(d):
    gc.collect()  # runs the store's finalizer right here, under our own directory lock
print("done")
# The lifetime lock was dropped, so the cache is stale: the next attach removes it.
with store.directory_lock(d):
    assert store.inspect_cache(path).state == "stale"
    store._clean_stale(d)
assert not path.exists()
"""
    try:
        proc = run_py(code, str(cache_dir), timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("the finalizer deadlocked on the directory lock its own thread held")
    assert "done" in proc.stdout
