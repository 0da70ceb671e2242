"""Stage 1, device smoke: a float32 matrix product on every rank's device against a float64 reference.

The rule: ``||C - R|| / ||R|| <= 1e-4`` (Frobenius norms) on the first 64 rows, where ``C`` is the
device's float32 product at "highest" precision and ``R`` the float64 product computed on the host,
and every element of ``C`` is finite. Plain float32 accumulation over k = 2048 lands near 1e-6; TF32
(10 mantissa bits) lands near 5e-4 and fails, as does any real arithmetic fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchrig.selftest import causes, device
from torchrig.selftest.report import FAIL, PASS, StageResult

if TYPE_CHECKING:
    from torchrig.selftest.context import RankContext

BOUND = 1e-4
ROWS_CHECKED = 64


def measure(ctx: RankContext) -> dict[str, Any]:
    import torch

    n = 2048 if ctx.is_cuda else 256
    gen = torch.Generator().manual_seed(1000 + ctx.rank)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    da, db = a.to(ctx.device), b.to(ctx.device)
    with device.highest_matmul_precision():
        seconds = device.time_repeated(ctx.device, lambda: da @ db, repeats=5 if ctx.is_cuda else 3)
        c = da @ db
    if "matmul-wrong" in ctx.faults and ctx.faulty:
        c[0] += 1.0
    finite = bool(torch.isfinite(c).all().item())
    got = c[:ROWS_CHECKED].double().cpu()
    ref = a[:ROWS_CHECKED].double() @ b.double()
    rel = float(((got - ref).norm() / ref.norm()).item())
    return {
        "device": device.name(ctx.device),
        "n": n,
        "rel_error": rel,
        "finite": finite,
        "gflops": 2 * n**3 / seconds / 1e9 if seconds > 0 else None,
    }


def judge(every: list[dict[str, Any]]) -> StageResult:
    worst = max(range(len(every)), key=lambda r: every[r]["rel_error"])
    bad = [r for r, f in enumerate(every) if not f["finite"] or not f["rel_error"] <= BOUND]
    rates = [f["gflops"] for f in every if f.get("gflops")]
    figures = {
        "bound": BOUND,
        "max_rel_error": every[worst]["rel_error"],
        "per_rank": [{"device": f["device"], "rel_error": f["rel_error"], "gflops": f.get("gflops")} for f in every],
    }
    speed = f", {min(rates):.1f} GFLOP/s on the slowest" if rates else ""
    summary = f"max relative error {every[worst]['rel_error']:.1e} (bound {BOUND:.0e}) on {len(every)} device(s){speed}"
    if not bad:
        return StageResult("smoke", PASS, summary, figures=figures)
    r = bad[0]
    figures["failed_ranks"] = bad
    what = (
        "non-finite values" if not every[r]["finite"] else f"relative error {every[r]['rel_error']:.2e} > {BOUND:.0e}"
    )
    return StageResult(
        "smoke",
        FAIL,
        summary,
        figures=figures,
        problem=f"rank {r} ({every[r]['device']}) computed a {every[r]['n']}x{every[r]['n']} float32 "
        f"product with {what}",
        cause=causes.MATMUL_WRONG.text,
        code=causes.MATMUL_WRONG.code,
    )
