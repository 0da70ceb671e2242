"""Deciding who runs the self-test: which GPUs or how many CPU processes, and who launches them.

Pure: the caller passes what it found (the environment, how many GPUs torch sees), so every rule is
tested without a GPU.

- Under ``torchrun`` (``RANK``, ``WORLD_SIZE`` and ``MASTER_ADDR`` set) this process is one rank of a
  run that torchrun launched on any number of nodes: GPUs with NCCL when there are any, ``cuda:LOCAL_RANK``
  each, unless ``--cpu`` asks for gloo. Under ``srun`` the same, once the command has filled in torchrun's
  variables from Slurm's (:func:`torchrig._core.distributed.torch_env`; ``TORCHRIG_LAUNCHER=srun``).
- Otherwise torchrig launches the ranks itself on this machine: ``--gpus all|N|0,2,5`` (NCCL, one process
  per GPU), ``--cpu N`` (gloo), or, with neither, every GPU if there is one and 2 CPU processes if not.

How long a run may take by default (:func:`default_timeout`) depends on how many of its processes share
this machine's CPUs.
"""

from __future__ import annotations

from collections.abc import Mapping

from torchrig._core.errors import UserError
from torchrig.selftest.report import Plan

DEFAULT_CPU_PROCESSES = 2
MAX_CPU_PROCESSES = 64
DEFAULT_TIMEOUT_S = 300.0
# Each process beyond the CPU count adds its start (importing torch), its DataLoader worker and its share of
# every step to the run: about 2.3 s each for --cpu 40 and --cpu 64 on a 2-core machine (docs/selftest.md).
TIMEOUT_PER_EXTRA_PROCESS_S = 5.0


