"""torchrig cache list | stats | clear, on real cache files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from torchrig.data import CachedDataset, ImageFolder


@pytest.fixture(autouse=True)
def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`cache clear --all` also looks in the temporary directory: never the real /tmp of other runs."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    return tmp


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torchrig", "cache", *args], capture_output=True, text=True, timeout=120
    )


def test_the_command_needs_no_torch() -> None:
    code = "import sys, torchrig.cli.main; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch.' in m)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60).returncode == 0


def test_list_stats_and_clear_tell_in_use_idle_and_foreign_apart(images: Path, cache_dir: Path) -> None:
    base = ImageFolder(images, size=16)
    live = CachedDataset(base, directory=cache_dir, name="live")
    live.__getitems__([0, 1, 1])
    with CachedDataset(ImageFolder(images, size=8), directory=cache_dir, name="kept", persist=True) as kept:
        kept_path = kept.location
    foreign = cache_dir / "theirs-0123.cache"
    foreign.write_bytes(b"x" * 100)
    os.chown(foreign, 4242, 4242)
    try:
        listing = json.loads(cli("list", "--json", "--dir", str(cache_dir)).stdout)
        assert listing["schema"] == "torchrig.cache/1"
        states = {Path(c["location"]).name.split("-")[0]: c["state"] for c in listing["caches"]}
        assert states == {"live": "in use", "kept": "idle", "theirs": "foreign"}

        stats = json.loads(cli("stats", "live", "--json", "--dir", str(cache_dir)).stdout)["cache"]
        assert (
            stats["hits"] == live.stats()["hits"] and stats["misses"] == live.stats()["misses"] == 2
        )  # 1 twice in one batch
        assert stats["items"] == 9 and stats["location"] == str(live.location)
        text = cli("stats", "live", "--dir", str(cache_dir)).stdout
        assert "in use" in text and "9 of 18" in text

        dry = cli("clear", "--all", "--dry-run", "--dir", str(cache_dir))
        assert dry.returncode == 0 and "would remove kept" in dry.stdout and kept_path.exists()
        done = cli("clear", "--all", "--dir", str(cache_dir))
        assert "removed kept" in done.stdout and "skipped live" in done.stdout and "not yours" in done.stdout
        assert not kept_path.exists() and live.location.exists() and foreign.exists()
    finally:
        live.close()
        foreign.unlink()


def test_bad_requests_are_one_sentence_and_exit_2(cache_dir: Path) -> None:
    for args, words in (
        (("clear",), "give a cache name or --all"),
        (("stats", "nope", "--dir", str(cache_dir)), "no cache named"),
    ):
        proc = cli(*args)
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr


def test_clear_skips_a_symlink_named_like_a_cache_and_clears_the_rest(
    images: Path, cache_dir: Path, tmp_path: Path
) -> None:
    with CachedDataset(ImageFolder(images, size=8), directory=cache_dir, name="kept", persist=True) as kept:
        kept_path = kept.location
    target = tmp_path / "precious"
    target.write_text("keep me")
    link = cache_dir / "aaa-0123.cache"  # sorts before the real cache: a crash on it would stop the clearing
    link.symlink_to(target)
    dry = cli("clear", "--all", "--dry-run", "--dir", str(cache_dir))
    assert dry.returncode == 0 and "would remove aaa" not in dry.stdout and "a symlink, not a cache file" in dry.stdout
    done = cli("clear", "--all", "--dir", str(cache_dir))
    assert done.returncode == 0, done.stderr
    assert "removed kept" in done.stdout and "a symlink, not a cache file" in done.stdout
    assert not kept_path.exists() and link.is_symlink() and target.read_text() == "keep me"
    from torchrig.data import inspection

    assert inspection.remove_cache(link) == "not a cache file" and link.is_symlink()  # a link planted after the listing


def test_an_empty_or_blank_name_refuses_and_removes_nothing(images: Path, cache_dir: Path) -> None:
    # `torchrig cache clear "$NAME"` with NAME unset once meant every idle cache
    with CachedDataset(ImageFolder(images, size=8), directory=cache_dir, name="kept", persist=True) as kept:
        kept_path = kept.location
    for name in ("", "  "):
        proc = cli("clear", name, "--dir", str(cache_dir))
        assert proc.returncode == 2 and "the cache name is empty" in proc.stderr and "Traceback" not in proc.stderr
        assert kept_path.exists()
    assert "removed kept" in cli("clear", "kept", "--dir", str(cache_dir)).stdout and not kept_path.exists()


def test_stats_and_list_show_the_fraction_of_the_dataset_that_fits(
    images: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line
    base = ImageFolder(images, size=16)  # 18 items of 832 bytes
    with pytest.warns(UserWarning, match="holds 6 of the 18"):
        partial = CachedDataset(base, directory=cache_dir, name="partial", capacity_bytes=6 * 832)
    with partial, CachedDataset(ImageFolder(images, size=8), directory=cache_dir, name="whole"):
        partial.__getitems__([0])  # one item cached so far; the capacity, not the count, is the expectation
        stats = json.loads(cli("stats", "partial", "--json", "--dir", str(cache_dir)).stdout)["cache"]
        assert stats["fits"] == 6 and stats["fits_fraction"] == pytest.approx(1 / 3) and stats["mode"] == "slots"
        text = cli("stats", "partial", "--dir", str(cache_dir)).stdout
        assert "6 of 18 items (33%; the hit rate to expect once filled)" in text
        listing = cli("list", "--dir", str(cache_dir)).stdout.splitlines()
        assert "fits" in listing[0].split()
        rows = {line.split()[0].split("-")[0]: line.split() for line in listing[1:]}
        assert "33%" in rows["partial"] and "100%" in rows["whole"]


SELFTEST_OWNER = (
    "import time\n"
    "from torchrig.selftest import workdirs\n"
    "work = workdirs.create()\n"
    "(work.path / 'rank-0.log').write_bytes(b'x' * 100_000)\n"
    "print(work.path, flush=True)\n"
    "time.sleep(120)\n"
)


def test_clear_all_removes_the_work_directories_of_killed_selftest_runs_and_nothing_else(
    private_tmpdir: Path, cache_dir: Path
) -> None:
    owners = [
        subprocess.Popen([sys.executable, "-c", SELFTEST_OWNER], stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    try:
        dead, live = (Path(o.stdout.readline().strip()) for o in owners)
        assert dead.parent == live.parent == private_tmpdir
        owners[0].kill()  # SIGKILL: the launcher had no chance to clean up
        owners[0].wait(timeout=30)
        kept = private_tmpdir / "torchrig-selftest-kept"  # --keep: no lock file, kept for good
        kept.mkdir()
        (kept / "rank-0.log").write_text("keep me")
        other = private_tmpdir / "other-dir"
        other.mkdir()

        dry = cli("clear", "--all", "--dry-run", "--dir", str(cache_dir))
        assert dry.returncode == 0, dry.stderr
        assert f"would remove {dead} (" in dry.stdout and "left by a killed torchrig selftest" in dry.stdout
        assert str(live) not in dry.stdout and str(kept) not in dry.stdout and dead.exists()

        named = cli("clear", "nope", "--dir", str(cache_dir))  # a name clears caches only
        assert named.returncode == 2 and dead.exists()

        done = cli("clear", "--all", "--dir", str(cache_dir))
        assert done.returncode == 0, done.stderr
        assert f"removed {dead} (" in done.stdout and "freed " in done.stdout
        assert not dead.exists()
        assert (live / "rank-0.log").exists(), "a running self-test keeps its directory"
        assert (kept / "rank-0.log").read_text() == "keep me" and other.is_dir()
    finally:
        for o in owners:
            if o.poll() is None:
                o.kill()
            o.wait(timeout=30)


def test_listing_a_shared_directory_says_why_it_is_not_read_and_advises_no_chmod(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)  # like /etc: a directory torchrig never keeps caches in
    for command in (["list"], ["clear", "--all"]):
        proc = cli(*command, "--dir", str(shared))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert " ".join(proc.stderr.split()) == (
            f"torchrig: {shared} is open to other users (mode 755), and torchrig keeps caches only in "
            "directories private to you, so it does not look for them there."
        )
    assert shared.stat().st_mode & 0o777 == 0o755 and not any(shared.iterdir())


def test_clear_as_json_gives_each_cache_s_outcome_and_the_bytes_freed(images: Path, cache_dir: Path) -> None:
    with CachedDataset(ImageFolder(images, size=8), directory=cache_dir, name="kept", persist=True) as kept:
        path, size = kept.location, kept.location.stat().st_blocks * 512
    dry = json.loads(cli("clear", "--all", "--dry-run", "--json", "--dir", str(cache_dir)).stdout)
    assert dry["schema"] == "torchrig.cache-clear/1" and dry["dry_run"] is True and path.exists()
    assert [(c["location"], c["outcome"]) for c in dry["caches"]] == [(str(path), "would remove")]
    done = json.loads(cli("clear", "--all", "--json", "--dir", str(cache_dir)).stdout)
    assert [(c["location"], c["outcome"], c["size"]) for c in done["caches"]] == [(str(path), "removed", size)]
    assert done["freed"] == size and not path.exists()
