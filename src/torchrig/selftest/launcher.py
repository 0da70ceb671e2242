"""Starting the ranks, hearing from them, and never waiting forever.

The protocol
============

(1) Starting ranks. Without torchrun, ``launch`` starts one process per rank on this machine:
    ``python -m torchrig.selftest.rank``, each in its own session (so the rank and its DataLoader workers
    can be killed as a group), with stdout and stderr going to ``<workdir>/rank-R.log``. The environment
    carries ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR=127.0.0.1``,
    ``CUDA_VISIBLE_DEVICES`` (the chosen GPUs, one per rank) and the JSON ``TORCHRIG_SELFTEST_CONFIG``.
    Under torchrun there is no launcher: this process is a rank, and ``run_in_process`` calls the same
    rank code with ``init_method="env://"``.

(2) Rendezvous. All ranks start at once (importing torch is the slow part). Rank 0 creates the TCP store
    on port 0, so the kernel picks a free port and no other program can take it in between, and reports
    the port on its channel (3); the launcher writes it to a pipe each other rank waits on
    (``TORCHRIG_SELFTEST_PORT_FD``), and they connect to the store as clients. All ranks then call
    ``init_process_group`` with that store and ``timeout=collective_timeout``; with NCCL, ``device_id``
    makes the communicator form right there. A second, gloo group carries control messages (4).

(3) The channel. Each rank writes events to an inherited pipe (``TORCHRIG_SELFTEST_FD``), one JSON object
    per line, flushed per line: ``listening`` (rank 0, the store port), ``stage`` (a stage starts),
    ``progress`` (training steps), ``rank-error`` (this rank's stage raised), ``environment`` (versions),
    ``result`` (a stage's verdict), ``cluster`` (the node dimension, when the ranks span several nodes:
    :mod:`torchrig.selftest.nodes`), ``done``. Every rank holds every verdict (4), so the launcher takes
    ``stage``, ``progress``, ``environment``, ``result`` and ``cluster`` from rank 0 only; from the others
    it needs only ``rank-error`` and their exit. Nothing on the channel is ever unpickled. (Under
    ``--out`` a rank also keeps ``figures`` and ``rank-facts`` events for its evidence file; they never
    reach the channel.)

(4) Agreement. After each stage every rank passes a monitored barrier on the gloo group (which names the
    ranks that did not arrive) and all-gathers its figures as JSON bytes; every rank then applies the same
    pure judge. A rank whose stage raised still joins the agreement, carrying its error, so the others
    learn it instead of waiting.

(5) Never hanging. Every collective has ``collective_timeout``: gloo raises, NCCL aborts the process.
    The launcher also acts on its own:
    - a rank that exits before ``done`` (killed, crashed, ``os._exit``) fails the stage it was in at once,
      with its exit status and the tail of its log, and the other ranks are killed;
    - a ``rank-error`` not followed within ``ERROR_GRACE_S`` by rank 0's verdict for that stage (the others
      are stuck in a collective with the failed rank) fails the stage with that error, and all ranks are
      killed;
    - the whole run has a deadline (``timeout``); when it passes, all ranks are killed and the stage in
      progress fails;
    - once rank 0 is done it holds every verdict; a rank still running ``DONE_GRACE_S`` later is killed.
    Each rank also ends itself, with its DataLoader workers (its process group), when the launcher
    disappears (its parent pid changes: checked every second), so even a SIGKILL of the launcher never
    leaves ranks behind.
    Under torchrun, a watchdog thread in each rank ends it (exit 1) at the deadline, and torchrun stops the
    others; a dead rank is torchrun's to notice, and its peers' collectives time out.

(6) Cleaning up. The work directory (rank logs, checkpoints, the sample cache) is removed at the end,
    kept with ``--keep``. Killing a rank's session also kills its DataLoader workers.
    The signals that end a launcher (SIGINT, SIGTERM, SIGHUP) are caught while it runs: the handler only
    notes the signal, and the loop of (5) sees it within 0.2 s, kills every rank, removes the work
    directory and raises :class:`Stopped`, which the command turns into exit 128 + the signal's number.
    Under torchrun the same signals raise :class:`Stopped` in the rank at once (torchrun sends SIGTERM
    to stop its workers), so its own work directory goes too. A SIGKILL leaves the work directory: the
    next run removes it (:mod:`torchrig.selftest.workdirs`, whose lock says whether its owner still lives).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchrig.selftest import causes, workdirs
from torchrig.selftest.rank import RankConfig
from torchrig.selftest.report import FAIL, STAGES, Plan, Report, StageResult, not_run

OnEvent = Callable[[dict[str, Any]], None]
ERROR_GRACE_S = 10.0
DONE_GRACE_S = 3.0
KILL_WAIT_S = 10.0  # after SIGKILL; a process in uninterruptible sleep may never go
LOG_TAIL_LINES = 6
ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # what ends a launcher (6); SIGKILL cannot be caught


class Stopped(BaseException):
    """A signal ended the run (6): its ranks were ended, its work directory removed (or kept with ``--keep``).

    A ``BaseException``, like ``KeyboardInterrupt``, so that no stage's ``except Exception`` swallows it."""

    def __init__(self, signum: int, ranks: int, kept: str | None) -> None:
        self.signum = signum
        self.ranks = ranks  # rank processes this process had started and ended (0 under torchrun)
        self.kept = kept  # the work directory, when --keep kept it
        super().__init__(f"stopped by {self.signal_name}")

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


