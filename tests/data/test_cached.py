"""CachedDataset and ImageFolder in one process: what is cached, where, and what is refused."""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from torchrig._core.errors import UserError
from torchrig.data import CachedDataset, ImageFolder, directories, inspection

from .conftest import make_jpegs, run_py

RECORD_16 = 832  # one ImageFolder(size=16) item as cached: 3 x 16 x 16 pixels and the label, 64-byte aligned


def test_cached_items_equal_the_dataset_items_and_the_second_read_hits(images: Path, cache_dir: Path) -> None:
    base = ImageFolder(images, size=32)
    with CachedDataset(base, directory=cache_dir) as ds:
        first = ds.__getitems__(list(range(len(ds))))
        second = ds.__getitems__(list(range(len(ds))))
        for i, ((a, la), (b, lb)) in enumerate(zip(first, second, strict=False)):
            x, lx = base[i]
            assert torch.equal(a, x) and torch.equal(b, x) and la == lb == lx
            assert b.shape == (3, 32, 32) and b.dtype == torch.uint8
        s = ds.stats()
        assert s["items"] == len(base) and s["mode"] == "direct"
        assert s["hits"] >= len(base) and s["bytes"] == s["capacity"]
        assert {"hits", "misses", "items", "bytes", "capacity", "location", "name"} <= set(s)
        assert Path(s["location"]).parent == cache_dir
        mode = os.stat(s["location"]).st_mode & 0o777
        assert mode == 0o600 and os.stat(cache_dir).st_mode & 0o777 == 0o700
    assert not list(cache_dir.glob("*.cache")), "the last user removes a non-persistent cache"


def test_a_cached_sample_cannot_be_changed_through_what_a_read_returns(images: Path, cache_dir: Path) -> None:
    with CachedDataset(ImageFolder(images, size=16), directory=cache_dir) as ds:
        img, _ = ds[0]
        img.zero_()  # a careless in-place transform
        again, _ = ds[0]
        assert again.any(), "reads are copies: the shared record is untouched"


