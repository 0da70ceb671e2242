"""The stages after the rendezvous, in order; each module has ``measure(ctx)`` (every rank) and ``judge(figures)`` (pure)."""

from __future__ import annotations

from types import ModuleType

from torchrig.selftest.stages import checkpoint_roundtrip, collectives, p2p, smoke, training

STAGE_MODULES: dict[str, ModuleType] = {
    "smoke": smoke,
    "p2p": p2p,
    "collectives": collectives,
    "training": training,
    "checkpoint": checkpoint_roundtrip,
}
