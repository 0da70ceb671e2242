"""Benchmark: the shared sample cache against no cache and a per-worker dict cache, in one run.

Workload (issue 3): a synthetic ImageFolder of JPEGs (10 classes x 300, 256x256, quality 90), a random
224 crop + horizontal flip, ``num_workers=2``, ``batch_size=64``, ``persistent_workers=False``, 3 epochs.
Modes: ``none`` (decode every time), ``dict`` (a dict cache inside the dataset, i.e. inside each
worker), ``torchrig`` (``CachedDataset`` + ``make_loader``). Repeats are interleaved; figures are
medians and ratios are taken within each repeat. The host is shared and its speed drifts, so
samples per CPU-second (main process + workers) are printed next to wall-clock samples/s.

Memory is the peak of: private memory of all processes (Private_Clean + Private_Dirty of every
mapping outside /dev/shm) plus the growth of shared memory (``Shmem`` in /proc/meminfo).

Then two more runs: two independently started ranks (gloo process group, one worker each) sharing
one cache (epoch-2 hit rate), and a budget of half the data (hit rate vs fraction cached).

    python bench/cache.py [--repeats 3] [--data DIR]
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


def _private_bytes(pid: int) -> int:
    """Private_Clean + Private_Dirty of every mapping that is not shared memory (counted via Shmem)."""
    total, skip = 0, False
    try:
        with open(f"/proc/{pid}/smaps") as fh:
            for line in fh:
                if line[0] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
                    parts = line.split(None, 5)
                    name = parts[5] if len(parts) > 5 else ""
                    skip = name.startswith("/dev/shm/") or name.startswith("/memfd:") or name.startswith("/SYSV")
                elif not skip and line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1]) * 1024
    except OSError:
        pass
    return total


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
    def __init__(self, interval: float = 0.15) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self.stop_flag = interval, 0, threading.Event()
        self.shmem0 = _meminfo_shmem()

    def sample(self) -> int:
        me = os.getpid()
        total = sum(_private_bytes(p) for p in [me, *_children(me)])
        return total + max(0, _meminfo_shmem() - self.shmem0)

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.peak = max(self.peak, self.sample())
            self.stop_flag.wait(self.interval)

    def stop(self) -> int:
        self.stop_flag.set()
        self.join()
        return max(self.peak, self.sample())


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def run_mode(mode: str, base: ImageFolder, tag: str) -> dict:
    import multiprocessing as mp

    counters = mp.Array("q", 2)
    cached = None
    sampler = MemorySampler()
    sampler.start()
    if mode == "none":
        loader = DataLoader(Plain(base), batch_size=BATCH, shuffle=True, num_workers=WORKERS, persistent_workers=False)
    elif mode == "dict":
        loader = DataLoader(
            DictCache(base, counters), batch_size=BATCH, shuffle=True, num_workers=WORKERS, persistent_workers=False
        )
    else:
        cached = CachedDataset(base, transform=crop_flip, name=f"bench-{tag}")
        loader = make_loader(cached, batch_size=BATCH, shuffle=True, num_workers=WORKERS, persistent_workers=False)
    epochs = []
    for _ in range(EPOCHS):
        before = cached.stats() if cached else {"hits": counters[0], "misses": counters[1]}
        t0, c0, n = time.perf_counter(), _cpu(), 0
        for _images, labels in loader:
            n += len(labels)
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        after = cached.stats() if cached else {"hits": counters[0], "misses": counters[1]}
        hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
        epochs.append(
            {
                "samples_s": n / wall,
                "samples_cpu_s": n / cpu,
                "hit_rate": hits / (hits + misses) if mode != "none" and hits + misses else 0.0,
            }
        )
    peak = sampler.stop()
    if cached is not None:
        cached.close()
    return {"epochs": epochs, "peak_mib": peak / 2**20}


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
    args = ap.parse_args()
    if args.rank is not None:
        rank_main(args.rank, args.world, args.init, args.data, args.tag, args.out)
        return

    tmp = None
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
        modes = ["none", "dict", "torchrig"]
        results: dict[str, list[dict]] = {m: [] for m in modes}
        for r in range(args.repeats):
            for m in modes[r % 3 :] + modes[: r % 3]:  # rotate the order: no mode always runs first
                results[m].append(run_mode(m, base, f"{args.tag}-{r}"))
                e = results[m][-1]["epochs"]
                print(
                    f"  repeat {r + 1} {m:8s} samples/s "
                    + " ".join(f"{x['samples_s']:6.0f}" for x in e)
                    + "  hits "
                    + " ".join(f"{x['hit_rate']:.2f}" for x in e)
                    + f"  peak {results[m][-1]['peak_mib']:.0f} MiB",
                    flush=True,
                )
        report(results, payload)
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


def report(results: dict[str, list[dict]], payload: int) -> None:
    def med(xs):
        return statistics.median(xs)

    print("\nmedians over repeats (ratios within each repeat vs none)")
    print(
        f"{'mode':9s} {'ep1 s/s':>8s} {'ep2-3 s/s':>9s} {'ep1 x':>6s} {'ep1 x cpu':>9s} {'ep2-3 x':>8s} "
        f"{'ep2-3 x cpu':>11s} {'hits 1/2/3':>15s} {'peak MiB':>9s} {'mem x':>6s}"
    )
    none = results["none"]
    for m, runs in results.items():
        ep1 = med([r["epochs"][0]["samples_s"] for r in runs])
        ep23 = med([med([e["samples_s"] for e in r["epochs"][1:]]) for r in runs])
        x1 = med([r["epochs"][0]["samples_s"] / n["epochs"][0]["samples_s"] for r, n in zip(runs, none, strict=False)])
        c1 = med(
            [
                r["epochs"][0]["samples_cpu_s"] / n["epochs"][0]["samples_cpu_s"]
                for r, n in zip(runs, none, strict=False)
            ]
        )
        x23 = med(
            [
                med([e["samples_s"] for e in r["epochs"][1:]]) / med([e["samples_s"] for e in n["epochs"][1:]])
                for r, n in zip(runs, none, strict=False)
            ]
        )
        c23 = med(
            [
                med([e["samples_cpu_s"] for e in r["epochs"][1:]]) / med([e["samples_cpu_s"] for e in n["epochs"][1:]])
                for r, n in zip(runs, none, strict=False)
            ]
        )
        hits = "/".join(f"{med([r['epochs'][k]['hit_rate'] for r in runs]):.2f}" for k in range(EPOCHS))
        peak = med([r["peak_mib"] for r in runs])
        memx = med([r["peak_mib"] / (n["peak_mib"] + payload / 2**20) for r, n in zip(runs, none, strict=False)])
        mem = f"{memx:6.2f}" if m != "none" else f"{'-':>6s}"
        print(f"{m:9s} {ep1:8.0f} {ep23:9.0f} {x1:6.2f} {c1:9.2f} {x23:8.2f} {c23:11.2f} {hits:>15s} {peak:9.0f} {mem}")
    print(
        "(mem x = peak / (none's peak + one copy of the decoded payload); "
        "targets for torchrig: ep2-3 x >= 3, ep1 x >= 0.9, mem x <= 1.15;\n 'x cpu' = the same ratio in samples per CPU-second of main process + workers, steadier on a shared host)"
    )
    print(
        "samples per CPU-second, epoch 1: "
        + ", ".join(f"{m} {med([r['epochs'][0]['samples_cpu_s'] for r in runs]):.0f}" for m, runs in results.items())
    )
    print(
        "samples per CPU-second, epochs 2-3: "
        + ", ".join(
            f"{m} {med([med([e['samples_cpu_s'] for e in r['epochs'][1:]]) for r in runs]):.0f}"
            for m, runs in results.items()
        )
    )


if __name__ == "__main__":
    main()
