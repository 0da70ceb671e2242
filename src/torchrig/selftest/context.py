"""What a stage gets from its rank: :class:`RankContext`, the one object passed to every ``measure(ctx)``.

It lives apart from :mod:`.rank` (which runs the stages) so that stages depend on the context and not
on the runner: ``rank`` imports ``stages``, ``stages`` import this, and nothing imports back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Emit = Callable[[dict[str, Any]], None]  # a rank's events for the launcher: progress, results


@dataclass
class RankContext:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    device: Any  # torch.device
    backend: str  # "nccl" or "gloo"
    ctl: Any  # gloo ProcessGroup for control messages; the default group carries the tested traffic
    workdir: Path  # private to this rank
    steps: int
    faults: frozenset[str]
    collective_timeout: float
    emit: Emit
    cache_dir: str | None = None  # where the training data cache lives (None: torchrig.data's default)
    state: dict[str, Any] = field(default_factory=dict)  # handed from stage to stage (the trained model)
    node_of: tuple[int, ...] = ()  # the node (0, 1, ...) of every rank, in rank order; () before the rendezvous
    rank_facts: list[dict[str, Any]] = field(default_factory=list)  # every rank's nodes.rank_facts, in rank order
    gathered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # stage -> every rank's figures (4)

    @property
    def nodes(self) -> list[list[int]]:
        """The ranks of every node, node by node (one node holding every rank when nothing says otherwise)."""
        if len(self.node_of) != self.world_size:
            return [list(range(self.world_size))]
        grouped: dict[int, list[int]] = {}
        for rank, node in enumerate(self.node_of):
            grouped.setdefault(node, []).append(rank)
        return [grouped[n] for n in sorted(grouped)]

    @property
    def faulty(self) -> bool:
        """Whether an injected fault hits this rank (the last one)."""
        return self.rank == self.world_size - 1

    @property
    def is_cuda(self) -> bool:
        is_cuda: bool = self.device.type == "cuda"  # device is a torch.device, typed Any here
        return is_cuda
