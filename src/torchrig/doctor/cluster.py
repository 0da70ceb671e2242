"""``torchrig doctor --cluster``: every node's doctor, gathered over the job's own ``torch.distributed``.

Under ``torchrun`` or ``srun`` (:mod:`torchrig._core.distributed` reads which), with no shared files:

(C1) Every rank joins a gloo process group through ``env://`` (the ``MASTER_ADDR``/``MASTER_PORT`` the
     launcher or the job script set), with a timeout longer than the slowest probe may take.
(C2) One rank per node, its local rank 0, gathers the node's :class:`~torchrig.doctor.facts.Facts` live,
     exactly as ``torchrig doctor`` does (the torch import in a child process, each probe with its
     deadline); the other ranks of the node send nothing, so a node with eight GPUs probes once.
(C3) Every rank all-gathers the payloads (the node's name, its group rank, its facts as JSON: never a
     pickle). Every rank then holds every node's facts, so every rank can compute the same exit code;
     rank 0 alone prints the report.

Nodes are named by ``TORCHRIG_NODE_NAME`` or their host name; two nodes with the same name (two agents on
one machine) are told apart by their group rank.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from torchrig._core import distributed
from torchrig.doctor.facts import Facts
from torchrig.doctor.probe import Host, gather

EXCHANGE_MARGIN_S = 60.0  # beyond the slowest probe's deadline: joining, then the exchange itself


def collect(job: distributed.Job, env: Mapping[str, str], *, quick: bool, timeout: float) -> list[tuple[str, Facts]]:
    """Every node's (name, facts), in node order, on every rank of ``job`` (C1)-(C3). A collective:
    every rank of the job calls it. ``timeout`` bounds the slowest probe, as ``doctor --timeout`` does."""
    import torch.distributed as dist

    host = Host.live(timeout)
    distributed.init_gloo(job, 2 * (host.torch_timeout + host.command_timeout) + EXCHANGE_MARGIN_S)
    try:
        payload = None
        if job.local_rank == 0:
            facts = gather(host, quick=quick)
            payload = {"name": distributed.node_name(env), "group": job.node, "facts": facts.to_dict()}
        every = [p for p in distributed.gather_json(payload) if p is not None]
    finally:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()
    every.sort(key=lambda p: (p["group"] is None, p["group"] if p["group"] is not None else 0, p["name"]))
    names = [str(p["name"]) for p in every]
    labelled = [
        f"{name} [{p['group']}]" if names.count(name) > 1 and p["group"] is not None else name
        for name, p in zip(names, every, strict=True)
    ]
    return [(name, Facts.from_dict(p["facts"])) for name, p in zip(labelled, every, strict=True)]