def under_torchrun(env: Mapping[str, str]) -> bool:
    return all(env.get(k) for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


def check_options(gpus: str | None, cpu: int | None) -> None:
    """The checks of :func:`choose_plan` that need no torch, so the command can answer before importing it."""
    if gpus is not None and cpu is not None:
        raise UserError("choose one of --gpus and --cpu.")
    if cpu is not None and not 1 <= cpu <= MAX_CPU_PROCESSES:
        raise UserError(f"--cpu takes a process count from 1 to {MAX_CPU_PROCESSES}, not {cpu}.")


def oversubscribed(plan: Plan, processes: int, cpus: int) -> str | None:
    """One line of warning when more CPU processes run here than there are CPUs, else None."""
    if plan.device != "cpu" or processes <= cpus:
        return None
    return (
        f"{processes} CPU processes on {cpus} CPU{'s' if cpus != 1 else ''}: they take turns, so the run will be slow"
    )


def choose_plan(gpus: str | None, cpu: int | None, env: Mapping[str, str], gpu_count: int) -> Plan:
    """The plan for these options, or a :class:`UserError` (exit 2 for usage, 1 for "no GPU here")."""
    check_options(gpus, cpu)
    if under_torchrun(env):
        return _torchrun_plan(gpus, cpu, env, gpu_count)
    if cpu is not None:
        return Plan("cpu", "gloo", cpu, reason=f"--cpu {cpu}: {cpu} CPU process{'es' if cpu != 1 else ''} with gloo")
    if gpus is None:
        if gpu_count == 0:
            n = DEFAULT_CPU_PROCESSES
            return Plan("cpu", "gloo", n, reason=f"no GPU found, so {n} CPU processes with gloo")
        return Plan(
            "cuda",
            "nccl",
            gpu_count,
            tuple(range(gpu_count)),
            reason=f"{_gpus(gpu_count)} found: one process per GPU with NCCL",
        )
    if gpu_count == 0:
        raise UserError(
            "--gpus asks for GPUs but torch sees none on this machine; run `torchrig doctor` to find "
            "out why, or use --cpu N.",
            exit_code=1,
        )
    chosen = _parse_gpus(gpus, gpu_count)
    return Plan(
        "cuda",
        "nccl",
        len(chosen),
        chosen,
        reason=f"--gpus {gpus}: {_gpus(len(chosen))} ({', '.join(map(str, chosen))}) with NCCL",
    )


def processes_here(plan: Plan, env: Mapping[str, str]) -> int:
    """How many of the run's processes share this machine: all of them, or torchrun's share of this node."""
    if plan.launcher != "torchrig":
        try:
            return max(1, int(env.get("LOCAL_WORLD_SIZE", "1")))
        except ValueError:
            return 1
    return plan.world_size


def default_timeout(processes: int, cpus: int) -> float:
    """The whole run's limit when ``--timeout`` is not given: 300 s, and 5 s more for every process
    beyond this machine's CPUs (``--cpu 40`` on 2 cores: 490 s), since those processes take turns."""
    return DEFAULT_TIMEOUT_S + TIMEOUT_PER_EXTRA_PROCESS_S * max(0, processes - max(1, cpus))


def _parse_gpus(spec: str, gpu_count: int) -> tuple[int, ...]:
    text = spec.strip().lower()
    if text == "all":
        return tuple(range(gpu_count))
    if "," in text:
        try:
            chosen = tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise UserError(f"--gpus takes all, a count or a list of indices like 0,2,5, not {spec!r}.") from None
        if not chosen:
            raise UserError(f"--gpus {spec!r} names no GPU.")
        if len(set(chosen)) != len(chosen):
            raise UserError(f"--gpus {spec!r} names a GPU twice.")
        bad = [i for i in chosen if not 0 <= i < gpu_count]
        if bad:
            raise UserError(
                f"--gpus names GPU {bad[0]}, but this machine has {_gpus(gpu_count)} (0 to {gpu_count - 1})."
            )
        return chosen
    try:
        count = int(text)
    except ValueError:
        raise UserError(f"--gpus takes all, a count or a list of indices like 0,2,5, not {spec!r}.") from None
    if not 1 <= count <= gpu_count:
        raise UserError(f"--gpus {count} asks for {_gpus(count)}, but this machine has {_gpus(gpu_count)}.")
    return tuple(range(count))


def _torchrun_plan(gpus: str | None, cpu: int | None, env: Mapping[str, str], gpu_count: int) -> Plan:
    world = int(env["WORLD_SIZE"])
    launcher = env.get("TORCHRIG_LAUNCHER", "torchrun")
    if gpus is not None and gpus.strip().lower() != "all":
        raise UserError(
            "under torchrun each rank uses cuda:LOCAL_RANK; choose the GPUs with CUDA_VISIBLE_DEVICES "
            "and torchrun's --nproc-per-node instead of --gpus."
        )
    if cpu is not None and cpu != world:
        raise UserError(
            f"under torchrun the process count is torchrun's (WORLD_SIZE={world}); pass --cpu {world} "
            "or leave the count to torchrun."
        )
    if cpu is not None or (gpus is None and gpu_count == 0):
        why = "--cpu" if cpu is not None else "no GPU found"
        return Plan(
            "cpu", "gloo", world, launcher=launcher, reason=f"{launcher}, {why}: {world} ranks on CPU with gloo"
        )
    if gpu_count == 0:
        raise UserError("--gpus asks for GPUs but torch sees none on this node; run `torchrig doctor`.", exit_code=1)
    local_world = int(env.get("LOCAL_WORLD_SIZE", "1"))
    if local_world > gpu_count:
        raise UserError(
            f"torchrun starts {local_world} processes on this node but it has {_gpus(gpu_count)}; "
            "NCCL needs one GPU per process."
        )
    return Plan(
        "cuda",
        "nccl",
        world,
        launcher=launcher,
        reason=f"{launcher}: {world} ranks, one GPU each (cuda:LOCAL_RANK) with NCCL",
    )


def _gpus(n: int) -> str:
    return f"{n} GPU{'s' if n != 1 else ''}"
