"""Stage 2, peer-to-peer: copy a random tensor between every pair of GPUs on a node, directly and via the host.

Local rank ``i`` owns ``cuda:i`` and copies to every other GPU ``j`` of its node, so all ordered pairs are
covered once. For each pair the same host tensor ``h`` takes two routes and must come back bit-identical:

- direct: ``h -> cuda:i -> cuda:j -> host``: ``tensor.to(cuda:j)``, a device-to-device copy that uses
  peer-to-peer when ``torch.cuda.can_device_access_peer(i, j)`` says it is available;
- via the host: ``h -> cuda:i -> host -> cuda:j -> host``.

Only the direct route wrong: peer-to-peer is advertised but broken (``gpu.p2p-broken``). Both wrong:
the memory or the PCIe link is (``gpu.memory-corrupt``). Skipped on CPU and with one GPU per node, except
that ``--inject p2p-zeros`` runs the same comparison on stand-ins, so the check is seen to fail wherever
the fault is planted: copies within the one GPU (``cuda:i -> cuda:i``), or within host memory on CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torchrig.selftest import causes, device
from torchrig.selftest.report import FAIL, PASS, SKIP, StageResult

if TYPE_CHECKING:
    from torchrig.selftest.context import RankContext

GPU_ELEMENTS = 8 << 20  # 32 MiB of float32 per copy
STAND_IN_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class Targets:
    """Where one rank copies its tensor to."""

    devices: tuple[str, ...]  # "cuda:1", or this rank's own device for a stand-in
    stand_in: bool  # copies within one device, only to show that a planted fault fails the stage


def targets(device: str, local_rank: int, local_world_size: int, injected: bool) -> Targets | str:
    """The devices local rank ``local_rank`` on ``device`` ("cuda:0", "cpu") copies to, or why there are none."""
    if device.startswith("cuda"):
        if local_world_size >= 2:
            return Targets(tuple(f"cuda:{j}" for j in range(local_world_size) if j != local_rank), stand_in=False)
        if injected:
            return Targets((device,), stand_in=True)
        return "one GPU per node: no pair to copy between"
    if injected:
        return Targets((device,), stand_in=True)
    return "no GPUs: peer-to-peer needs two GPUs on one node"


def measure(ctx: RankContext) -> dict[str, Any]:
    import torch

    injected = "p2p-zeros" in ctx.faults
    chosen = targets(str(ctx.device), ctx.local_rank, ctx.local_world_size, injected)
    if isinstance(chosen, str):
        return {"skipped": chosen}
    src = ctx.device
    elements = STAND_IN_ELEMENTS if chosen.stand_in else GPU_ELEMENTS
    gen = torch.Generator().manual_seed(2000 + ctx.rank)
    pairs = []
    for name in chosen.devices:
        dst = torch.device(name)
        host = torch.randn(elements, generator=gen)
        on_src = host.to(src, copy=True)
        direct = on_src.to(dst, copy=True)
        via_host = on_src.cpu().to(dst, copy=True)
        device.synchronize(dst)
        if injected and ctx.faulty:
            direct.zero_()
        pairs.append(
            {
                "src": _label(src, ctx),
                "dst": _label(dst, ctx),
                "peer_access": None if chosen.stand_in else _peer_access(src, dst),
                "direct_ok": bool(torch.equal(direct.cpu(), host)),
                "host_ok": bool(torch.equal(via_host.cpu(), host)),
                "direct_gbps": None if chosen.stand_in else _copy_rate(on_src, dst),
            }
        )
    return {"pairs": pairs, "stand_in": chosen.stand_in}


def _label(dev: Any, ctx: RankContext) -> str:
    return f"cuda:{dev.index}" if dev.type == "cuda" else f"cpu(rank {ctx.rank})"


def _peer_access(src: Any, dst: Any) -> bool | None:
    if src.type != "cuda":
        return None
    import torch

    return bool(torch.cuda.can_device_access_peer(src, dst))


def _copy_rate(on_src: Any, dst: Any, repeats: int = 3) -> float | None:
    """GB/s of the direct copy, wall clock between synchronisations of both devices."""
    if on_src.device.type != "cuda":
        return None
    device.synchronize(on_src.device)
    begin = time.perf_counter()
    for _ in range(repeats):
        on_src.to(dst, copy=True)
    device.synchronize(dst)
    device.synchronize(on_src.device)
    seconds = (time.perf_counter() - begin) / repeats
    return on_src.numel() * on_src.element_size() / seconds / 1e9 if seconds > 0 else None


def judge(every: list[dict[str, Any]]) -> StageResult:
    if all("skipped" in f for f in every):
        return StageResult("p2p", SKIP, f"skipped: {every[0]['skipped']}", figures={"skipped": every[0]["skipped"]})
    pairs = [dict(p, rank=r) for r, f in enumerate(every) for p in f.get("pairs", ())]
    rates = [p["direct_gbps"] for p in pairs if p.get("direct_gbps")]
    stand_in = any(f.get("stand_in") for f in every)
    figures = {"pairs": pairs, "stand_in": stand_in}
    inside = "one GPU" if any(p["src"].startswith("cuda") for p in pairs) else "host memory"
    where = f" (stand-ins within {inside}, for --inject)" if stand_in else ""
    speed = f", direct copies {min(rates):.1f}-{max(rates):.1f} GB/s" if rates else ""
    summary = f"{len(pairs)} ordered pair(s) copied directly and via the host{where}{speed}"
    broken_direct = [p for p in pairs if not p["direct_ok"] and p["host_ok"]]
    broken_both = [p for p in pairs if not p["host_ok"]]
    if broken_both:
        p = broken_both[0]
        figures["failed_ranks"] = sorted({q["rank"] for q in broken_both})
        return StageResult(
            "p2p",
            FAIL,
            summary,
            figures=figures,
            problem=f"a copy {p['src']} -> {p['dst']} through host memory came back different "
            f"(rank {p['rank']}; {len(broken_both)} pair(s) in all)",
            cause=causes.HOST_COPY_WRONG.text,
            code=causes.HOST_COPY_WRONG.code,
        )
    if broken_direct:
        names = ", ".join(f"{p['src']}->{p['dst']}" for p in broken_direct[:6])
        advertised = [p for p in broken_direct if p.get("peer_access")]
        figures["failed_ranks"] = sorted({p["rank"] for p in broken_direct})
        note = " although peer access is advertised" if advertised else ""
        return StageResult(
            "p2p",
            FAIL,
            summary,
            figures=figures,
            problem=f"direct copies delivered different data{note} ({names}) while copies via the host were correct",
            cause=causes.P2P_BROKEN.text,
            code=causes.P2P_BROKEN.code,
        )
    return StageResult("p2p", PASS, summary, figures=figures)