def test_transform_runs_after_the_cache_on_every_read(images: Path, cache_dir: Path) -> None:
    calls = []

    def flip(t: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return t.flip(-1)

    base = ImageFolder(images, size=16)
    with CachedDataset(base, transform=flip, directory=cache_dir) as ds:
        for _ in range(2):
            img, label = ds[1]
            assert torch.equal(img, base[1][0].flip(-1)) and label == base[1][1]
    assert len(calls) == 2


def test_half_the_budget_caches_half_the_items_and_hits_exactly_those(images: Path, cache_dir: Path) -> None:
    base = ImageFolder(images, size=16)  # 18 items
    record = CachedDataset(base, directory=cache_dir, name="probe")
    full = record.stats()["capacity"]
    record.close()
    with pytest.warns(UserWarning, match="expect a hit rate of 50% from the second epoch on"):
        ds = CachedDataset(base, directory=cache_dir, capacity_bytes=full // 2)
    with ds:
        order = np.random.default_rng(1).permutation(len(ds)).tolist()
        ds.__getitems__(order)  # epoch 1 fills until the budget is spent (MinIO)
        s1 = ds.stats()
        assert s1["mode"] == "slots" and s1["items"] == len(ds) // 2 and s1["bytes"] == s1["capacity"]
        for seed in (2, 3):  # later epochs, other orders: hit rate == fraction cached, nothing evicted
            ds.__getitems__(np.random.default_rng(seed).permutation(len(ds)).tolist())
            s2 = ds.stats()
            assert s2["hits"] - s1["hits"] == s1["items"] and s2["items"] == s1["items"]
            s1 = s2


class Tokens:
    """Variable-length items with a string: the variable (slab + offset table) format."""

    def __init__(self, n: int, salt: int = 0) -> None:
        self.n, self.salt = n, salt

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return {"ids": torch.arange(i % 7 + self.salt, dtype=torch.int32), "text": "tok" * (i % 5), "y": float(i)}


def test_variable_size_items_are_cached_and_read_back_equal(cache_dir: Path) -> None:
    with CachedDataset(Tokens(40), directory=cache_dir) as ds:
        ds.__getitems__(list(range(40)))
        back = ds.__getitems__(list(range(40)))
        for i, item in enumerate(back):
            want = Tokens(40)[i]
            assert torch.equal(item["ids"], want["ids"]) and item["text"] == want["text"] and item["y"] == want["y"]
        s = ds.stats()
        assert s["mode"] == "variable" and s["items"] == 40 and s["hits"] >= 40
    with pytest.warns(UserWarning, match="holds about"):
        small = CachedDataset(Tokens(40), directory=cache_dir, capacity_bytes=1000)
    with small:
        small.__getitems__(list(range(40)))
        s = small.stats()
        assert s["capacity"] == 960 and 0 < s["items"] < 40 and s["refused"] > 0, "MinIO in the slab too"
        assert s["bytes"] <= s["capacity"]
    with CachedDataset(Tokens(40), directory=cache_dir, capacity_bytes=50 << 20) as big:
        assert big.stats()["capacity"] == 50 << 20, "an explicit budget beyond the estimate is honoured"


def test_a_changed_dataset_gets_a_new_cache_never_stale_samples(tmp_path: Path, cache_dir: Path) -> None:
    root = make_jpegs(tmp_path / "imgs", classes=2, per_class=3)
    with CachedDataset(ImageFolder(root, size=16), directory=cache_dir) as before:
        old = before.location
        make_jpegs(tmp_path / "imgs", classes=2, per_class=3, seed=9)  # same names, new pixels
        os.utime(root / "c0" / "0.jpg", ns=(1, 1))
        with CachedDataset(ImageFolder(root, size=16), directory=cache_dir) as after:
            assert after.location != old
            assert torch.equal(after[0][0], ImageFolder(root, size=16)[0][0])
    with (
        CachedDataset(Tokens(10), directory=cache_dir) as a,
        CachedDataset(Tokens(10, salt=1), directory=cache_dir) as b,
    ):
        assert a.location != b.location, "without fingerprint(), sampled item bytes tell datasets apart"


def test_a_corrupt_jpeg_raises_an_error_naming_its_path(images: Path) -> None:
    bad = images / "c1" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    good = (images / "c1" / "0.jpg").read_bytes()
    (images / "c2" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    ds = ImageFolder(images, size=16)
    for name in ("broken.jpg", "truncated.jpg"):
        i = next(k for k, (p, _) in enumerate(ds.samples) if p.endswith(name))
        with pytest.raises(UserError, match=rf"cannot decode the image .*{name}"):
            ds[i]


def test_a_cache_file_of_another_user_is_refused_not_used(images: Path, cache_dir: Path) -> None:
    base = ImageFolder(images, size=16)
    with CachedDataset(base, directory=cache_dir) as ds:
        path = ds.location
    cache_dir.mkdir(mode=0o700, exist_ok=True)
    path.write_bytes(b"planted")
    os.chown(path, 4242, 4242)
    try:
        with pytest.raises(UserError, match="belongs to uid 4242"):
            CachedDataset(base, directory=cache_dir)
        assert path.read_bytes() == b"planted", "another user's file is never deleted or overwritten"
    finally:
        path.unlink()


def test_a_directory_of_another_user_or_a_symlink_is_refused(images: Path, tmp_path: Path) -> None:
    base = ImageFolder(images, size=16)
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 4242, 4242)
    with pytest.raises(UserError, match="belongs to uid 4242"):
        CachedDataset(base, directory=theirs)
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(UserError, match="not a plain directory"):
        CachedDataset(base, directory=link)
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    os.chmod(open_dir, 0o755)
    with pytest.raises(UserError, match="accessible to other users"):
        CachedDataset(base, directory=open_dir)


def test_a_symlink_planted_as_the_cache_file_is_not_followed(images: Path, cache_dir: Path, tmp_path: Path) -> None:
    base = ImageFolder(images, size=16)
    with CachedDataset(base, directory=cache_dir) as ds:
        path = ds.location
    cache_dir.mkdir(mode=0o700, exist_ok=True)
    target = tmp_path / "victim"
    target.write_bytes(b"precious")
    path.symlink_to(target)
    with pytest.raises(UserError, match="symlink"):
        CachedDataset(base, directory=cache_dir)
    assert target.read_bytes() == b"precious"
    path.unlink()


def test_a_tampered_header_is_replaced_when_unused_and_never_trusted(images: Path, cache_dir: Path) -> None:
    base = ImageFolder(images, size=16)
    with CachedDataset(base, directory=cache_dir, persist=True) as ds:
        ds.__getitems__(list(range(len(ds))))
        path = ds.location
    with open(path, "r+b") as fh:  # claim another format version
        fh.seek(8)
        fh.write(struct.pack("<I", 99))
    with pytest.raises(UserError, match="not a usable torchrig cache"):
        CachedDataset(base, directory=cache_dir, persist=True)
    inspection.remove_cache(path)
    assert not path.exists()


@pytest.mark.slow
def test_persist_keeps_the_cache_for_the_next_process(images: Path) -> None:
    with CachedDataset(ImageFolder(images, size=16), persist=True) as ds:
        assert ds.stats()["items"] < len(ds)
        ds.__getitems__(list(range(len(ds))))
        path = ds.location
    assert path.exists() and path.is_relative_to(directories.disk_directory())
    out = run_py(
        """
        import sys
        from torchrig.data import CachedDataset, ImageFolder
        ds = CachedDataset(ImageFolder(sys.argv[1], size=16), persist=True)
        before = ds.stats()
        ds.__getitems__(list(range(len(ds))))
        print(before["items"], ds.stats()["hits"] - before["hits"], ds.stats()["location"])
    """,
        str(images),
    ).stdout.split()
    n = len(ImageFolder(images))
    assert out == [str(n), str(n), str(path)], "the next run starts warm: every read a hit"
    assert inspection.remove_cache(path) == "removed" and not path.exists()


def test_an_empty_or_unsupported_dataset_is_a_clear_error(cache_dir: Path) -> None:
    with pytest.raises(UserError, match="empty dataset"):
        CachedDataset([], directory=cache_dir)
    with pytest.raises(UserError, match="contains a object"):
        CachedDataset([object()], directory=cache_dir)
    with pytest.raises(UserError, match=r"the image folder .* does not exist"):
        ImageFolder(cache_dir / "nowhere")


def test_with_checksums_a_record_changed_behind_our_back_reads_as_a_miss(
    images: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The visibility rule for CPUs without x86's store order (store.py, P5), exercised here."""
    monkeypatch.setenv("TORCHRIG_CACHE_CHECKSUMS", "1")
    base = ImageFolder(images, size=16)
    with CachedDataset(base, directory=cache_dir, name="crc") as ds:
        ds.__getitems__(list(range(len(ds))))
        store = ds._store
        assert store.header.checksums
        store.records[3, 100] ^= 0xFF  # a record whose bytes do not match its published checksum
        before = ds.stats()
        got = ds.__getitems__([2, 3, 4])
        after = ds.stats()
        assert after["hits"] - before["hits"] == 2 and after["misses"] - before["misses"] == 1
        assert all(torch.equal(g[0], base[i][0]) for g, i in zip(got, (2, 3, 4), strict=False))


def test_a_default_shm_directory_made_by_another_user_falls_back_to_disk(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for /dev/shm/torchrig-<uid>, through the seam every process reads (TORCHRIG_SHM_DIR).
    squatted = tmp_path / "shm" / f"torchrig-{os.geteuid()}"
    squatted.mkdir(parents=True, mode=0o700)
    os.chown(squatted, 4242, 4242)
    monkeypatch.setenv("TORCHRIG_SHM_DIR", str(squatted))
    base = ImageFolder(images, size=8)
    with pytest.warns(UserWarning, match="belongs to uid 4242.*instead"):
        ds = CachedDataset(base)
    with ds:
        assert ds.location.parent == directories.disk_directory() and torch.equal(ds[0][0], base[0][0])
    assert not list(squatted.iterdir())
    with pytest.raises(UserError, match="belongs to uid 4242"):  # a place the user chose is never swapped for another
        CachedDataset(base, directory=squatted)


class Labelled:
    """Inputs and labels in numpy arrays: ``labels[i]`` is a numpy int64, not a Python int."""

    def __init__(self) -> None:
        self.x = np.arange(40, dtype=np.float32).reshape(10, 4)
        self.labels = np.arange(10, dtype=np.int64) % 3

    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int):
        return self.x[i], self.labels[i]


def test_a_numpy_scalar_label_is_cached_and_read_back_as_the_same_type(cache_dir: Path) -> None:
    base = Labelled()
    with CachedDataset(base, directory=cache_dir) as ds:
        for _ in range(2):
            for i, (x, label) in enumerate(ds.__getitems__(list(range(10)))):
                assert np.array_equal(x, base.x[i]) and type(label) is np.int64 and label == base.labels[i]
        assert ds.stats()["items"] == 10 and ds.stats()["hits"] >= 10


def test_persist_needs_a_fingerprint_method_or_an_explicit_name(cache_dir: Path) -> None:
    with pytest.raises(UserError, match=r"persist=True .* give Labelled a fingerprint\(\) method .* or pass a name="):
        CachedDataset(Labelled(), directory=cache_dir, persist=True)
    assert not cache_dir.exists() or not list(cache_dir.glob("*.cache")), "refused before anything was created"

    class Versioned(Labelled):
        def fingerprint(self) -> str:
            return "labels v1"

    paths = []
    for ds in (
        CachedDataset(Labelled(), directory=cache_dir, persist=True, name="labels-v1"),
        CachedDataset(Versioned(), directory=cache_dir, persist=True),
    ):
        with ds:
            paths.append(ds.location)
    assert all(p.exists() for p in paths)
    assert [inspection.remove_cache(p) for p in paths] == ["removed", "removed"]


def test_an_explicit_directory_that_cannot_hold_one_item_is_a_clear_error_not_an_empty_cache(
    images: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 MiB free: less than the quarter (at least 256 MiB) torchrig leaves, so the budget is 0 bytes.

    (A real small tmpfs: tests/data/test_processes.py, where mount namespaces allow it.)"""
    monkeypatch.setattr(directories, "free_bytes", lambda _where: 100 << 20)
    with pytest.raises(UserError, match=r"does not fit in .*cache: its filesystem has 100\.0 MiB free") as err:
        CachedDataset(ImageFolder(images, size=16), directory=cache_dir)
    assert f"single item ({RECORD_16} bytes)" in str(err.value) and "capacity_bytes=" in str(err.value)
    assert not list(cache_dir.glob("*.cache"))
    # capacity_bytes= overrides the margin: the user takes the space knowingly
    with pytest.warns(UserWarning, match="holds 4 of the 18 items"):
        ds = CachedDataset(ImageFolder(images, size=16), directory=cache_dir, capacity_bytes=4 * RECORD_16)
    with ds:
        assert ds.stats()["capacity"] == 4 * RECORD_16


def test_a_cache_that_exists_is_attached_even_when_the_disk_has_since_filled(
    images: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A persistent cache made yesterday (or by the first rank a moment ago) still serves when the disk
    is now too full to create one: only creating is refused."""
    first = CachedDataset(ImageFolder(images, size=16), directory=cache_dir, name="kept", persist=True)
    with first:
        for i in range(len(first)):
            first[i]
    monkeypatch.setattr(directories, "free_bytes", lambda _where: 200 << 20)  # checkpoints filled the disk
    again = CachedDataset(ImageFolder(images, size=16), directory=cache_dir, name="kept", persist=True)
    with again:
        assert again.location == first.location
        assert again.stats()["items"] == len(again)  # yesterday's items, read back
    inspection.remove_cache(first.location)


def test_a_capacity_smaller_than_one_item_is_a_clear_error(images: Path, cache_dir: Path) -> None:
    for small in (0, RECORD_16 - 1):
        with pytest.raises(UserError, match=rf"capacity_bytes={small} cannot hold a single item \({RECORD_16} bytes\)"):
            CachedDataset(ImageFolder(images, size=16), directory=cache_dir, capacity_bytes=small)
    with pytest.raises(UserError, match="cannot hold a single item"):
        CachedDataset(Tokens(40), directory=cache_dir, capacity_bytes=32)


def test_a_partial_cache_says_once_how_much_fits_and_the_hit_rate_to_expect(
    images: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ImageFolder(images, size=16)  # 18 items
    with pytest.warns(UserWarning) as caught:
        ds = CachedDataset(base, directory=cache_dir, capacity_bytes=6 * RECORD_16 + 100)
    [w] = [w for w in caught if "sample cache holds" in str(w.message)]
    text = str(w.message)
    assert "holds 6 of the 18 items of ImageFolder (4.9 KiB of 14.6 KiB, capacity_bytes=5092)" in text
    assert "expect a hit rate of 33% from the second epoch on" in text
    assert w.filename == __file__, "the warning points at the caller's line"
    s = ds.stats()
    assert s["fits"] == 6 and s["fits_fraction"] == pytest.approx(1 / 3)
    ds.close()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cache that holds everything says nothing
        with CachedDataset(base, directory=cache_dir) as full:
            assert full.stats()["fits"] == 18
        monkeypatch.setenv("LOCAL_RANK", "1")  # one per node: the other local ranks say nothing
        with CachedDataset(base, directory=cache_dir, capacity_bytes=6 * RECORD_16):
            pass


def test_a_partial_cache_of_variable_size_items_gives_an_estimate(cache_dir: Path) -> None:
    with pytest.warns(UserWarning, match=r"holds about \d+ of the 40 items of Tokens .* hit rate of about \d+%"):
        ds = CachedDataset(Tokens(40), directory=cache_dir, capacity_bytes=1000)
    with ds:
        assert ds.stats()["fits"] is not None and ds.stats()["fits"] < 40
        ds.__getitems__(list(range(40)))
        s = ds.stats()
        assert s["refused"] > 0 and s["fits"] == s["items"], "once full, what it holds is what fits"


def test_a_batch_is_freed_as_soon_as_it_is_dropped_not_at_the_next_garbage_collection(
    images: Path, cache_dir: Path
) -> None:
    """A reference cycle in the decoded items kept every batch's read buffer (~12 MB for 64 images of
    256 x 256) alive until the cyclic collector ran: most of the extra private memory per worker."""
    import gc
    import weakref

    with (
        CachedDataset(ImageFolder(images, size=16), directory=cache_dir) as ds,
        CachedDataset(Tokens(20), directory=cache_dir) as var,
    ):
        ds.__getitems__(list(range(len(ds))))  # every item cached: the reads below are hits
        var.__getitems__(list(range(20)))
        gc.disable()
        try:
            for dataset, tensor_of in ((ds, lambda item: item[0]), (var, lambda item: item["ids"])):
                batch = dataset.__getitems__(list(range(8)))
                refs = [weakref.ref(tensor_of(item)) for item in batch]
                del batch
                assert all(r() is None for r in refs), "dropped items are freed at once, without gc"
        finally:
            gc.enable()


def test_a_partial_cache_adopted_from_another_process_says_whose_capacity_it_is(images: Path, cache_dir: Path) -> None:
    base = ImageFolder(images, size=16)
    with pytest.warns(UserWarning, match="capacity_bytes="):
        first = CachedDataset(base, directory=cache_dir, capacity_bytes=6 * RECORD_16)
    with (
        first,
        pytest.warns(UserWarning, match="holds 6 of the 18 items .*the existing cache this process attached to"),
    ):
        second = CachedDataset(base, directory=cache_dir, capacity_bytes=12 * RECORD_16)  # the first one's wins
    second.close()
