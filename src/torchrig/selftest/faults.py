"""Faults the hidden ``--inject`` option plants, so tests and demos can prove that each check fails.

Every fault hits the *last* rank only (``world_size - 1``; with one process, rank 0), the way a real
fault hits one GPU or one node. A check that never fails under its fault is a defect.
"""

from __future__ import annotations

from torchrig._core.errors import UserError

FAULTS: dict[str, str] = {
    "matmul-wrong": "the device smoke's product is off by 1 in one row (a faulty GPU)",
    "p2p-zeros": "a direct peer copy delivers zeros (P2P advertised but broken); runs on CPU stand-ins without GPUs",
    "allreduce-wrong": "one element of an all-reduce result is off by one on one rank (silent corruption)",
    "grad-drift": "one rank's gradients are nudged after the all-reduce, so its replica drifts",
    "slow-rank": "one rank sleeps in every training step (a straggler)",
    "rank-dies": "one rank exits abruptly at the start of training",
    "rank-raises": "one rank's training raises at once while the others wait for it in a collective",
    "rank-hangs": "one rank stops responding at the start of training (needs a short --collective-timeout)",
}
NEEDS_TWO = frozenset({"grad-drift", "slow-rank", "rank-raises", "rank-hangs"})

SLOW_RANK_SLEEP_S = 0.3  # per step: well above the straggler rule (3x and 100 ms), small enough for CI


def known(names: list[str] | None) -> frozenset[str]:
    """The faults named, or a :class:`UserError` for one that does not exist."""
    chosen = frozenset(n.strip() for n in names or () if n.strip())
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        raise UserError(f"unknown fault {unknown[0]!r}; known: {', '.join(sorted(FAULTS))}.")
    return chosen


def parse(names: list[str] | None, world_size: int) -> frozenset[str]:
    """The faults to plant, or a :class:`UserError` for an unknown one or one this run cannot show."""
    chosen = known(names)
    lonely = sorted(chosen & NEEDS_TWO)
    if lonely and world_size < 2:
        raise UserError(f"--inject {lonely[0]} needs at least 2 processes; this run has 1.")
    return chosen
