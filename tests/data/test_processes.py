"""The cache across real processes: DataLoader workers (fork, spawn), independently started ranks,
a writer SIGKILLed mid-write, a dead owner's leftovers, and a tmpfs too small for the cache."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from torchrig.data import CachedDataset, ImageFolder, cachefile, directories, inspection

from .conftest import run_py

pytestmark = pytest.mark.slow


def test_forked_workers_of_every_epoch_share_one_cache(images: Path) -> None:
    """persistent_workers=False: new workers each epoch, yet epoch 2 is all hits (default /dev/shm)."""
    base = ImageFolder(images, size=16)
    ds = CachedDataset(base, name="test-fork")
    try:
        loader = DataLoader(ds, batch_size=4, num_workers=2, persistent_workers=False, multiprocessing_context="fork")
        seen = [torch.cat([x for x, _ in loader]) for _ in range(2)]
        s = ds.stats()
        n = len(base)
        assert s["items"] == n, "the workers' writes are visible to the main process"
        assert s["misses"] == n - 8 and s["hits"] == n + 8, "epoch 1 missed all but the 8 probed, epoch 2 hit all"
        want = torch.stack([base[i][0] for i in range(n)])
        assert torch.equal(seen[0], want) and torch.equal(seen[1], want)
        assert Path(s["location"]).parent == directories.shm_directory()
    finally:
        ds.close()
    assert not Path(s["location"]).exists()


def test_forked_workers_share_variable_size_items(cache_dir: Path) -> None:
    from .test_cached import Tokens

    with CachedDataset(Tokens(60), directory=cache_dir) as ds:
        loader = DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="fork")
        for _ in range(2):
            got = list(loader)
            assert all(
                torch.equal(g["ids"], Tokens(60)[i]["ids"]) and g["text"] == Tokens(60)[i]["text"]
                for i, g in enumerate(got)
            )
        s = ds.stats()
        assert s["mode"] == "variable" and s["items"] == 60 and s["hits"] >= 60 and s["misses"] <= 60


@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_a_spawned_worker_attaches_by_name_and_its_writes_are_shared(images: Path, context: str) -> None:
    base = ImageFolder(images, size=16)
    with CachedDataset(base, name=f"test-{context}") as ds:
        loader = DataLoader(ds, batch_size=6, num_workers=1, multiprocessing_context=context)
        first = torch.cat([x for x, _ in loader])
        s = ds.stats()
        assert s["items"] == len(base) and s["misses"] == len(base) - 8, "the spawned worker filled the cache"
        assert torch.equal(torch.stack([x for x, _ in ds.__getitems__(list(range(len(ds))))]), first)
        assert ds.stats()["hits"] == s["hits"] + len(base)


def test_independently_started_ranks_attach_by_name_and_the_last_removes_it(images: Path) -> None:
    rank = textwrap.dedent("""
        import sys
        from torchrig.data import CachedDataset, ImageFolder
        sys.stdin.readline()  # both import torch at once; the second starts reading once the first is done
        ds = CachedDataset(ImageFolder(sys.argv[1], size=16))
        ds.__getitems__(list(range(len(ds))))
        s = ds.stats()
        print(s["location"], s["hits"], s["misses"], flush=True)
        sys.stdin.readline()  # stay attached until told to go
    """)
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", rank, str(images)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        ranks[0].stdin.write("\n")
        ranks[0].stdin.flush()
        loc1, hits1, misses1 = ranks[0].stdout.readline().split()
        out, _ = ranks[1].communicate("\n\n", timeout=120)
        loc2, hits2, misses2 = out.split()
        n = len(ImageFolder(images))
        assert ranks[1].returncode == 0
        assert loc1 == loc2
        assert int(misses2) == int(misses1), "the second rank computed nothing: its reads were all hits"
        assert int(hits2) - int(hits1) == n
        assert Path(loc1).exists(), "the first rank still uses it"
    finally:
        for p in ranks:
            if p.poll() is None:
                p.communicate("\n\n", timeout=60)
    assert not Path(loc1).exists()


class Parts:
    """One item of 8 parts of 64 KiB, each filled with its own non-zero byte."""

    def __len__(self) -> int:
        return 1

    def fingerprint(self) -> str:
        return "parts"

    def __getitem__(self, i: int):
        return tuple(torch.full((1 << 16,), k + 1, dtype=torch.uint8) for k in range(8))


def test_a_writer_sigkilled_mid_write_leaves_a_miss_never_a_torn_sample(cache_dir: Path) -> None:
    with CachedDataset(Parts(), directory=cache_dir, name="parts") as ds:
        store = ds._store
        writer = subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent("""
            import os, sys, time
            import torch
            from torchrig.data import CachedDataset
            class Parts:
                def __len__(self):
                    return 1
                def fingerprint(self):
                    return "parts"
                def __getitem__(self, i):
                    return tuple(torch.full((1 << 16,), k + 1, dtype=torch.uint8) for k in range(8))
            ds = CachedDataset(Parts(), directory=sys.argv[1], name="parts")  # attaches; item 0 is there
            real = os.pwritev
            def half_then_freeze(fd, buffers, offset):  # the real write, stopped half-way for the kill
                real(fd, buffers[: len(buffers) // 2], offset)
                print("half", flush=True)
                time.sleep(600)
            os.pwritev = half_then_freeze
            print("attached", flush=True)
            sys.stdin.readline()
            ds._put(0, Parts()[0])
        """),
                str(cache_dir),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert writer.stdout.readline().strip() == "attached"
            store.state[0] = cachefile.EMPTY  # as if the item had never been cached
            store.data[:] = 0
            writer.stdin.write("go\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "half"
            os.kill(writer.pid, signal.SIGKILL)
            assert writer.wait(timeout=30) == -signal.SIGKILL
            half = store.data.size // 2
            assert store.data[0] == 1 and store.data[half - 1] == 4 and not store.data[half:].any(), "torn on disk"
            assert store.state[0] != cachefile.READY
            before = ds.stats()
            item = ds[0]
            assert ds.stats()["misses"] == before["misses"] + 1, "the torn item reads as a miss"
            assert all(torch.equal(a, b) for a, b in zip(item, Parts()[0], strict=False))
            assert store.state[0] == cachefile.READY, "and the next reader rewrote it whole"
            assert (
                all(torch.equal(a, b) for a, b in zip(ds[0], Parts()[0], strict=False))
                and ds.stats()["hits"] == before["hits"] + 1
            )
        finally:
            if writer.poll() is None:
                writer.kill()


def test_a_cache_whose_owner_died_is_removed_by_the_next_attach(images: Path, cache_dir: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
        import sys, time
        from torchrig.data import CachedDataset, ImageFolder
        ds = CachedDataset(ImageFolder(sys.argv[1], size=16), directory=sys.argv[2], name="dead")
        print(ds.location, flush=True)
        time.sleep(600)
    """),
            str(images),
            str(cache_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    path = Path(proc.stdout.readline().strip())
    proc.kill()
    proc.wait(timeout=30)
    assert path.exists(), "a SIGKILLed process cannot clean up"
    info = inspection.list_caches([cache_dir])
    assert [c.state for c in info] == ["stale"]
    with CachedDataset(ImageFolder(images, size=8), directory=cache_dir, name="alive") as ds:
        assert not path.exists(), "the next attach removed the dead owner's cache"
        assert ds.location.exists()


def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


def _private_mounts() -> list[str] | None:
    """The ``unshare`` prefix that lets this user mount a tmpfs in a private namespace: as root a mount
    namespace, else a user namespace too (where the kernel allows unprivileged ones); None if neither."""
    if not shutil.which("unshare"):
        return None
    for prefix in (["unshare", "--mount"], ["unshare", "--user", "--map-root-user", "--mount"]):
        probe = subprocess.run(
            [*prefix, "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True, timeout=30
        )
        if probe.returncode == 0:
            return prefix
    return None


@pytest.mark.skipif(_private_mounts() is None, reason="needs mount (or user) namespaces to mount a small tmpfs")
def test_an_explicit_directory_on_a_filesystem_too_small_for_one_item_is_a_clear_error(
    images: Path, tmp_path: Path
) -> None:
    """A real 2 MiB tmpfs: after the margin torchrig leaves, not one 192 KiB item fits; naming the
    budget with capacity_bytes= uses the space, and the partial cache says so once."""
    small = tmp_path / "small"
    small.mkdir()
    script = textwrap.dedent("""
        import sys, warnings
        from torchrig.data import CachedDataset, ImageFolder
        from torchrig._core.errors import UserError
        base = ImageFolder(sys.argv[1], size=256)          # 18 items x 192 KiB
        try:
            CachedDataset(base, directory=sys.argv[2] + "/cache")
        except UserError as exc:
            print("error", exc)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with CachedDataset(base, directory=sys.argv[2] + "/cache", capacity_bytes=1 << 20) as ds:
                ds.__getitems__(list(range(len(ds))))
                print("partial", ds.stats()["items"], ds.stats()["fits"], len(w), w[0].message if w else "")
    """)
    mount = 'mount -t tmpfs -o size=2m tmpfs "$1" && shift && exec "$@"'
    proc = subprocess.run(
        [
            *(_private_mounts() or []),
            "sh",
            "-c",
            mount,
            "sh",
            str(small),
            sys.executable,
            "-c",
            script,
            str(images),
            str(small),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in proc.stdout.splitlines()}
    error = lines["error"]
    assert error.startswith(f"the sample cache does not fit in {small}/cache: its filesystem has 2.0 MiB free")
    assert "no room for a single item (192.1 KiB)" in error and error.count(". ") == 0, "one sentence"
    items, fits, warned, message = lines["partial"].split(" ", 3)
    assert (int(items), int(fits), int(warned)) == (5, 5, 1), "MinIO: 5 slots of 192 KiB in 1 MiB, said once"
    assert "holds 5 of the 18 items" in message and "hit rate of 28%" in message


@pytest.mark.skipif(not _can_mount(), reason="needs root and mount namespaces to mount a small tmpfs")
def test_a_tmpfs_too_small_for_the_cache_is_a_clear_error_or_a_disk_fallback_never_sigbus(images: Path) -> None:
    """In a private mount namespace, /dev/shm is a 2 MiB tmpfs; the cache needs 3 MiB or more."""
    script = textwrap.dedent("""
        import sys, warnings
        from torchrig.data import CachedDataset, ImageFolder
        from torchrig._core.errors import UserError
        base = ImageFolder(sys.argv[1], size=256)          # 18 items x 192 KiB = 3.4 MiB
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            ds = CachedDataset(base)                       # default budget: /dev/shm cannot hold it
            ds.__getitems__(list(range(len(ds))))
            print("default", ds.stats()["location"], ds.stats()["items"], len(w))
            ds.close()
            ds = CachedDataset(base, capacity_bytes=3 << 20)   # asked for more than the tmpfs has
            ds.__getitems__(list(range(len(ds))))
            print("reserve", ds.stats()["location"], ds.stats()["items"], len(w))
            ds.close()
        try:
            CachedDataset(base, directory="/dev/shm/mine", capacity_bytes=3 << 20)
        except UserError as exc:
            print("explicit", exc)
    """)
    proc = subprocess.run(
        [
            "unshare",
            "--mount",
            "sh",
            "-c",
            'mount -t tmpfs -o size=2m,mode=1777 tmpfs /dev/shm && exec "$@"',
            "sh",
            sys.executable,
            "-c",
            script,
            str(images),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr  # a SIGBUS would be -7
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in proc.stdout.splitlines()}
    home = os.environ["XDG_CACHE_HOME"]
    loc, items, warned = lines["default"].split()
    assert loc.startswith(home) and int(items) == 18 and int(warned) == 1
    loc, items, warned = lines["reserve"].split()
    # MinIO: 15 slots; warned: the fallback to disk again, and that only 15 of the 18 items fit
    assert loc.startswith(home) and int(items) == (3 << 20) // 196672 and int(warned) == 3
    assert "does not fit" in lines["explicit"] and "MiB free" in lines["explicit"]
    assert not list(Path(home).rglob("*.cache")), "the disk fallback is removed by its last user too"


def test_persistent_workers_alive_at_exit_do_not_leave_the_cache_behind(images: Path) -> None:
    out = run_py(
        """
        import sys
        from torchrig.data import CachedDataset, ImageFolder, make_loader
        ds = CachedDataset(ImageFolder(sys.argv[1], size=16), name="test-exit")
        loader = make_loader(ds, batch_size=4, num_workers=2, persistent_workers=True, multiprocessing_context="fork")
        for _ in loader:
            pass
        print(ds.location)  # exit with the workers still running and the dataset still open
    """,
        str(images),
    ).stdout.strip()
    assert out.endswith(".cache") and not Path(out).exists()


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_a_partial_cache_warns_once_not_once_per_worker_or_epoch(
    images: Path, context: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three epochs through make_loader with two fresh workers each (persistent_workers=False), and
    every warning shown every time it is raised (PYTHONWARNINGS=always, inherited by spawned workers)."""
    monkeypatch.setenv("PYTHONWARNINGS", "always")
    proc = run_py(
        """
        import sys
        from torchrig.data import CachedDataset, ImageFolder, make_loader
        base = ImageFolder(sys.argv[1], size=16)           # 18 items of 832 bytes
        ds = CachedDataset(base, name="test-partial", capacity_bytes=9 * 832)
        loader = make_loader(ds, batch_size=3, num_workers=2, persistent_workers=False,
                             multiprocessing_context=sys.argv[2], seed=0)
        before = 0
        for epoch in range(3):
            for _ in loader:
                pass
            hits = ds.stats()["hits"]
            print(epoch, hits - before, flush=True)
            before = hits
        ds.close()
        """,
        str(images),
        context,
    )
    assert proc.stderr.count("the sample cache holds 9 of the 18 items") == 1, proc.stderr
    assert "expect a hit rate of 50% from the second epoch on" in proc.stderr
    hits = [int(line.split()[1]) for line in proc.stdout.splitlines()]
    assert hits[1:] == [9, 9], "as said: half the reads hit, every later epoch"
