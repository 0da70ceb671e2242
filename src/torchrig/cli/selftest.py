"""``torchrig selftest``: choose the ranks, run the stages (launcher or torchrun), render the verdicts."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from torchrig._core import terminal
from torchrig._core.errors import UserError, require_torch
from torchrig.cli import console

DEFAULT_COLLECTIVE_TIMEOUT_S = 60.0
MIN_STEPS = 20  # the loss must have room to fall by the stated margin
_MARK = {"pass": "[green]PASS[/]", "fail": "[bold red]FAIL[/]", "skip": "[yellow]SKIP[/]"}


def selftest(
    gpus: str | None = typer.Option(
        None,
        "--gpus",
        metavar="[all|N|0,2,5]",
        help="Run on GPUs, one process each, with NCCL: every GPU (--gpus alone, or all), the first N, or "
        "these indices. Fails if there is none.",
    ),
    cpu: int | None = typer.Option(None, "--cpu", metavar="N", help="Run on N CPU processes with gloo (what CI runs)."),
    steps: int | None = typer.Option(None, "--steps", metavar="N", help="Training steps (default 30)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (schema torchrig.selftest/1)."),
    markdown: bool = typer.Option(
        False, "--markdown", help="Print the report as Markdown, ready to paste into an issue."
    ),
    out_dir: str | None = typer.Option(
        None,
        "--out",
        metavar="DIR",
        help="Every rank keeps its part of the run in DIR/rank-R.json as it goes (a killed job still leaves "
        "evidence); rank 0 also writes DIR/report.json. On a cluster, a directory every node sees.",
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the work directory: rank logs, checkpoints, the cache."),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        metavar="SECONDS",
        help="Give up (exit 1) if the whole run takes longer (default 300, and 5 more for each process beyond "
        "this machine's CPUs).",
    ),
    inject: list[str] = typer.Option([], "--inject", hidden=True, help="Plant a fault to prove a check fails."),
    collective_timeout: float = typer.Option(DEFAULT_COLLECTIVE_TIMEOUT_S, "--collective-timeout", hidden=True),
) -> None:
    """Prove this machine trains: device smoke, peer-to-peer, collectives, DDP training, checkpoint round trip.

    With no option: every GPU if there is one, otherwise 2 CPU processes.

    Under torchrun or srun, each process is one rank; across several nodes the report names every node
    (docs/cluster.md).

    Exit codes: 0 every stage passed, 1 a stage failed, 2 usage or internal error; 128 + the signal's number
    when SIGINT, SIGTERM or SIGHUP stopped it (its ranks ended, its work directory removed).

    Terms. busbw: all-reduce bus bandwidth as nccl-tests reports it, algbw x 2(n-1)/n; compare it with the link.

    data stall: the share of each training step spent waiting for the next batch (the loader is too slow).
    """
    from torchrig._core import distributed
    from torchrig.selftest import faults as fault_module
    from torchrig.selftest.launcher import RunOptions, Stopped, launch, run_in_process
    from torchrig.selftest.plan import (
        check_options,
        choose_plan,
        default_timeout,
        oversubscribed,
        processes_here,
        under_torchrun,
    )
    from torchrig.selftest.stages.training import DEFAULT_STEPS

    if steps is not None and steps < MIN_STEPS:
        raise UserError(f"--steps must be at least {MIN_STEPS}, so that the loss has room to fall.")
    if (timeout is not None and not timeout > 0) or not collective_timeout > 0:
        raise UserError("--timeout takes a number of seconds above 0.")
    check_options(gpus, cpu)  # checked again by choose_plan; here to answer before importing torch
    if as_json and markdown:
        raise UserError("choose one of --json and --markdown.")
    os.environ.update(distributed.torch_env(os.environ))  # srun's variables as torchrun's, for env://
    out_path = _out_dir(out_dir) if out_dir is not None else None
    fault_module.known(inject)
    require_torch("torchrig selftest")
    import torch

    plan = choose_plan(gpus, cpu, os.environ, torch.cuda.device_count())
    chosen_faults = fault_module.parse(inject, plan.world_size)
    torchrun = under_torchrun(os.environ)
    leader = not torchrun or os.environ.get("RANK") == "0"
    out, err = console.out(), console.err()
    live = leader and not as_json and not markdown
    if live:
        out.print(header(plan))
    view = _Live(err if live else None, out if live else None)
    if timeout is None:
        timeout = default_timeout(processes_here(plan, os.environ), _cpus())
    crowded = oversubscribed(plan, processes_here(plan, os.environ), _cpus())
    if crowded and leader:
        err.print(f"warning: {crowded} (time limit {timeout:.0f} s).", markup=False)
    options = RunOptions(
        steps or DEFAULT_STEPS,
        chosen_faults,
        timeout,
        min(collective_timeout, timeout),
        keep,
        str(out_path) if out_path is not None else None,
    )
    try:
        with view:
            report = (run_in_process if torchrun else launch)(plan, options, view.event)
    except Stopped as stop:
        _say_stopped(err, stop)
        raise typer.Exit(console.signalled(stop.signum)) from None
    if leader:
        if out_path is not None:
            _write_report(out_path, report, err)
        if as_json:
            console.emit_json(report.to_dict())
        elif markdown:
            from torchrig._core import redact
            from torchrig.selftest.render import markdown as as_markdown

            sys.stdout.write(redact.secrets(as_markdown(report)))
        else:
            _render_cluster(out, report)
            _render_outcome(out, report)  # the verdict lines were printed as each stage ended
    raise typer.Exit(report.exit_code)


def _out_dir(path: str) -> Path:
    """``--out``'s directory, made if needed; a one-sentence error when this process cannot write there."""
    where = Path(path).expanduser()
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out: cannot make the directory {where}: {exc.strerror or exc}.") from None
    if not where.is_dir() or not os.access(where, os.W_OK | os.X_OK):
        raise UserError(f"--out: {where} is not a directory this user can write to.")
    return where


