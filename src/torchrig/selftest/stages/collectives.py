"""Stage 3, collectives: all-reduce correctness on random data, then bus bandwidth over a range of sizes.

Correctness: rank ``k`` contributes random *integers* stored as float32 (seeded by ``k``), so the sum is
exact in any reduction order and every rank can compute it alone by regenerating the others' inputs.
Any element that differs is corruption, not rounding: the tolerance is zero.

Bandwidth, as nccl-tests defines it: for a message of ``S`` bytes taking ``t`` seconds on the slowest
rank, ``algbw = S / t`` and ``busbw = algbw * 2(n-1)/n``, the traffic each link carries in a ring
all-reduce, comparable with the link's peak. Each size is warmed up, then timed with CUDA events on a GPU
(see :mod:`torchrig.selftest.device`) and with a wall clock on CPU.

Across nodes (more than one node, :mod:`torchrig.selftest.nodes`), the same sizes are also timed, with the
same convention, on two kinds of subgroup: *within* each node (all its ranks; every node at once, since
their links are separate), then *across* nodes (the ranks with the same position on every node, one group
per position, all at once, as a hierarchical all-reduce uses them). A slow link between nodes shows as a
low across-node figure next to healthy within-node ones; a node whose own fabric is slow (NVLink down, a
GPU on the wrong PCIe switch) shows as its low within-node figure.
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

    figures = {
        "backend": ctx.backend,
        "elements": elements,
        "wrong": wrong,
        "first_wrong": int((got != expected).nonzero()[0].item()) if wrong else None,
        "sizes": _timed_sizes(ctx, None),
    }
    if len(ctx.nodes) > 1:
        figures["links"] = _links(ctx)
    return figures


def _timed_sizes(ctx: RankContext, group: Any) -> list[dict[str, Any]]:
    """Seconds per all-reduce of each size on ``group`` (None: every rank)."""
    import torch
    import torch.distributed as dist

    sizes = []
    for size in SIZES_GPU if ctx.is_cuda else SIZES_CPU:
        buf = torch.ones(size // 4, dtype=torch.float32, device=ctx.device)
        repeats = 10 if ctx.is_cuda else 4

        # a def, not a lambda: mypy cannot type a lambda's default argument (which binds this loop's buf)
        def all_reduce(b: torch.Tensor = buf) -> Any:
            return dist.all_reduce(b, group=group)

        seconds = device.time_repeated(ctx.device, all_reduce, repeats=repeats, warmup=2)
        sizes.append({"bytes": size, "seconds": seconds})
    return sizes


def _links(ctx: RankContext) -> dict[str, Any]:
    """This rank's timings within its node and across nodes (see the module's docstring).

    ``new_group`` is collective over every rank, even one outside the group: every rank creates every
    group, in the same order."""
    import torch.distributed as dist

    nodes = ctx.nodes
    node = next(i for i, ranks in enumerate(nodes) if ctx.rank in ranks)
    position = nodes[node].index(ctx.rank)
    rails = [[ranks[k] for ranks in nodes if len(ranks) > k] for k in range(max(len(r) for r in nodes))]
    within = [dist.new_group(ranks) for ranks in nodes]
    across = [dist.new_group(ranks) for ranks in rails]
    links: dict[str, Any] = {"node": node, "position": position, "within": None, "across": None}
    if len(nodes[node]) > 1:
        links["within"] = _timed_sizes(ctx, within[node])
    dist.barrier(group=ctx.ctl)  # the two kinds of group never share the wires at once
    if len(rails[position]) > 1:
        links["across"] = _timed_sizes(ctx, across[position])
    dist.barrier(group=ctx.ctl)
    return links


def _input(rank: int, elements: int) -> Any:
    import torch

    gen = torch.Generator().manual_seed(3000 + rank)
    return torch.randint(-1000, 1001, (elements,), generator=gen).to(torch.float32)


def bus_factor(n: int) -> float:
    """nccl-tests' all-reduce bus factor 2(n-1)/n."""
    return 2 * (n - 1) / n


def bandwidth_table(timings: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """nccl-tests' table for one group from each member's ``sizes``: a collective is as fast as its slowest rank."""
    n = len(timings)
    table = []
    for i, entry in enumerate(timings[0]):
        slowest = max(t[i]["seconds"] for t in timings)
        algbw = entry["bytes"] / slowest / 1e9 if slowest > 0 else 0.0
        table.append(
            {"bytes": entry["bytes"], "seconds": slowest, "algbw_gbps": algbw, "busbw_gbps": algbw * bus_factor(n)}
        )
    return table


def link_figures(every: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Bus bandwidth within each node and across nodes, from the ranks' ``links`` timings."""
    within: dict[int, list[list[dict[str, Any]]]] = {}
    across: dict[int, list[list[dict[str, Any]]]] = {}
    for f in every:
        links = f.get("links")
        if not links:
            continue
        if links.get("within"):
            within.setdefault(links["node"], []).append(links["within"])
        if links.get("across"):
            across.setdefault(links["position"], []).append(links["across"])

    def peak(table: list[dict[str, Any]]) -> float:
        return max((row["busbw_gbps"] for row in table), default=0.0)

    out: dict[str, list[dict[str, Any]]] = {"within_nodes": [], "across_nodes": []}
    for node, timings in sorted(within.items()):
        table = bandwidth_table(timings)
        out["within_nodes"].append({"node": node, "ranks": len(timings), "busbw_gbps": peak(table), "bandwidth": table})
    for position, timings in sorted(across.items()):
        table = bandwidth_table(timings)
        out["across_nodes"].append(
            {"position": position, "nodes": len(timings), "busbw_gbps": peak(table), "bandwidth": table}
        )
    return out


def judge(every: list[dict[str, Any]]) -> StageResult:
    n = len(every)
    table = bandwidth_table([f["sizes"] for f in every])
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
    links = link_figures(every)
    if links["within_nodes"] or links["across_nodes"]:
        figures.update(links)
    if n > 1:
        largest = table[-1] if table else None
        bw = f", busbw up to {peak:.2f} GB/s" + (
            f" ({largest['bytes'] >> 20} MiB: {largest['busbw_gbps']:.2f})"
            if largest and largest["bytes"] >= 1 << 20
            else ""
        )
    else:
        bw = ", busbw not measured with one rank (2(n-1)/n = 0)"
    if links["within_nodes"]:
        bw += f"; within nodes {min(w['busbw_gbps'] for w in links['within_nodes']):.2f} GB/s at worst"
    if links["across_nodes"]:
        bw += f", across nodes {min(a['busbw_gbps'] for a in links['across_nodes']):.2f} GB/s at worst"
    summary = f"all-reduce of {every[0]['elements']} random integers exact on {n} rank(s){bw}"
    bad = [r for r, f in enumerate(every) if f["wrong"]]
    if not bad:
        return StageResult("collectives", PASS, summary, figures=figures)
    r = bad[0]
    figures["failed_ranks"] = bad
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
