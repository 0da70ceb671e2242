"""Benchmark: the shared sample cache against no cache, a per-worker dict cache and a pre-decoded memmap.

Workload (issues 3 and 12): a synthetic ImageFolder of JPEGs (10 classes x 300, 256x256, quality 90), a
random 224 crop + horizontal flip, ``num_workers=2``, ``batch_size=64``, 3 epochs. Modes, in one
interleaved run:

- ``none``: decode every time;
- ``dict``: a dict cache inside the dataset, i.e. inside each worker;
- ``memmap``: what a user would build instead: every image decoded once (untimed, before the epochs;
  its time is printed) into a uint8 memmap in /dev/shm, read through the stock DataLoader with the
  same crop + flip (its memory counts the memmap file as shared memory), the stock DataLoader's
  defaults but ``num_workers`` (so ``persistent_workers=False``);
- ``memmap-pw``: the same with ``persistent_workers=True``, the one setting make_loader changes that a
  stock DataLoader also has: what the memmap gains from it is not torchrig's doing;
- ``torchrig``: ``CachedDataset`` + ``make_loader``'s defaults (persistent workers, the ring transport),
  as a user is told to use it, with the same number of workers;
- ``torchrig-stock``: ``CachedDataset`` inside the memmap mode's stock DataLoader, settings and all;
- ``compute``: the one-process limit: crop + flip + collate from the memmap in the main process, no
  workers, no transport.

Repeats are interleaved (the order rotates); figures are medians and ratios are taken within each
repeat. The host is shared and its speed drifts, so samples per CPU-second (main process + workers)
are printed next to wall-clock samples/s (workers still running included, read from /proc).

Memory (issue 12's measure), sampled every 0.1 s during each epoch: for every loader process (the
main process and its workers) its private share, PSS minus its shared-memory share (``Pss -
Pss_Shmem`` of /proc/PID/smaps_rollup), plus the growth of the system's shared memory (``Shmem`` in
/proc/meminfo: the cache, the memmap, batches in flight). ``mem x`` = that peak / (none's peak + one
copy of the decoded pixels); also printed per process and epoch. Shmem is system-wide: other jobs
writing to /dev/shm during the run show up in it.

Then two more runs: two independently started ranks (gloo process group, one worker each) sharing
one cache (epoch-2 hit rate), and a budget of half the data (hit rate vs fraction cached).

    python bench/cache.py [--repeats 3] [--data DIR] [--modes none,memmap,torchrig]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from torchrig.data import CachedDataset, ImageFolder, make_loader
from torchrig.data.loader import default_workers

CLASSES, PER_CLASS, SIZE, CROP = 10, 300, 256, 224
BATCH, WORKERS, EPOCHS = 64, 2, 3


# ----- workload ----------------------------------------------------------------------------------


def make_images(root: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(CLASSES):
        (root / f"class{c:02d}").mkdir(parents=True, exist_ok=True)
        for k in range(PER_CLASS):
            # Smooth colour fields plus grain: about 24 KiB per JPEG, like a photo at this size.
            small = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            img = Image.fromarray(small).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
            arr = np.asarray(img).astype(np.int16) + rng.integers(-13, 14, (SIZE, SIZE, 3))
            Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(
                root / f"class{c:02d}" / f"{k:04d}.jpg", quality=90
            )


def crop_flip(img: torch.Tensor) -> torch.Tensor:
    top, left = (int(v) for v in torch.randint(0, SIZE - CROP + 1, (2,)))
    out = img[:, top : top + CROP, left : left + CROP]
    if torch.rand(()) < 0.5:
        out = out.flip(-1)
    return out


class Plain:
    """No cache: decode, then crop + flip, every time."""

    def __init__(self, base: ImageFolder) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        img, label = self.base[i]
        return crop_flip(img), label


class DictCache(Plain):
    """The naive cache: a dict inside the dataset, so one per worker, rebuilt with every worker."""

    def __init__(self, base: ImageFolder, counters) -> None:
        super().__init__(base)
        self.cache: dict[int, tuple[torch.Tensor, int]] = {}
        self.counters = counters  # shared (hits, misses), inherited by fork

    def __getitem__(self, i: int):
        item = self.cache.get(i)
        if item is None:
            item = self.cache[i] = self.base[i]
            with self.counters.get_lock():
                self.counters[1] += 1
        else:
            with self.counters.get_lock():
                self.counters[0] += 1
        return crop_flip(item[0]), item[1]


# ----- measuring ---------------------------------------------------------------------------------


def _meminfo_shmem() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Shmem:"):
            return int(line.split()[1]) * 1024
    return 0


def _private_bytes(pid: int) -> int | None:
    """PSS minus the shared-memory share (issue 12's measure): what this process alone costs, shared
    memory aside (counted once, system-wide, through Shmem). None when the process is gone."""
    pss = shm = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                elif line.startswith("Pss_Shmem:"):
                    shm = int(line.split()[1]) * 1024
    except OSError:
        return None
    return pss - shm


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as fh:
                    stat = fh.read()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return out


class MemorySampler(threading.Thread):
    """Peaks of the loader's memory, per epoch: the total (every process's private share plus the
    growth of Shmem) and each role's private share ("main", "worker": the largest worker)."""

    def __init__(self, interval: float = 0.1, already: int = 0) -> None:
        super().__init__(daemon=True)
        self.interval, self.stop_flag = interval, threading.Event()
        self.shmem0 = _meminfo_shmem() - already  # ``already``: shared memory made for this mode beforehand
        self.epoch = 0
        self.peaks: list[dict[str, int]] = []
        self.cpu = 0.0  # this thread's own CPU seconds, which the loader's figures must not include

    def sample(self) -> None:
        me = os.getpid()
        while len(self.peaks) <= self.epoch:
            self.peaks.append({"total": 0, "main": 0, "worker": 0, "shmem": 0})
        peak = self.peaks[self.epoch]
        total = 0
        for pid in [me, *_children(me)]:
            private = _private_bytes(pid)
            if private is None:
                continue
            role = "main" if pid == me else "worker"
            peak[role] = max(peak[role], private)
            total += private
        shmem = max(0, _meminfo_shmem() - self.shmem0)
        peak["shmem"] = max(peak["shmem"], shmem)
        peak["total"] = max(peak["total"], total + shmem)

    def run(self) -> None:
        while not self.stop_flag.is_set():
            t = time.thread_time()
            self.sample()  # reading smaps_rollup walks page tables: ~3 ms per process on a 2-CPU VM
            self.cpu += time.thread_time() - t
            self.stop_flag.wait(self.interval)

    def stop(self) -> list[dict[str, int]]:
        self.stop_flag.set()
        self.join()
        self.sample()
        return self.peaks