def _write_report(where: Path, report: Any, err: Console) -> None:
    from torchrig._core.atomic import write_atomic

    try:
        write_atomic(where / "report.json", (json.dumps(report.to_dict(), indent=2) + "\n").encode())
    except OSError as exc:  # the verdict still reaches the screen
        err.print(f"torchrig: could not write {where / 'report.json'}: {exc.strerror or exc}.", markup=False)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _say_stopped(err: Console, stop: Any) -> None:
    ended = f"its {stop.ranks} rank{'s' if stop.ranks != 1 else ''} ended" if stop.ranks else "this rank ended"
    where = f"its work directory kept: {stop.kept}" if stop.kept else "its work directory removed"
    with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
        err.print(f"torchrig: selftest stopped by {stop.signal_name}: {ended}, {where}.", markup=False)


class _Live:
    """Rank 0's events as they come: a progress display on a terminal, one line per verdict otherwise."""

    def __init__(self, progress_console: Console | None, line_console: Console | None) -> None:
        self.lines = line_console
        self.progress: Progress | None = None
        self.tasks: dict[str, Any] = {}
        if progress_console is not None and progress_console.is_terminal:
            self.progress = console.progress(console=progress_console)

    def __enter__(self) -> _Live:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            with contextlib.suppress(OSError):  # a terminal that hung up (SIGHUP) must not hide why we stop
                self.progress.stop()

    def event(self, event: dict[str, Any]) -> None:
        from torchrig.selftest.report import TITLES

        kind = event.get("type")
        if kind == "stage" and self.progress is not None:
            stage = str(event["stage"])
            self.tasks[stage] = self.progress.add_task(TITLES.get(stage, stage), total=None)
        elif kind == "progress" and self.progress is not None and event.get("stage") in self.tasks:
            self.progress.update(self.tasks[event["stage"]], completed=event["done"], total=event["total"])
        elif kind == "result":
            result = event["result"]
            task = self.tasks.pop(result["name"], None)
            if self.progress is not None and task is not None:
                self.progress.remove_task(task)
            if self.lines is not None:
                line = verdict_line(result)
                # above the live display, where it stays; wrapped lines under the stage's name
                terminal.indented(self.progress.console if self.progress is not None else self.lines, line, 0, hang=5)


def header(plan: Any) -> str:
    """The first line: which processes run the stages, and why."""
    return f"torchrig selftest: {escape(plan.reason)}."


def verdict_line(result: dict[str, Any]) -> str:
    """One stage's verdict (a ``StageResult.to_dict()``), as it is printed when the stage ends."""
    mark = _MARK.get(result["verdict"], escape(str(result["verdict"]).upper()))
    return f"{mark} {escape(result['title'])} ({result['seconds']:.1f} s): {escape(result['summary'])}"


