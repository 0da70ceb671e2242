"""Stage 3, collectives: all-reduce correctness on random data, then bus bandwidth over a range of sizes.

Correctness: rank ``k`` contributes random *integers* stored as float32 (seeded by ``k``), so the sum is
exact in any reduction order and every rank can compute it alone by regenerating the others' inputs.
Any element that differs is corruption, not rounding: the tolerance is zero.

Bandwidth, as nccl-tests defines it: for a message of ``S`` bytes taking ``t`` seconds on the slowest
rank, ``algbw = S / t`` and ``busbw = algbw * 2(n-1)/n``, the traffic each link carries in a ring
all-reduce, comparable with the link's peak. Each size is warmed up, then timed with CUDA events on a GPU
(see :mod:`torchrig.selftest.device`) and with a wall clock on CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchrig.selftest import causes, device
from torchrig.selftest.report import FAIL, PASS, StageResult

if TYPE_CHECKING:
    from torchrig.selftest.context import RankContext

CHECK_ELEMENTS_GPU = 1 << 22
CHECK_ELEMENTS_CPU = 1 << 16
SIZES_GPU = tuple(1 << p for p in (20, 22, 24, 26, 28))  # 1 MiB .. 256 MiB
SIZES_CPU = tuple(1 << p for p in (16, 18, 20, 22))  # 64 KiB .. 4 MiB


def measure(ctx: RankContext) -> dict[str, Any]:
    import torch
    import torch.distributed as dist

    # Regenerating every rank's input costs world x elements on the host: shrink it for huge runs.
    elements = max(4096, min(CHECK_ELEMENTS_GPU if ctx.is_cuda else CHECK_ELEMENTS_CPU, (1 << 26) // ctx.world_size))
    inputs = [_input(k, elements) for k in range(ctx.world_size)]
    expected = torch.stack(inputs).sum(dim=0)  # a tensor of its own, even for one rank
    # A copy, even on CPU, where .to() would hand back the input itself: the all-reduce works in place,
    # and what it returns must never be the tensor it is checked against.
    x = inputs[ctx.rank].to(ctx.device, copy=True)
    dist.all_reduce(x)
    got = x.cpu()
    if "allreduce-wrong" in ctx.faults and ctx.faulty:
        got[elements // 3] += 1.0
    wrong = int((got != expected).sum().item())

    sizes = []
    for size in SIZES_GPU if ctx.is_cuda else SIZES_CPU:
        buf = torch.ones(size // 4, dtype=torch.float32, device=ctx.device)
        repeats = 10 if ctx.is_cuda else 4

        # a def, not a lambda: mypy cannot type a lambda's default argument (which binds this loop's buf)
        def all_reduce(b: torch.Tensor = buf) -> Any:
            return dist.all_reduce(b)

        seconds = device.time_repeated(ctx.device, all_reduce, repeats=repeats, warmup=2)
        sizes.append({"bytes": size, "seconds": seconds})
    return {
        "backend": ctx.backend,
        "elements": elements,
        "wrong": wrong,
        "first_wrong": int((got != expected).nonzero()[0].item()) if wrong else None,
        "sizes": sizes,
    }


def _input(rank: int, elements: int) -> Any:
    import torch

    gen = torch.Generator().manual_seed(3000 + rank)
    return torch.randint(-1000, 1001, (elements,), generator=gen).to(torch.float32)


def bus_factor(n: int) -> float:
    """nccl-tests' all-reduce bus factor 2(n-1)/n."""
    return 2 * (n - 1) / n


def judge(every: list[dict[str, Any]]) -> StageResult:
    n = len(every)
    table = []
    for i, entry in enumerate(every[0]["sizes"]):
        slowest = max(f["sizes"][i]["seconds"] for f in every)  # a collective is as fast as its slowest rank
        algbw = entry["bytes"] / slowest / 1e9 if slowest > 0 else 0.0
        table.append(
            {"bytes": entry["bytes"], "seconds": slowest, "algbw_gbps": algbw, "busbw_gbps": algbw * bus_factor(n)}
        )
    peak = max((row["busbw_gbps"] for row in table), default=0.0)
    backend = every[0]["backend"]
    figures = {
        "backend": backend,
        "ranks": n,
        "elements_checked": every[0]["elements"],
        "wrong_per_rank": [f["wrong"] for f in every],
        "bandwidth": table,
        "peak_busbw_gbps": peak,
    }
    if n > 1:
        largest = table[-1] if table else None
        bw = f", busbw up to {peak:.2f} GB/s" + (
            f" ({largest['bytes'] >> 20} MiB: {largest['busbw_gbps']:.2f})"
            if largest and largest["bytes"] >= 1 << 20
            else ""
        )
    else:
        bw = ", busbw not measured with one rank (2(n-1)/n = 0)"
    summary = f"all-reduce of {every[0]['elements']} random integers exact on {n} rank(s){bw}"
    bad = [r for r, f in enumerate(every) if f["wrong"]]
    if not bad:
        return StageResult("collectives", PASS, summary, figures=figures)
    r = bad[0]
    cause = causes.NCCL_WRONG if backend == "nccl" else causes.GLOO_WRONG
    return StageResult(
        "collectives",
        FAIL,
        f"all-reduce wrong on {len(bad)} of {n} rank(s)",
        figures=figures,
        problem=f"{backend} all-reduce returned a wrong sum on rank {r}: {every[r]['wrong']} of "
        f"{every[r]['elements']} elements differ (first at index {every[r]['first_wrong']})",
        cause=cause.text,
        code=cause.code,
    )