def _cpu() -> float:
    """CPU seconds of this process and its workers: those that exited (RUSAGE_CHILDREN) and those still
    running (persistent workers, whose time RUSAGE_CHILDREN counts only once they are reaped)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    live = 0
    for pid in _children(os.getpid()):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            live += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        except (OSError, ValueError, IndexError):
            pass  # exited in between: RUSAGE_CHILDREN has it once it is reaped
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime + live / os.sysconf("SC_CLK_TCK")


class Memmapped:
    """The pre-decoded baseline: item ``i`` is row ``i`` of a uint8 memmap, cropped and flipped."""

    def __init__(self, path: Path, labels: list[int]) -> None:
        self.path, self.labels = path, labels
        self.pixels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        if self.pixels is None:  # opened in the process that reads
            # "c" (copy-on-write, never written): torch.from_numpy wants a writable array, and nothing is copied
            self.pixels = np.memmap(self.path, np.uint8, "c", shape=(len(self.labels), 3, SIZE, SIZE))
        return crop_flip(torch.from_numpy(self.pixels[i])), self.labels[i]  # collate copies the crop out

    def __getstate__(self) -> dict:
        return {"path": self.path, "labels": self.labels, "pixels": None}


def predecode(base: ImageFolder, path: Path) -> tuple[Memmapped, float]:
    """Decode every image once into a memmap in /dev/shm, with the same two workers; (dataset, seconds)."""
    t0 = time.perf_counter()
    pixels = np.lib.format.open_memmap(path, "w+", np.uint8, (len(base), 3, SIZE, SIZE))
    labels = [0] * len(base)
    order = DataLoader(base, batch_size=BATCH, num_workers=WORKERS, shuffle=False)
    i = 0
    for images, ys in order:
        pixels[i : i + len(ys)] = images.numpy()
        labels[i : i + len(ys)] = ys.tolist()
        i += len(ys)
    pixels.flush()
    offset = pixels.offset
    del pixels
    raw = path.with_suffix(".raw")
    with open(path, "rb") as src, open(raw, "wb") as dst:  # a plain raw file, as np.memmap reads it
        src.seek(offset)
        shutil.copyfileobj(src, dst, 16 << 20)
    path.unlink()
    return Memmapped(raw, labels), time.perf_counter() - t0


def compute_limit(data: Memmapped) -> dict:
    """Crop + flip + collate in this one process, no workers, no transport: the most one core can do."""
    from torch.utils.data._utils.collate import default_collate

    epochs = []
    g = torch.Generator().manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core, as in a DataLoader worker (an OpenMP team spins on a busy host)
    try:
        for _ in range(EPOCHS):
            order = torch.randperm(len(data), generator=g).tolist()
            t0, c0 = time.perf_counter(), _cpu()
            for k in range(0, len(order), BATCH):
                default_collate([data[i] for i in order[k : k + BATCH]])
            wall, cpu = time.perf_counter() - t0, _cpu() - c0
            epochs.append({"samples_s": len(order) / wall, "samples_cpu_s": len(order) / cpu, "hit_rate": 1.0})
    finally:
        torch.set_num_threads(threads)
    return {"epochs": epochs, "peak_mib": None, "peaks": []}


def run_mode(mode: str, base: ImageFolder, tag: str, memmapped: Memmapped | None = None) -> dict:
    import multiprocessing as mp

    counters = mp.Array("q", 2)
    cached = None
    # the memmap mode's file was made before (its decoding is not timed), but it is that mode's copy of the data
    sampler = MemorySampler(
        already=os.stat(memmapped.path).st_blocks * 512 if mode.startswith("memmap") and memmapped else 0
    )
    sampler.start()
    if mode == "none":
        loader = DataLoader(Plain(base), batch_size=BATCH, shuffle=True, num_workers=WORKERS, persistent_workers=False)
    elif mode == "dict":
        loader = DataLoader(
            DictCache(base, counters), batch_size=BATCH, shuffle=True, num_workers=WORKERS, persistent_workers=False
        )
    elif mode == "memmap":  # the stock DataLoader's defaults but num_workers
        loader = DataLoader(memmapped, batch_size=BATCH, shuffle=True, num_workers=WORKERS)
    elif mode == "memmap-pw":  # the same, with the persistent workers make_loader gives
        loader = DataLoader(memmapped, batch_size=BATCH, shuffle=True, num_workers=WORKERS, persistent_workers=True)
    elif mode == "torchrig":  # as a user would: make_loader's defaults (the same number of workers)
        cached = CachedDataset(base, transform=crop_flip, name=f"bench-{tag}")
        loader = make_loader(cached, batch_size=BATCH, num_workers=WORKERS)
    else:  # torchrig-stock: the cache inside the baseline's loader, settings and all
        cached = CachedDataset(base, transform=crop_flip, name=f"bench-stock-{tag}")
        loader = DataLoader(cached, batch_size=BATCH, shuffle=True, num_workers=WORKERS)
    epochs = []
    for k in range(EPOCHS):
        sampler.epoch = k
        before = cached.stats() if cached else {"hits": counters[0], "misses": counters[1]}
        t0, c0, s0, n = time.perf_counter(), _cpu(), sampler.cpu, 0
        for _images, labels in loader:
            n += len(labels)
        # the sampler's CPU grows with wall time, so it would favour whichever mode the host slowed least
        wall, cpu = time.perf_counter() - t0, _cpu() - c0 - (sampler.cpu - s0)
        after = cached.stats() if cached else {"hits": counters[0], "misses": counters[1]}
        hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
        epochs.append(
            {
                "samples_s": n / wall,
                "samples_cpu_s": n / cpu,
                "hit_rate": 1.0 if mode.startswith("memmap") else hits / (hits + misses) if hits + misses else 0.0,
            }
        )
    peaks = sampler.stop()
    iterator = getattr(loader, "_iterator", None)  # persistent workers: end them now, not in the next mode
    if iterator is not None:
        iterator._shutdown_workers()
    del loader, iterator
    if cached is not None:
        cached.close()
    return {"epochs": epochs, "peak_mib": max(p["total"] for p in peaks) / 2**20, "peaks": peaks}


# ----- two independent ranks and half a budget ---------------------------------------------------


def rank_main(rank: int, world: int, init: str, data: str, tag: str, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    base = ImageFolder(data, size=SIZE)
    cached = CachedDataset(base, transform=crop_flip, name=f"bench-ranks-{tag}")
    loader = make_loader(cached, batch_size=BATCH, num_workers=1, persistent_workers=False, seed=0)
    rates = []
    for epoch in range(EPOCHS - 1):
        loader.sampler.set_epoch(epoch)
        dist.barrier()
        before = cached.stats()
        for _ in loader:
            pass
        dist.barrier()
        after = cached.stats()
        hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
        rates.append(hits / max(1, hits + misses))
    if rank == 0:
        Path(out).write_text(json.dumps({"hit_rates": rates, "items": after["items"], "location": after["location"]}))
    dist.barrier()
    cached.close()
    dist.destroy_process_group()


def run_ranks(data: Path, tag: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        init, out = f"file://{tmp}/rendezvous", f"{tmp}/out.json"
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--rank",
                    str(r),
                    "--world",
                    "2",
                    "--init",
                    init,
                    "--data",
                    str(data),
                    "--tag",
                    tag,
                    "--out",
                    out,
                ]
            )
            for r in range(2)
        ]
        codes = [p.wait(timeout=600) for p in procs]
        if any(codes):
            raise SystemExit(f"a rank failed: exit codes {codes}")
        return json.loads(Path(out).read_text())


def run_half_budget(base: ImageFolder, tag: str) -> dict:
    probe = CachedDataset(base, name=f"bench-probe-{tag}")
    payload = probe.stats()["capacity"]
    probe.close()
    budget = payload // 2
    cached = CachedDataset(base, transform=crop_flip, name=f"bench-half-{tag}", capacity_bytes=budget)
    loader = make_loader(cached, batch_size=BATCH, num_workers=WORKERS, persistent_workers=False)
    rates = []
    for _ in range(EPOCHS):
        before = cached.stats()
        for _ in loader:
            pass
        after = cached.stats()
        hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
        rates.append(hits / (hits + misses))
    s = cached.stats()
    cached.close()
    return {
        "hit_rates": rates,
        "fraction_cached": s["items"] / s["n_items"],
        "budget": budget,
        "bytes": s["bytes"],
        "budget_used": s["bytes"] / budget,
    }


# ----- report ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data", help="reuse this synthetic ImageFolder (made if missing)")
    ap.add_argument("--rank", type=int)
    ap.add_argument("--world", type=int)
    ap.add_argument("--init")
    ap.add_argument("--tag", default=str(os.getpid()))
    ap.add_argument("--out")
    ap.add_argument(
        "--modes",
        default="none,dict,memmap,memmap-pw,torchrig,torchrig-stock,compute",
        help="comma-separated, in this order",
    )
    ap.add_argument("--no-extra", action="store_true", help="skip the two-ranks and half-budget runs")
    args = ap.parse_args()
    if args.rank is not None:
        rank_main(args.rank, args.world, args.init, args.data, args.tag, args.out)
        return

    tmp = tmp_shm = None
    data = Path(args.data) if args.data else Path(tmp := tempfile.mkdtemp(prefix="bench-cache-"))
    try:
        if not any(data.glob("class*/*.jpg")):
            t = time.perf_counter()
            make_images(data)
            print(f"made {CLASSES * PER_CLASS} JPEGs in {time.perf_counter() - t:.1f} s")
        base = ImageFolder(data, size=SIZE)
        sizes = [os.path.getsize(p) for p, _ in base.samples]
        payload = len(base) * 3 * SIZE * SIZE
        print(
            f"{len(base)} JPEGs, mean {statistics.mean(sizes) / 1024:.1f} KiB; decoded payload {payload / 2**20:.1f} MiB; "
            f"{os.cpu_count()} CPUs; torch {torch.__version__}"
        )
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        if "none" not in modes:
            raise SystemExit("--modes must include none: every ratio is against it")
        memmapped = None
        known = {"none", "dict", "memmap", "memmap-pw", "torchrig", "torchrig-stock", "compute"}
        if set(modes) - known:
            raise SystemExit(f"unknown mode(s) {', '.join(sorted(set(modes) - known))}; choose from {', '.join(known)}")
        print(
            f"workers: {WORKERS} in every mode (make_loader's default here would be {default_workers()}); "
            "torchrig = CachedDataset + make_loader's defaults (persistent workers, ring transport), "
            "torchrig-stock = CachedDataset in the memmap's stock DataLoader"
        )
        if {"memmap", "memmap-pw", "compute"} & set(modes):
            shm = Path(tmp_shm := tempfile.mkdtemp(prefix="bench-memmap-", dir="/dev/shm"))
            memmapped, prep = predecode(base, shm / "pixels.npy")
            print(f"memmap: decoded every image once into {memmapped.path} in {prep:.1f} s (not in its epochs)")
        results: dict[str, list[dict]] = {m: [] for m in modes}
        for r in range(args.repeats):
            for m in modes[r % len(modes) :] + modes[: r % len(modes)]:  # rotate: no mode always runs first
                if m == "compute":
                    results[m].append(compute_limit(memmapped))  # type: ignore[arg-type]
                else:
                    results[m].append(run_mode(m, base, f"{args.tag}-{r}", memmapped))
                res = results[m][-1]
                print(
                    f"  repeat {r + 1} {m:14s} samples/s "
                    + " ".join(f"{x['samples_s']:6.0f}" for x in res["epochs"])
                    + "  hits "
                    + " ".join(f"{x['hit_rate']:.2f}" for x in res["epochs"])
                    + (
                        "  private MiB per epoch (main/largest worker) "
                        + " ".join(f"{p['main'] >> 20}/{p['worker'] >> 20}" for p in res["peaks"])
                        + f"  Shmem growth {max(p['shmem'] for p in res['peaks']) >> 20}"
                        + f"  peak {res['peak_mib']:.0f} MiB"
                        if res["peaks"]
                        else ""
                    ),
                    flush=True,
                )
        report(results, payload)
        if args.no_extra:
            return
        ranks = run_ranks(data, args.tag)
        print(
            "\ntwo independent ranks (gloo, 1 worker each), one shared cache: hit rate per epoch "
            + " / ".join(f"{x:.3f}" for x in ranks["hit_rates"])
            + f"; items cached {ranks['items']}"
            + ("  [target: epoch 2 = 1.000: " + ("met" if ranks["hit_rates"][1] >= 0.9999 else "NOT met") + "]")
        )
        half = run_half_budget(base, args.tag)
        ok_rate = all(abs(x - half["fraction_cached"]) <= 0.02 for x in half["hit_rates"][1:])
        print(
            f"half budget ({half['budget'] / 2**20:.1f} MiB): fraction cached {half['fraction_cached']:.3f}; "
            "hit rate per epoch "
            + " / ".join(f"{x:.3f}" for x in half["hit_rates"])
            + f"; budget holding samples {half['budget_used']:.1%}"
            + f"  [targets: epochs 2-3 = fraction +/- 0.02: {'met' if ok_rate else 'NOT met'}; "
            + f">= 80% of budget: {'met' if half['budget_used'] >= 0.8 else 'NOT met'}]"
        )
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        if tmp_shm:
            shutil.rmtree(tmp_shm, ignore_errors=True)


def report(results: dict[str, list[dict]], payload: int) -> None:
    def med(xs):
        return statistics.median(xs)

    def warm(run: dict, key: str = "samples_s") -> float:
        return med([e[key] for e in run["epochs"][1:]])

    def ratio(runs: list[dict], base: list[dict], f) -> float:
        return med([f(r) / f(n) for r, n in zip(runs, base, strict=False)])

    print("\nmedians over repeats (ratios within each repeat)")
    print(
        f"{'mode':14s} {'ep1 s/s':>8s} {'ep2-3 s/s':>9s} {'ep1 x':>6s} {'ep1 x cpu':>9s} {'ep2-3 x':>8s} "
        f"{'ep2-3 x cpu':>11s} {'x memmap':>8s} {'x mm cpu':>8s} {'hits 1/2/3':>15s} {'peak MiB':>9s} {'mem x':>6s}"
    )
    none, memmap = results["none"], results.get("memmap")
    for m, runs in results.items():
        ep1 = med([r["epochs"][0]["samples_s"] for r in runs])
        ep23 = med([warm(r) for r in runs])
        x1 = ratio(runs, none, lambda r: r["epochs"][0]["samples_s"])
        c1 = ratio(runs, none, lambda r: r["epochs"][0]["samples_cpu_s"])
        x23 = ratio(runs, none, warm)
        c23 = ratio(runs, none, lambda r: warm(r, "samples_cpu_s"))
        xm = f"{ratio(runs, memmap, warm):8.2f}" if memmap else f"{'-':>8s}"
        xm += f" {ratio(runs, memmap, lambda r: warm(r, 'samples_cpu_s')):8.2f}" if memmap else f" {'-':>8s}"
        hits = "/".join(f"{med([r['epochs'][k]['hit_rate'] for r in runs]):.2f}" for k in range(EPOCHS))
        if runs[0]["peak_mib"] is None:
            peak, mem = f"{'-':>9s}", f"{'-':>6s}"
        else:
            peak = f"{med([r['peak_mib'] for r in runs]):9.0f}"
            memx = med([r["peak_mib"] / (n["peak_mib"] + payload / 2**20) for r, n in zip(runs, none, strict=False)])
            mem = f"{memx:6.2f}" if m not in ("none", "compute") else f"{'-':>6s}"
        print(
            f"{m:14s} {ep1:8.0f} {ep23:9.0f} {x1:6.2f} {c1:9.2f} {x23:8.2f} {c23:11.2f} {xm} {hits:>15s} {peak} {mem}"
        )
    print(
        "(mem x = peak / (none's peak + one copy of the decoded payload); x memmap = warm epochs against the "
        "pre-decoded memmap + stock DataLoader, 'x mm cpu' the same per CPU-second;\n targets for torchrig (issue 12): ep2-3 x >= 3, x memmap >= 1.5, "
        "ep1 x >= 0.9, mem x <= 1.10; 'x cpu' = the same ratio in samples per CPU-second of main process + "
        "workers, steadier on a shared host)"
    )
    print("\nprivate MiB (PSS - Pss_Shmem), peak per epoch 1/2/3, medians: main process | largest worker")
    for m, runs in results.items():
        if not runs[0]["peaks"]:
            continue
        main_ = "/".join(f"{med([r['peaks'][k]['main'] for r in runs]) / 2**20:.0f}" for k in range(EPOCHS))
        work = "/".join(f"{med([r['peaks'][k]['worker'] for r in runs]) / 2**20:.0f}" for k in range(EPOCHS))
        shm = med([max(p["shmem"] for p in r["peaks"]) for r in runs]) / 2**20
        print(f"  {m:14s} main {main_:>14s} | worker {work:>14s} | Shmem growth {shm:.0f}")
    print(
        "\nsamples per CPU-second, epoch 1: "
        + ", ".join(f"{m} {med([r['epochs'][0]['samples_cpu_s'] for r in runs]):.0f}" for m, runs in results.items())
    )
    print(
        "samples per CPU-second, epochs 2-3: "
        + ", ".join(f"{m} {med([warm(r, 'samples_cpu_s') for r in runs]):.0f}" for m, runs in results.items())
    )


if __name__ == "__main__":
    main()