def render(out: Console, report: Any) -> None:
    """A whole report, as the command prints it: the header, every verdict line, the nodes, failures, the outcome."""
    out.print(header(report.plan))
    for stage in report.stages:
        terminal.indented(out, verdict_line(stage.to_dict()), 0, hang=5)
    _render_cluster(out, report)
    _render_outcome(out, report)


def _render_cluster(out: Console, report: Any) -> None:
    """The node dimension of a run across nodes: facts, per-node verdicts, bandwidth, the slowest, differences."""
    from torchrig.selftest import render as words

    cluster = report.cluster
    if not cluster:
        return
    nodes = cluster["nodes"]
    out.print(f"\n[bold]{len(nodes)} nodes, {cluster.get('world_size', report.plan.world_size)} ranks[/]\n")
    terminal.print_wide(out, _table(*words.fact_table(cluster)))
    differences = words.difference_lines(cluster)
    if differences:
        out.print(f"\n[yellow]{escape(words.DIFFERENCES)}[/]")
        for line in differences:
            out.print(f"  [yellow]![/] {escape(line)}")
    out.print()
    terminal.print_wide(out, _table(*words.stage_table(cluster, [s.name for s in report.stages])))
    lines = words.bandwidth_lines(cluster)
    if lines:
        out.print("\nall-reduce bus bandwidth (nccl-tests' busbw = algbw x 2(n-1)/n):")
        for line in lines:
            out.print(f"  {escape(line)}")
    lines = words.slowest_lines(cluster)
    if lines:
        out.print()
    for line in lines:
        out.print(escape(line))


def _table(headers: list[str], rows: list[list[str]]) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False, expand=False)
    for name in headers:
        table.add_column(escape(name), overflow="fold")
    for row in rows:
        table.add_row(*[_verdict_cell(escape(c)) for c in row])
    return table


def _verdict_cell(text: str) -> str:
    """A table cell whose first word is a verdict gets that verdict's colour (the word stays)."""
    word, _, rest = text.partition(" ")
    style = {"pass": "green", "fail": "bold red", "skip": "yellow"}.get(word.rstrip(":"))
    return f"[{style}]{word}[/]{' ' + rest if rest else ''}" if style else text


def _render_outcome(out: Console, report: Any) -> None:
    """After the verdict lines: the failures with their causes, the outcome."""
    from torchrig.selftest.render import processes

    for stage in report.stages:
        if stage.verdict == "fail":
            out.print(f"\n[bold red]{escape(stage.title)} failed[/]: {escape(stage.problem or stage.summary)}")
            if stage.cause:
                out.print(f"  likely cause {escape('[' + (stage.code or '') + ']')}: {escape(stage.cause)}")
    if report.workdir:
        out.print(f"\nkept: {escape(report.workdir)} (rank logs, checkpoints)")
    verdict = "[green]passed[/]" if report.ok else "[bold red]failed[/]"
    out.print(
        f"\nselftest {verdict} in {report.seconds:.1f} s on "
        f"{processes(report.plan.world_size, report.plan.device)} with {report.plan.backend}."
    )


GPUS_ALONE = "all"  # what a bare --gpus means


def bare_gpus_means_all(args: list[str]) -> list[str]:
    """``--gpus`` with no value (last, or followed by another option) becomes ``--gpus all``.

    An option whose value may be left out is not something typer can declare (its vendored parser
    drops click's ``flag_value`` for options that take a value), so the command's arguments are
    completed before parsing; ``--gpus 2``, ``--gpus 0,2`` and ``--gpus=0,2`` pass through unchanged.
    """
    completed: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":  # everything after it is an argument, not an option
            return completed + args[i:]
        completed.append(arg)
        if arg == "--gpus" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            completed.append(GPUS_ALONE)
    return completed


class _SelftestCommand(console.Command):
    """The ``selftest`` command, whose ``--gpus`` may come without a value (:func:`bare_gpus_means_all`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        rest: list[str] = super().parse_args(ctx, bare_gpus_means_all(args))
        return rest


def register(app: typer.Typer) -> None:
    app.command("selftest", cls=_SelftestCommand)(selftest)