@dataclass
class _Rank:
    rank: int
    proc: subprocess.Popen[bytes]
    channel: int  # read end of the event pipe
    log: Path
    buffer: bytes = b""
    stage: str = "rendezvous"
    port_writer: int | None = None  # write end of the pipe that hands this rank the store's port (2)
    done: bool = False
    done_at: float = 0.0
    closed: bool = False


@dataclass
class _Collector:
    """What the launcher has heard so far (3)."""

    on_event: OnEvent
    results: dict[str, StageResult] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    stage: str = "rendezvous"  # the stage rank 0 is in
    since: float = field(default_factory=time.monotonic)  # when rank 0 entered it (or the last verdict came)
    port: int | None = None
    errors: dict[str, tuple[int, str, float]] = field(default_factory=dict)  # stage -> (rank, error, when)
    cluster: dict[str, Any] | None = None  # the node dimension, when the ranks span several nodes

    def take(self, rank: int, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "listening" and rank == 0:
            self.port = int(event["port"])
        elif kind == "rank-error":
            self.errors.setdefault(str(event["stage"]), (rank, str(event["error"]), time.monotonic()))
        elif rank != 0:
            return
        elif kind == "stage":
            self.stage, self.since = str(event["stage"]), time.monotonic()
            self.on_event(event)
        elif kind == "result":
            result = StageResult.from_dict(event["result"])
            self.results[result.name] = result
            self.since = time.monotonic()
            self.on_event(event)
        elif kind == "environment":
            self.environment = dict(event["environment"])
        elif kind == "cluster":
            self.cluster = dict(event["cluster"])
        elif kind == "progress":
            self.on_event(event)


@dataclass(frozen=True)
class RunOptions:
    """What the command line asks of a run, whoever launches the ranks."""

    steps: int
    faults: frozenset[str]
    timeout: float  # the whole run, seconds
    collective_timeout: float  # every collective, seconds
    keep: bool  # keep the work directory
    out: str | None = None  # --out: where every rank keeps its evidence (selftest/evidence.py)

    def rank_config(self, plan: Plan, workdir: Path, cache_dir: Path | None) -> RankConfig:
        return RankConfig(
            plan.device,
            plan.backend,
            self.steps,
            tuple(sorted(self.faults)),
            self.collective_timeout,
            str(workdir),
            str(cache_dir) if cache_dir is not None else None,
            self.out,
        )


def launch(plan: Plan, options: RunOptions, on_event: OnEvent) -> Report:
    """Run the self-test on ``plan.world_size`` local processes and return its report (1)-(6).

    Raises :class:`Stopped` when SIGINT, SIGTERM or SIGHUP ends the run (6)."""
    begin = time.monotonic()
    deadline = begin + options.timeout
    workdirs.remove_abandoned()  # what a SIGKILLed run left (6)
    work = workdirs.create()
    config = options.rank_config(plan, work.path, work.path / "cache")
    collector = _Collector(on_event)
    ranks: list[_Rank] = []
    selector = selectors.DefaultSelector()
    failed: StageResult | None = None
    with _noting(ENDING_SIGNALS) as caught:
        try:
            for rank in range(plan.world_size):
                if caught:
                    break
                ranks.append(_start(rank, plan, config, work.path, selector))
            while not caught and failed is None and not all(r.done or r.closed for r in ranks):
                failed = _pump(ranks, selector, collector, deadline, options.timeout)
                if ranks[0].done and time.monotonic() - ranks[0].done_at > DONE_GRACE_S:
                    break  # rank 0 holds every verdict (4); a rank still stuck after that is killed below
                if collector.port is not None:
                    _hand_port(ranks, collector.port)
            if not caught and failed is None:
                failed = _exit_problems(ranks, collector)
        finally:  # also on an error of our own: no rank outlives the launcher, no work directory is left (6)
            _kill(ranks)
            selector.close()
            work.close(keep=options.keep)
        if caught:
            raise Stopped(caught[0], len(ranks), str(work.path) if options.keep else None)
    return Report(
        plan,
        tuple(_assemble(collector, failed)),
        time.monotonic() - begin,
        collector.environment,
        str(work.path) if options.keep else None,
        collector.cluster,
    )


@contextlib.contextmanager
def _noting(signals: tuple[signal.Signals, ...], *, stop: bool = False) -> Iterator[list[int]]:
    """While the block runs, the ``signals`` that arrive are noted in the list it yields (6).

    With ``stop``, the first one also raises :class:`Stopped` wherever the main thread is. Signal
    handlers belong to the main thread: elsewhere (a test calling this from a thread) nothing is caught.
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def note(signum: int, _frame: object) -> None:
        caught.append(signum)
        if stop and len(caught) == 1:
            raise Stopped(signum, 0, None)

    previous = {sig: signal.signal(sig, note) for sig in signals}
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start(rank: int, plan: Plan, config: RankConfig, workdir: Path, selector: selectors.BaseSelector) -> _Rank:
    read, write = os.pipe()
    port_read, port_write = os.pipe() if rank > 0 else (None, None)
    env = dict(os.environ)
    env.update(
        {
            "RANK": str(rank),
            "WORLD_SIZE": str(plan.world_size),
            "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(plan.world_size),
            "MASTER_ADDR": "127.0.0.1",
            "TORCHRIG_SELFTEST_CONFIG": config.to_json(),
            "TORCHRIG_SELFTEST_FD": str(write),
            "TORCHRIG_SELFTEST_STORE": "launcher",
            "TORCHRIG_SELFTEST_LAUNCHER_PID": str(os.getpid()),
            "PYTHONPATH": os.pathsep.join(filter(None, [_package_root(), env.get("PYTHONPATH")])),
        }
    )
    env.pop("MASTER_PORT", None)
    if port_read is not None:
        env["TORCHRIG_SELFTEST_PORT_FD"] = str(port_read)
    if plan.device == "cuda":
        env["CUDA_VISIBLE_DEVICES"] = _visible(plan.gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))
    log = workdir / f"rank-{rank}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "torchrig.selftest.rank"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            pass_fds=(write,) if port_read is None else (write, port_read),
            start_new_session=True,
            close_fds=True,
        )
    os.close(write)
    if port_read is not None:
        os.close(port_read)
    os.set_blocking(read, False)
    entry = _Rank(rank, proc, read, log, port_writer=port_write)
    selector.register(read, selectors.EVENT_READ, entry)
    return entry


def _hand_port(ranks: list[_Rank], port: int) -> None:
    for entry in ranks:
        if entry.port_writer is not None:
            with contextlib.suppress(OSError):  # the rank is already gone; _pump reports it
                os.write(entry.port_writer, f"{port}\n".encode())
            os.close(entry.port_writer)
            entry.port_writer = None


def _package_root() -> str:
    import torchrig

    return str(Path(torchrig.__file__).resolve().parent.parent)


def _visible(gpus: tuple[int, ...], inherited: str | None) -> str:
    """``CUDA_VISIBLE_DEVICES`` for the chosen indices, which count among the GPUs already visible."""
    if inherited:
        visible = [v.strip() for v in inherited.split(",") if v.strip()]
        return ",".join(visible[i] for i in gpus if i < len(visible))
    return ",".join(str(i) for i in gpus)


def _pump(
    ranks: list[_Rank], selector: selectors.BaseSelector, collector: _Collector, deadline: float, timeout: float
) -> StageResult | None:
    """Read what arrived, then look for the failures of (5); a failed stage returned here ends the run."""
    for key, _ in selector.select(timeout=0.2):
        entry: _Rank = key.data
        try:
            chunk = os.read(entry.channel, 1 << 16)
        except BlockingIOError:
            continue
        if not chunk:
            selector.unregister(entry.channel)
            os.close(entry.channel)
            entry.closed = True
            continue
        entry.buffer += chunk
        *lines, entry.buffer = entry.buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a torn line from a dying rank carries nothing we could trust
            if event.get("type") == "stage":
                entry.stage = str(event["stage"])
            if event.get("type") == "done":
                entry.done, entry.done_at = True, time.monotonic()
            collector.take(entry.rank, event)

    for entry in ranks:
        code = entry.proc.poll()
        if code is not None and not entry.done and (code != 0 or entry.closed):
            return _died(entry, code, collector)
    now = time.monotonic()
    for stage, (rank, error, when) in collector.errors.items():
        if stage not in collector.results and now - when > ERROR_GRACE_S:
            cause = causes.explain(error, default=causes.INTERNAL)
            return StageResult(
                stage,
                FAIL,
                f"rank {rank} failed",
                now - collector.since,
                problem=f"rank {rank} failed: {error}",
                cause=cause.text,
                code=cause.code,
            )
    if now > deadline:
        stage = collector.stage if collector.stage not in collector.results else _next_stage(collector)
        return StageResult(
            stage,
            FAIL,
            "timed out",
            now - collector.since,
            problem=f"the run passed its {timeout:g} s limit during this stage",
            cause=causes.RUN_TIMEOUT.text,
            code=causes.RUN_TIMEOUT.code,
        )
    return None


def _died(entry: _Rank, code: int, collector: _Collector) -> StageResult:
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
    tail = _tail(entry.log)
    cause = causes.explain(tail, default=causes.RANK_DIED)
    stage = entry.stage if entry.stage not in collector.results else _next_stage(collector)
    detail = f"; its log ends: {tail}" if tail else ""
    return StageResult(
        stage,
        FAIL,
        f"rank {entry.rank} died",
        time.monotonic() - collector.since,
        problem=f"rank {entry.rank} (pid {entry.proc.pid}) {how} during {stage}{detail}",
        cause=cause.text,
        code=cause.code,
    )


def _exit_problems(ranks: list[_Rank], collector: _Collector) -> StageResult | None:
    for entry in ranks:
        if entry.done:
            continue
        code = entry.proc.poll()
        if code is None and entry.closed:
            # Its channel closed: it exited or is exiting. The pipe closes before the process can be
            # reaped, so wait a moment for its status instead of taking "still running" for an answer.
            try:
                code = entry.proc.wait(timeout=DONE_GRACE_S)
            except subprocess.TimeoutExpired:
                code = None
        if code is None and ranks[0].done:  # rank 0 holds every verdict (4); this straggler is killed below
            continue
        if code is not None:
            return _died(entry, code, collector)
    if not ranks[0].done:  # the run ended before rank 0 judged every stage: never a pass
        stage = _next_stage(collector)
        return StageResult(
            stage,
            FAIL,
            "the run ended early",
            time.monotonic() - collector.since,
            problem=f"rank 0 stopped reporting during {stage} without a verdict",
            cause=causes.RANK_DIED.text,
            code=causes.RANK_DIED.code,
        )
    return None


def _next_stage(collector: _Collector) -> str:
    return next((name for name, _ in STAGES if name not in collector.results), STAGES[-1][0])


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in lines[-LOG_TAIL_LINES:] if line.strip())[-800:]


def _kill(ranks: list[_Rank]) -> None:
    """End every rank still running, with its DataLoader workers (its whole session).

    The group is signalled while its leader is still unreaped (running or a zombie), so its id cannot
    belong to anyone else yet. A rank holds nothing worth a graceful stop: its work directory is ours.
    """
    for entry in ranks:
        if entry.proc.returncode is None:
            _signal_group(entry.proc, signal.SIGKILL)
            # a rank in uninterruptible sleep (a wedged GPU driver) ignores SIGKILL: do not hang on it
            with contextlib.suppress(subprocess.TimeoutExpired):
                entry.proc.wait(timeout=KILL_WAIT_S)
        if entry.port_writer is not None:
            os.close(entry.port_writer)
            entry.port_writer = None
        if not entry.closed:
            with contextlib.suppress(OSError):
                os.close(entry.channel)
            entry.closed = True


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the session id is the rank's pid (start_new_session)


def _assemble(collector: _Collector, failed: StageResult | None) -> list[StageResult]:
    stages: list[StageResult] = []
    broken: str | None = None
    for name, _ in STAGES:
        if name in collector.results:
            stages.append(collector.results[name])
        elif failed is not None and name == failed.name:
            stages.append(failed)
            collector.on_event({"type": "result", "rank": 0, "result": failed.to_dict()})
            broken = f"{failed.title} failed"
        else:
            result = not_run(name, broken or "the run ended early")
            stages.append(result)
            collector.on_event({"type": "result", "rank": 0, "result": result.to_dict()})
    return stages


def run_in_process(plan: Plan, options: RunOptions, on_event: OnEvent) -> Report:
    """This process is one rank that torchrun started (1); rank 0's events go to ``on_event``.

    The training cache goes where training scripts put theirs (``torchrig.data``'s default, shared by the
    ranks of a node), since the ranks of a node have no common work directory here. Raises
    :class:`Stopped` when SIGINT, SIGTERM or SIGHUP ends it (6).
    """
    from torchrig.selftest import rank as rank_module

    begin = time.monotonic()
    env = dict(os.environ)
    me = int(env["RANK"])
    workdirs.remove_abandoned()
    work = workdirs.create(f"{workdirs.PREFIX}rank{me}-")
    config = options.rank_config(plan, work.path, None)
    timeout = options.timeout
    current = {"stage": "rendezvous"}
    environment: dict[str, Any] = {}
    cluster: dict[str, Any] = {}

    def emit(event: dict[str, Any]) -> None:
        if event.get("type") == "stage":
            current["stage"] = str(event["stage"])
        if event.get("type") == "environment":
            environment.update(event["environment"])
        if event.get("type") == "cluster":
            cluster.update(event["cluster"])
        if me == 0:
            on_event(event)

    def expire() -> None:  # (5): torchrun stops the other ranks once this one exits
        sys.stderr.write(
            f"torchrig: selftest rank {me} passed the {timeout:g} s limit during {current['stage']}; giving up.\n"
        )
        sys.stderr.flush()
        os._exit(1)

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        with _noting(ENDING_SIGNALS, stop=True):
            results = rank_module.run(config, env, emit)
    except Stopped as stop:
        raise Stopped(stop.signum, 0, str(work.path) if options.keep else None) from None
    finally:
        watchdog.cancel()
        work.close(keep=options.keep)
    return Report(
        plan,
        tuple(results),
        time.monotonic() - begin,
        environment,
        str(work.path) if options.keep else None,
        cluster or None,
    )
