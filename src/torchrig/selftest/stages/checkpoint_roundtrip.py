"""Stage 5, checkpoint: a DDP model's checkpoint into a plain model, and a plain one into a DDP model.

1. the trained DDP model (a fresh one if training failed) is saved with ``torch.save(ddp.state_dict())``,
   keys under ``module.``; :func:`torchrig.checkpoint.load_state_dict` loads the file into a plain model;
2. a plain model (other weights) is saved, keys without prefix, and loaded into a new DDP model.

Each time both models get the same fixed batch and their outputs must agree to 1e-6 (absolute, on
outputs of order 1): the weights, not only the keys, must survive the trip. Every rank does it in its
own directory, so nodes need no shared filesystem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchrig.selftest import causes
from torchrig.selftest.report import FAIL, PASS, StageResult

if TYPE_CHECKING:
    from torchrig.selftest.context import RankContext

TOLERANCE = 1e-6


def measure(ctx: RankContext) -> dict[str, Any]:
    import torch
    from torch.nn.parallel import DistributedDataParallel

    from torchrig.checkpoint import load_state_dict
    from torchrig.selftest.model import IMAGE_SIZE, tiny_cnn

    def wrap(model: Any) -> Any:  # a collective: every rank builds its DDP models in the same order
        return DistributedDataParallel(model.to(ctx.device), device_ids=[ctx.device.index] if ctx.is_cuda else None)

    batch = torch.randn(8, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(5000)).to(ctx.device)
    ddp = ctx.state["ddp"] if "ddp" in ctx.state else wrap(tiny_cnn(seed=0))

    saved_ddp = ctx.workdir / "ddp.pt"
    torch.save(ddp.state_dict(), saved_ddp)
    keys = list(ddp.state_dict())
    plain = tiny_cnn(seed=1).to(ctx.device)
    load_state_dict(plain, saved_ddp)
    with torch.no_grad():
        forward = float((plain(batch) - ddp.module(batch)).abs().max().item())

    source = tiny_cnn(seed=2).to(ctx.device)
    saved_plain = ctx.workdir / "plain.pt"
    torch.save(source.state_dict(), saved_plain)
    target = wrap(tiny_cnn(seed=3))
    load_state_dict(target, saved_plain)
    with torch.no_grad():
        backward = float((target.module(batch) - source(batch)).abs().max().item())
    return {
        "keys": len(keys),
        "ddp_keys_prefixed": sum(k.startswith("module.") for k in keys),
        "ddp_to_plain_max_diff": forward,
        "plain_to_ddp_max_diff": backward,
        "bytes": saved_ddp.stat().st_size,
    }


def judge(every: list[dict[str, Any]]) -> StageResult:
    worst_forward = max(f["ddp_to_plain_max_diff"] for f in every)
    worst_backward = max(f["plain_to_ddp_max_diff"] for f in every)
    figures = {
        "keys": every[0]["keys"],
        "ddp_keys_prefixed": every[0]["ddp_keys_prefixed"],
        "ddp_to_plain_max_diff": worst_forward,
        "plain_to_ddp_max_diff": worst_backward,
        "tolerance": TOLERANCE,
        "bytes": every[0]["bytes"],
    }
    summary = (
        f"DDP -> plain and plain -> DDP: {every[0]['keys']} keys, outputs within "
        f"{max(worst_forward, worst_backward):.1e} (tolerance {TOLERANCE:.0e})"
    )
    for direction, key in (("DDP -> plain", "ddp_to_plain_max_diff"), ("plain -> DDP", "plain_to_ddp_max_diff")):
        bad = [r for r, f in enumerate(every) if not f[key] <= TOLERANCE]
        if bad:
            r = bad[0]
            figures["failed_ranks"] = bad
            return StageResult(
                "checkpoint",
                FAIL,
                summary,
                figures=figures,
                problem=f"after loading {direction} on rank {r}, outputs differ by {every[r][key]:.3g}",
                cause=causes.CHECKPOINT_MISMATCH.text,
                code=causes.CHECKPOINT_MISMATCH.code,
            )
    return StageResult("checkpoint", PASS, summary, figures=figures)
