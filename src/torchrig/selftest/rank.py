"""One rank of the self-test: join the process group, run every stage, agree on each verdict.

The protocol between ranks and the launcher is described at the top of :mod:`torchrig.selftest.launcher`;
the numbers in comments here, like (3), refer to its sections.

Each stage is split in two: ``measure(ctx)`` runs on every rank and returns plain figures (a JSON-able
dict); ``judge(figures_of_every_rank)`` is pure and decides the verdict. Between them, the ranks
exchange their figures over a gloo control group (4), as JSON bytes, never pickles. So every rank
holds every verdict, and a rank that is gone turns into a failed stage rather than a hang.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from torchrig._core.distributed import gather_json
from torchrig.selftest import causes, nodes
from torchrig.selftest.context import Emit, RankContext
from torchrig.selftest.report import FAIL, STAGES, StageResult, not_run

_log = logging.getLogger("torchrig.selftest")


@dataclass(frozen=True)
class RankConfig:
    """What the launcher (or the torchrun command line) tells a rank; JSON in ``TORCHRIG_SELFTEST_CONFIG``."""

    device: str
    backend: str
    steps: int
    faults: tuple[str, ...]
    collective_timeout: float
    workdir: str
    cache_dir: str | None = None
    out: str | None = None  # --out: the directory where this rank keeps its evidence (selftest/evidence.py)

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> RankConfig:
        data = json.loads(text)
        data["faults"] = tuple(data.get("faults", ()))
        return cls(**data)


# -- exchanging figures (4) ----------------------------------------------------------------------


def agree(ctx: RankContext, figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Wait for every rank (naming the ones that do not come), then exchange figures."""
    import torch.distributed as dist

    if ctx.world_size > 1:
        dist.monitored_barrier(group=ctx.ctl, timeout=timedelta(seconds=ctx.collective_timeout), wait_all_ranks=True)
    return gather_json(figures, ctx.ctl)


# -- running the stages (5) ----------------------------------------------------------------------


def run_stages(ctx: RankContext) -> list[StageResult]:
    from torchrig.selftest.stages import STAGE_MODULES

    results: list[StageResult] = []
    broken: str | None = None
    for name, _title in STAGES[1:]:
        if broken is not None:
            result = not_run(name, broken)
            results.append(result)
            ctx.emit({"type": "result", "rank": ctx.rank, "result": result.to_dict()})
            continue
        module = STAGE_MODULES[name]
        ctx.emit({"type": "stage", "rank": ctx.rank, "stage": name})
        start = time.perf_counter()
        try:
            figures = module.measure(ctx)
        except Exception as exc:  # a rank's own failure: report it, then let the others learn it (4)
            figures = {"error": _one_line(exc), "traceback": traceback.format_exc(limit=6)}
            ctx.emit({"type": "rank-error", "rank": ctx.rank, "stage": name, "error": figures["error"]})
            _log.error("%s failed on this rank:\n%s", name, figures["traceback"])
        figures["seconds"] = time.perf_counter() - start
        ctx.emit({"type": "figures", "rank": ctx.rank, "stage": name, "figures": figures})
        try:
            every = agree(ctx, figures)
        except Exception as exc:
            cause = causes.explain(str(exc), default=causes.TIMEOUT)
            own = f" (rank {ctx.rank}'s own error: {figures['error']})" if "error" in figures else ""
            result = StageResult(
                name,
                FAIL,
                "lost contact with the other ranks",
                figures["seconds"],
                problem=f"the ranks could not agree after the stage: {_one_line(exc)}{own}",
                cause=cause.text,
                code=cause.code,
            )
            broken = f"the process group broke during {name}"
        else:
            ctx.gathered[name] = every
            result = _judge(module, name, every)
            if any("error" in f for f in every):  # it may have left a collective half done: stop here
                broken = f"a rank failed during {name}"
        _log.info(
            "%s: %s in %.2f s: %s%s",
            name,
            result.verdict,
            figures["seconds"],
            result.summary,
            f" ({result.problem})" if result.problem else "",
        )
        results.append(result)
        ctx.emit({"type": "result", "rank": ctx.rank, "result": result.to_dict()})
    return results


def _judge(module: Any, name: str, every: list[dict[str, Any]]) -> StageResult:
    seconds = max(float(f.get("seconds", 0.0)) for f in every)
    errors = [(r, f["error"]) for r, f in enumerate(every) if "error" in f]
    if errors:
        rank, error = errors[0]
        cause = causes.explain(error + "\n" + str(every[rank].get("traceback", "")))
        others = f" (and {len(errors) - 1} more rank{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        return StageResult(
            name,
            FAIL,
            f"rank {rank} failed",
            seconds,
            figures={"errors": {str(r): e for r, e in errors}},
            problem=f"rank {rank} failed: {error}{others}",
            cause=cause.text,
            code=cause.code,
        )
    try:
        result: StageResult = module.judge(every)
    except Exception as exc:  # a bug in a judge must still produce a verdict
        cause = causes.INTERNAL
        return StageResult(
            name,
            FAIL,
            "could not judge",
            seconds,
            problem=f"judging failed: {_one_line(exc)}",
            cause=cause.text,
            code=cause.code,
        )
    return StageResult(
        result.name, result.verdict, result.summary, seconds, result.figures, result.problem, result.cause, result.code
    )


