"""Several "nodes" on this machine: one ``torchrun`` agent each, meeting through c10d rendezvous on 127.0.0.1.

Each agent gets its own ``TORCHRIG_NODE_NAME`` (and whatever else a test plants in its environment), so
the report names it as a node of its own. Every process is started in a session of its own and its whole
group is killed when the test is done or its time is up: no rank outlives a test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TORCHRUN = Path(sys.executable).with_name("torchrun")
LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class Finished:
    name: str
    returncode: int | None  # None: killed at the deadline
    stdout: str
    stderr: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS and not k.startswith(("SLURM_", "NCCL_"))}
    env.update(extra)
    return env


def run_all(commands: list[tuple[str, list[str], dict[str, str]]], cwd: Path, timeout: float) -> list[Finished]:
    """Start every (name, argv, env) at once, wait for all within ``timeout``, kill every group after."""
    procs = []
    for name, argv, env in commands:
        out, err = cwd / f"{name}.out", cwd / f"{name}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            procs.append(
                (name, out, err, subprocess.Popen(argv, stdout=o, stderr=e, env=env, cwd=cwd, start_new_session=True))
            )
    deadline = time.monotonic() + timeout
    timed_out = set()
    try:
        for name, _, _, proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out.add(name)
    finally:
        for _, _, _, proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # the agent's session: its ranks and their workers
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
    return [
        Finished(name, None if name in timed_out else proc.returncode, out.read_text(), err.read_text())
        for name, out, err, proc in procs
    ]


def torchrun_agents(
    names: list[str],
    nproc: int,
    args: list[str],
    cwd: Path,
    *,
    env_of: dict[str, dict[str, str]] | None = None,
    timeout: float = 300,
) -> list[Finished]:
    """``torchrun --nnodes len(names) --nproc-per-node nproc -m torchrig ARGS`` once per name, as separate agents."""
    port = free_port()
    commands = []
    for name in names:
        argv = [
            str(TORCHRUN),
            "--nnodes",
            str(len(names)),
            "--nproc-per-node",
            str(nproc),
            "--rdzv-backend",
            "c10d",
            "--rdzv-endpoint",
            f"127.0.0.1:{port}",
            "--rdzv-id",
            f"torchrig-test-{port}",
            "-m",
            "torchrig",
            *args,
        ]
        env = clean_env(TORCHRIG_NODE_NAME=name, **(env_of or {}).get(name, {}))
        commands.append((name, argv, env))
    return run_all(commands, cwd, timeout)
