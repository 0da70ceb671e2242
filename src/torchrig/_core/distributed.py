"""Who this process is in a job that ``torchrun`` or Slurm's ``srun`` started, and passing JSON between its ranks.

Both commands that run across nodes (``torchrig selftest`` and ``torchrig doctor --cluster``) read the
job from the environment the launcher set, and exchange plain JSON over a ``torch.distributed`` gloo
group: no daemon, no transport of our own, never a pickle.

    >>> job = job_of({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
    ...               "GROUP_RANK": "1", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"})
    >>> job.rank, job.world_size, job.node, job.launcher
    (3, 4, 1, 'torchrun')

- ``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``GROUP_RANK`` (the
  node: which agent started this rank) and ``MASTER_ADDR``/``MASTER_PORT`` (the store its rank 0 hosts).
- ``srun`` sets ``SLURM_PROCID`` (the rank), ``SLURM_STEP_NUM_TASKS`` (the world: set by srun only,
  never in the batch script itself), ``SLURM_LOCALID``, ``SLURM_NODEID`` and
  ``SLURM_STEP_TASKS_PER_NODE`` (``"4(x2),2"``: 4 tasks on each of two nodes, then 2). It does not
  say where rank 0's store is: the job script exports ``MASTER_ADDR`` and ``MASTER_PORT``
  (docs/cluster.md). :func:`torch_env` turns srun's variables into torchrun's, for ``env://``.

A node is named by ``TORCHRIG_NODE_NAME`` when set (containers often have random host names; tests run
several "nodes" on one machine), else by its host name; two torchrun agents on one machine are still
two nodes, told apart by their group rank.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from torchrig._core.errors import UserError

NODE_NAME_VAR = "TORCHRIG_NODE_NAME"
_TORCHRUN = ("RANK", "WORLD_SIZE", "MASTER_ADDR")
_SLURM_TASKS = re.compile(r"^(\d+)(?:\(x(\d+)\))?$")


@dataclass(frozen=True)
class Job:
    """This process's place in a multi-process job."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    node: int | None  # torchrun's GROUP_RANK or Slurm's SLURM_NODEID; None when the launcher does not say
    launcher: str  # "torchrun", "srun", or "env" (RANK and the rest set by hand)


def node_name(env: Mapping[str, str]) -> str:
    """What the report calls this node: ``TORCHRIG_NODE_NAME``, or the host name."""
    return env.get(NODE_NAME_VAR, "").strip() or socket.gethostname()


def under_srun(env: Mapping[str, str]) -> bool:
    """``srun`` started this process as one task of several (not the batch script, not a one-task step)."""
    try:
        return "SLURM_PROCID" in env and int(env.get("SLURM_STEP_NUM_TASKS", "0")) > 1
    except ValueError:
        return False


def torch_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables ``init_method="env://"`` and :func:`job_of` read, filled in from srun's when torchrun's
    are absent; empty when neither launcher started this process.

    Raises :class:`UserError` under srun when the job script did not export ``MASTER_ADDR`` and
    ``MASTER_PORT``."""
    if all(env.get(k) for k in _TORCHRUN):
        return {}
    if not under_srun(env):
        return {}
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not env.get(k)]
    if missing:
        raise UserError(
            f"under srun, export {' and '.join(missing)} before srun: the first node and a free port, e.g. "
            '`export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1) MASTER_PORT=29500` '
            "(docs/cluster.md has a whole sbatch script)."
        )
    node = env.get("SLURM_NODEID", "0")
    per_node = _tasks_per_node(env.get("SLURM_STEP_TASKS_PER_NODE") or env.get("SLURM_TASKS_PER_NODE", ""))
    try:
        local_world = per_node[int(node)] if per_node and int(node) < len(per_node) else None
    except ValueError:
        local_world = None
    out = {
        "RANK": env["SLURM_PROCID"],
        "WORLD_SIZE": env["SLURM_STEP_NUM_TASKS"],
        "LOCAL_RANK": env.get("SLURM_LOCALID", "0"),
        "GROUP_RANK": node,
        "TORCHRIG_LAUNCHER": "srun",
    }
    if local_world is not None:
        out["LOCAL_WORLD_SIZE"] = str(local_world)
    elif env.get("SLURM_NTASKS_PER_NODE"):
        out["LOCAL_WORLD_SIZE"] = env["SLURM_NTASKS_PER_NODE"]
    return out


def _tasks_per_node(text: str) -> list[int]:
    """Slurm's ``"4(x2),2"`` as ``[4, 4, 2]``; empty when it cannot be read."""
    counts: list[int] = []
    for part in text.split(","):
        match = _SLURM_TASKS.match(part.strip())
        if not match:
            return []
        counts += [int(match.group(1))] * int(match.group(2) or 1)
    return counts


def job_of(env: Mapping[str, str]) -> Job | None:
    """This process's place in a torchrun or srun job (after :func:`torch_env`), or None outside one."""
    merged = {**env, **torch_env(env)}
    if not all(merged.get(k) for k in _TORCHRUN):
        return None
    try:
        rank, world = int(merged["RANK"]), int(merged["WORLD_SIZE"])
        local_rank = int(merged.get("LOCAL_RANK", "0"))
        local_world = int(merged.get("LOCAL_WORLD_SIZE", "1"))
        group = merged.get("GROUP_RANK")
        node = int(group) if group not in (None, "") else None
    except ValueError as exc:
        raise UserError(
            f"the launcher's environment is malformed ({exc}); RANK and the rest must be numbers."
        ) from None
    if "TORCHRIG_LAUNCHER" in merged:
        launcher = merged["TORCHRIG_LAUNCHER"]
    else:
        launcher = "torchrun" if "TORCHELASTIC_RUN_ID" in merged or "GROUP_RANK" in merged else "env"
    return Job(rank, world, local_rank, local_world, node, launcher)


def init_gloo(job: Job, timeout_s: float) -> None:
    """Join the job's default process group over gloo (``env://``: MASTER_ADDR and MASTER_PORT)."""
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method="env://", rank=job.rank, world_size=job.world_size, timeout=timedelta(seconds=timeout_s)
    )


def gather_json(value: Any, group: Any = None) -> list[Any]:
    """Every rank's ``value`` (JSON-able), in rank order, over ``group`` (gloo); JSON bytes, never pickle.

    A collective: every rank of the group calls it."""
    import torch
    import torch.distributed as dist

    payload = torch.frombuffer(bytearray(json.dumps(value).encode()), dtype=torch.uint8)
    world = dist.get_world_size(group)
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([payload.numel()], dtype=torch.int64), group=group)
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros(longest, dtype=torch.uint8)
    padded[: payload.numel()] = payload
    chunks = [torch.zeros(longest, dtype=torch.uint8) for _ in range(world)]
    dist.all_gather(chunks, padded, group=group)
    return [json.loads(bytes(c[: int(n.item())].tolist()).decode()) for c, n in zip(chunks, sizes, strict=False)]