def _one_line(exc: BaseException) -> str:
    """``Type: first line``, plus the last line when the message carries another process's traceback
    (a DataLoader worker's error says where it was caught first and what it was last)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    text = f"{type(exc).__name__}: {lines[0]}"
    if len(lines) > 1 and any("Traceback" in line for line in lines):
        text += f" {lines[-1]}"
    return text


# -- joining the process group (2) ---------------------------------------------------------------


def join(config: RankConfig, env: dict[str, str], emit: Emit) -> tuple[RankContext | None, StageResult]:
    """Set up the device and both process groups; the rendezvous stage's result says how it went."""
    import torch
    import torch.distributed as dist

    start = time.perf_counter()
    rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
    local_rank = int(env.get("LOCAL_RANK", "0"))
    local_world = int(env.get("LOCAL_WORLD_SIZE", str(world)))
    emit({"type": "stage", "rank": rank, "stage": "rendezvous"})
    timeout = timedelta(seconds=config.collective_timeout)
    try:
        if config.device == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        else:
            device = torch.device("cpu")
            # every rank of this node shares the cores: one thread each keeps them from fighting
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, local_world)))
        kwargs: dict[str, Any] = {"backend": config.backend, "rank": rank, "world_size": world, "timeout": timeout}
        if config.device == "cuda":
            kwargs["device_id"] = device  # NCCL forms its communicator now, so transport errors show up here
        if env.get("TORCHRIG_SELFTEST_STORE") == "launcher":  # (2): our launcher's rank 0 hosts the store
            kwargs["store"] = _store(env, rank, world, timeout, emit)
        else:
            kwargs["init_method"] = "env://"  # torchrun's (or the user's) rendezvous
        dist.init_process_group(**kwargs)
        # A group of its own for control messages even under gloo: a rank that failed mid-stage must not
        # meet the others' half-finished collective on the same group (4).
        ctl = dist.new_group(backend="gloo", timeout=timeout)
        probe = torch.ones(1, device=device)
        dist.all_reduce(probe)  # the first real collective: proves the transport, not just the store
        ok = int(probe.item()) == world
        mine = nodes.rank_facts(env, device)
        emit({"type": "rank-facts", "rank": rank, "facts": mine})
        every_rank = gather_json(mine, ctl)  # who shares a node with whom (nodes.py, N1)
    except Exception as exc:
        cause = causes.explain(str(exc), default=causes.NCCL_INIT if config.backend == "nccl" else causes.TIMEOUT)
        return None, StageResult(
            "rendezvous",
            FAIL,
            f"could not join {world} ranks",
            time.perf_counter() - start,
            problem=f"joining the process group failed: {_one_line(exc)}",
            cause=cause.text,
            code=cause.code,
        )
    workdir = Path(config.workdir) / f"rank-{rank}"
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = RankContext(
        rank,
        world,
        local_rank,
        local_world,
        device,
        config.backend,
        ctl,
        workdir,
        config.steps,
        frozenset(config.faults),
        config.collective_timeout,
        emit,
        config.cache_dir,
        node_of=nodes.node_of(every_rank),
        rank_facts=every_rank,
    )
    figures: dict[str, Any] = {
        "backend": config.backend,
        "world_size": world,
        "nodes": len(set(ctx.node_of)),
        "seconds": round(time.perf_counter() - start, 3),
    }
    on_nodes = f" on {figures['nodes']} nodes" if figures["nodes"] > 1 else ""
    if ok:
        result = StageResult(
            "rendezvous",
            "pass",
            f"{world} rank{'s' if world != 1 else ''}{on_nodes} joined with {config.backend} in "
            f"{figures['seconds']:.1f} s",
            figures["seconds"],
            figures,
        )
    else:
        cause = causes.NCCL_WRONG if config.backend == "nccl" else causes.GLOO_WRONG
        result = StageResult(
            "rendezvous",
            FAIL,
            "the first all-reduce was wrong",
            figures["seconds"],
            figures,
            problem=f"a one-element all-reduce gave {probe.item()} instead of {world}",
            cause=cause.text,
            code=cause.code,
        )
    return ctx, result


