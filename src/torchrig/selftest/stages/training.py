"""Stage 4, training: the small CNN trained with DDP on the synthetic images, read through ``torchrig.data``.

The rules:

- the loss falls: the mean loss of the last 5 steps is at most a quarter of the mean of the first 5
  (averaged over ranks; the task starts near ln 10 = 2.3 and a working setup ends below 0.1 in the default
  30 steps);
- the replicas are identical: after the last step every rank's parameters equal rank 0's, bit for bit
  (DDP gives every rank the same averaged gradients, and the same optimizer step then keeps them equal);
- no straggler: the median time a rank spends on its own work per step (waiting for data, forward, loss:
  no collective runs there, since the model has no buffers to broadcast) is not over 3x the fastest
  rank's and 100 ms more. Every all-reduce waits for the slowest rank, so one straggler slows them all.

Reported, not judged: the data-stall figure, the time spent waiting for the next batch as a fraction of
step time (the first step, which starts the workers, left out), on the rank where it is worst.

The data fit the number of ranks (:func:`sizing`): each rank reads its own shard of the images, so with
many ranks each gets a smaller batch, and beyond 64 ranks there are more images, so that every rank
always has at least ``MIN_BATCHES_PER_EPOCH`` full batches an epoch (a rank with none would end training
before its first step). Up to 8 ranks the run is the same as ever: 1024 images, 32 a batch.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torchrig.selftest import causes, device
from torchrig.selftest.faults import SLOW_RANK_SLEEP_S
from torchrig.selftest.report import FAIL, PASS, StageResult

if TYPE_CHECKING:
    from torchrig.selftest.context import RankContext

DEFAULT_STEPS = 30
BATCH = 32  # images a rank reads each step, at most
MIN_BATCH = 4  # ... and at least
DATASET_LENGTH = 1024  # images, at least
MIN_BATCHES_PER_EPOCH = 4  # full batches every rank reads each epoch, at least
LR = 1e-2  # Adam: on this task the loss is below 0.1 after 30 steps (2.3 at the start)
WINDOW = 5  # steps averaged at each end of the loss curve
LOSS_RATIO = 0.25
STRAGGLER_RATIO = 3.0
STRAGGLER_MIN_S = 0.1


@dataclass(frozen=True)
class Sizing:
    """How much each rank reads: the same on every rank, decided by the world size alone."""

    batch: int  # images per rank and step
    dataset_length: int  # images in the whole dataset
    batches_per_epoch: int  # full batches each rank reads in an epoch (its shard, the last partial batch dropped)


def sizing(world_size: int) -> Sizing:
    """The batch and dataset for ``world_size`` ranks.

    The batch shrinks from 32 towards 4 so that 1024 images still give every rank 4 full batches an epoch;
    past that (more than 64 ranks) the dataset grows instead. The global batch (``world_size * batch``) is
    never below 32, one rank's batch.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be at least 1, not {world_size}")
    batch = max(MIN_BATCH, min(BATCH, DATASET_LENGTH // (world_size * MIN_BATCHES_PER_EPOCH)))
    length = max(DATASET_LENGTH, world_size * batch * MIN_BATCHES_PER_EPOCH)
    # DistributedSampler(drop_last=True) gives each rank length // world_size items; the loader drops the rest
    return Sizing(batch, length, (length // world_size) // batch)


def measure(ctx: RankContext) -> dict[str, Any]:
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel

    from torchrig.selftest.model import tiny_cnn
    from torchrig.selftest.synthetic import SyntheticImages, make_train_loader

    if ctx.faulty and "rank-dies" in ctx.faults:
        os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer does
    if ctx.faulty and "rank-hangs" in ctx.faults:
        time.sleep(24 * 3600)
    if ctx.faulty and "rank-raises" in ctx.faults:
        raise RuntimeError("injected: this rank's training failed before its first collective")

    begin = time.perf_counter()
    model = tiny_cnn(seed=0).to(ctx.device)
    ddp = DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.is_cuda else None)
    optimizer = torch.optim.Adam(ddp.parameters(), lr=LR)
    workers = max(1, min(2, (os.cpu_count() or 1) // max(1, ctx.local_world_size)))
    size = sizing(ctx.world_size)
    loader, cached = make_train_loader(
        SyntheticImages(size.dataset_length), batch_size=size.batch, workers=workers, cache_dir=ctx.cache_dir
    )
    drift = torch.Generator().manual_seed(4000 + ctx.rank)
    setup_s = time.perf_counter() - begin

    losses, waits, own, totals = [], [], [], []
    epoch, batches = 0, _epoch(loader, 0)
    for step in range(ctx.steps):
        t0 = time.perf_counter()
        try:
            images, labels = next(batches)
        except StopIteration:
            epoch += 1
            batches = _epoch(loader, epoch)
            images, labels = next(batches)
        t1 = time.perf_counter()
        images = images.to(ctx.device, non_blocking=True)
        labels = labels.to(ctx.device, non_blocking=True)
        if ctx.faulty and "slow-rank" in ctx.faults:
            time.sleep(SLOW_RANK_SLEEP_S)
        loss = F.cross_entropy(ddp(images), labels)
        device.synchronize(ctx.device)
        t2 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP all-reduces the gradients here
        if ctx.faulty and "grad-drift" in ctx.faults:
            for p in model.parameters():
                p.grad.add_(torch.randn(p.grad.shape, generator=drift).to(p.grad.device), alpha=1e-3)
        optimizer.step()
        losses.append(float(loss.item()))
        t3 = time.perf_counter()
        waits.append(t1 - t0)
        own.append(t2 - t0)
        totals.append(t3 - t0)
        if ctx.rank == 0 and (step % 5 == 4 or step == ctx.steps - 1):
            ctx.emit({"type": "progress", "rank": 0, "stage": "training", "done": step + 1, "total": ctx.steps})

    flat = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    ctx.state["ddp"] = ddp
    stats = cached.stats()
    return {
        "losses": losses,
        "max_abs_diff_vs_rank0": float((flat - reference).abs().max().item()),
        "median_own_s": statistics.median(own[1:] or own),
        "data_stall": sum(waits[1:]) / sum(totals[1:]) if len(totals) > 1 and sum(totals[1:]) > 0 else 0.0,
        "step_s": statistics.median(totals[1:] or totals),
        "first_step_s": totals[0] if totals else 0.0,
        "setup_s": setup_s,
        "workers": workers,
        "batch": size.batch,
        "dataset_length": size.dataset_length,
        "epochs": epoch + 1,
        "cache": {k: stats[k] for k in ("hits", "misses", "items", "location") if k in stats},
    }


def _epoch(loader: Any, epoch: int) -> Any:
    sampler: Any = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)  # DistributedSampler: a new shuffle each epoch
    return iter(loader)


def judge(every: list[dict[str, Any]]) -> StageResult:
    steps = len(every[0]["losses"])
    window = max(1, min(WINDOW, steps // 2))
    first = statistics.fmean(statistics.fmean(f["losses"][:window]) for f in every)
    last = statistics.fmean(statistics.fmean(f["losses"][-window:]) for f in every)
    diverged = [r for r, f in enumerate(every) if f["max_abs_diff_vs_rank0"] != 0.0]
    own = [f["median_own_s"] for f in every]
    slowest = max(range(len(own)), key=own.__getitem__)
    fastest = min(own)
    stall = max(f["data_stall"] for f in every)
    figures = {
        "steps": steps,
        "loss_first": first,
        "loss_last": last,
        "loss_ratio_bound": LOSS_RATIO,
        "max_abs_param_diff": max(f["max_abs_diff_vs_rank0"] for f in every),
        "median_own_s_per_rank": own,
        "median_step_s": max(f["step_s"] for f in every),
        "first_step_s": max(f["first_step_s"] for f in every),
        "setup_s": max(f["setup_s"] for f in every),
        "data_stall": stall,
        "data_stall_per_rank": [f["data_stall"] for f in every],
        "workers_per_rank": every[0]["workers"],
        "batch_per_rank": every[0].get("batch"),
        "dataset_length": every[0].get("dataset_length"),
        "epochs": every[0]["epochs"],
        "cache": every[0].get("cache", {}),
    }
    summary = (
        f"loss {first:.2f} -> {last:.2f} in {steps} steps, replicas identical"
        if not diverged
        else f"loss {first:.2f} -> {last:.2f} in {steps} steps, replicas differ"
    )
    summary += f", data stall {stall:.0%}"
    failures: list[tuple[str, Any]] = []  # every rule that failed, the first one's cause named
    blamed: set[int] = set()  # the ranks those rules name; a rule that names none blames every rank
    if diverged:
        r = diverged[0]
        blamed.update(diverged)
        failures.append(
            (
                f"after {steps} steps rank {r}'s parameters differ from rank 0's by up to "
                f"{every[r]['max_abs_diff_vs_rank0']:.3g}",
                causes.REPLICAS_DIVERGED,
            )
        )
    if len(own) > 1 and own[slowest] > STRAGGLER_RATIO * fastest and own[slowest] - fastest > STRAGGLER_MIN_S:
        blamed.add(slowest)
        failures.append(
            (
                f"rank {slowest} is a straggler: its own work takes {own[slowest] * 1000:.0f} ms a step "
                f"against {fastest * 1000:.0f} ms on the fastest rank",
                causes.STRAGGLER,
            )
        )
    if not last <= LOSS_RATIO * first:
        blamed.update(range(len(every)))
        failures.append(
            (
                f"the loss fell from {first:.3f} to {last:.3f} in {steps} steps; it must fall to at most "
                f"{LOSS_RATIO:.0%} of where it started",
                causes.LOSS_FLAT,
            )
        )
    if failures:
        cause = failures[0][1]
        figures["codes"] = [c.code for _, c in failures]
        figures["failed_ranks"] = sorted(blamed)
        return StageResult(
            "training",
            FAIL,
            summary,
            figures=figures,
            problem="; ".join(p for p, _ in failures),
            cause=cause.text,
            code=cause.code,
        )
    return StageResult("training", PASS, summary, figures=figures)