def _store(env: dict[str, str], rank: int, world: int, timeout: timedelta, emit: Emit) -> Any:
    import torch.distributed as dist

    host = env.get("MASTER_ADDR", "127.0.0.1")
    if rank == 0:
        # Port 0: the kernel picks a free port, so no other program can take it between choosing and binding.
        store = dist.TCPStore(host, 0, world, is_master=True, timeout=timeout, wait_for_workers=False)
        emit({"type": "listening", "rank": 0, "port": store.port})
        return store
    # The launcher writes the port to this pipe once rank 0 has reported it (2).
    fd = int(env["TORCHRIG_SELFTEST_PORT_FD"])
    ready, _, _ = select.select([fd], [], [], timeout.total_seconds())
    text = os.read(fd, 64).decode(errors="replace").strip() if ready else ""
    os.close(fd)
    if not text.isdigit():
        raise TimeoutError(f"rank 0 did not open the rendezvous store within {timeout.total_seconds():g} s")
    return dist.TCPStore(host, int(text), world, is_master=False, timeout=timeout)


def environment(ctx: RankContext) -> dict[str, Any]:
    """Versions and device names, for the report."""
    import torch

    info: dict[str, Any] = {"torch": torch.__version__, "python": sys.version.split()[0]}
    if ctx.is_cuda:
        info["cuda"] = torch.version.cuda
        try:
            info["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
        except Exception:
            info["nccl"] = None
        info["device"] = torch.cuda.get_device_name(ctx.device)
    else:
        info["device"] = "cpu"
    return info


LOCAL_EVENTS = frozenset({"figures", "rank-facts"})  # for this rank's evidence (--out) only, never sent on


def run(config: RankConfig, env: dict[str, str], emit: Emit) -> list[StageResult]:
    """Everything one rank does; the process group is torn down before returning.

    With ``config.out``, the rank keeps its evidence there as it goes (:mod:`torchrig.selftest.evidence`)."""
    from torchrig.selftest.evidence import RankEvidence

    evidence = RankEvidence(config.out, int(env["RANK"]), int(env["WORLD_SIZE"])) if config.out else None

    def emit_and_keep(event: dict[str, Any]) -> None:
        if evidence is not None:
            evidence.take(event)
        if event.get("type") not in LOCAL_EVENTS:
            emit(event)

    results = _run(config, env, emit_and_keep)
    if evidence is not None:
        evidence.finish()
    return results


def _run(config: RankConfig, env: dict[str, str], emit: Emit) -> list[StageResult]:
    import torch.distributed as dist

    ctx, rendezvous = join(config, env, emit)
    emit({"type": "result", "rank": int(env["RANK"]), "result": rendezvous.to_dict()})
    if ctx is None:
        # The others may be waiting for this rank inside init_process_group: tell the launcher now (5).
        emit({"type": "rank-error", "rank": int(env["RANK"]), "stage": "rendezvous", "error": rendezvous.problem})
        rest = [not_run(name, "the ranks could not join") for name, _ in STAGES[1:]]
        for result in rest:
            emit({"type": "result", "rank": int(env["RANK"]), "result": result.to_dict()})
        return [rendezvous, *rest]
    try:
        emit({"type": "environment", "rank": ctx.rank, "environment": environment(ctx)})
        results = [rendezvous, *run_stages(ctx)]
        if len(ctx.nodes) > 1:  # the node dimension (nodes.py, N3); every rank holds it, rank 0 reports it
            try:
                cluster = nodes.summarize(ctx.rank_facts, results, ctx.gathered)
            except Exception as exc:  # a bug here must not cost the verdicts
                _log.error("summarizing the nodes failed: %s", _one_line(exc))
            else:
                emit({"type": "cluster", "rank": ctx.rank, "cluster": cluster})
        return results
    finally:
        with contextlib.suppress(Exception):  # a broken group cannot always be torn down; the process exits anyway
            dist.destroy_process_group()


# -- the rank process that torchrig's launcher starts (1) ----------------------------------------


def _orphan_watch(parent: int) -> None:
    """End this rank and its DataLoader workers if the launcher is gone (5): nobody would read its
    verdicts or stop it. The launcher started the rank in a session of its own, so its process group
    is the rank and its workers, nobody else."""
    while os.getppid() == parent:
        time.sleep(1.0)
    with contextlib.suppress(OSError):
        if os.getpgid(0) == os.getpid():
            os.killpg(0, signal.SIGKILL)
    os._exit(3)


def main() -> None:
    import threading

    # The launcher's pid from the environment, not getppid(): the launcher may be gone already.
    launcher = int(os.environ.get("TORCHRIG_SELFTEST_LAUNCHER_PID", os.getppid()))
    threading.Thread(target=_orphan_watch, args=(launcher,), daemon=True).start()
    config = RankConfig.from_json(os.environ["TORCHRIG_SELFTEST_CONFIG"])
    fd = int(os.environ["TORCHRIG_SELFTEST_FD"])
    channel = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def emit(event: dict[str, Any]) -> None:
        channel.write(json.dumps(event) + "\n")  # one line per event, flushed (line buffering) (3)

    from torchrig import log

    log.setup(os.environ.get("TORCHRIG_LOG_LEVEL", "INFO"))
    results = run(config, dict(os.environ), emit)
    emit({"type": "done", "rank": int(os.environ["RANK"]), "failed": any(r.verdict == FAIL for r in results)})
    channel.close()


if __name__ == "__main__":
    main()
