"""``torchrig selftest``: choose the ranks, run the stages (launcher or torchrun), render the verdicts."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from torchrig._core.errors import UserError, require_torch
from torchrig.cli import console

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_COLLECTIVE_TIMEOUT_S = 60.0
MIN_STEPS = 20  # the loss must have room to fall by the stated margin
_MARK = {"pass": "[green]PASS[/]", "fail": "[bold red]FAIL[/]", "skip": "[yellow]SKIP[/]"}


def selftest(
    gpus: str | None = typer.Option(
        None,
        "--gpus",
        metavar="all|N|0,2,5",
        help="Run on these GPUs, one process each, with NCCL (fails if there is none).",
    ),
    cpu: int | None = typer.Option(None, "--cpu", metavar="N", help="Run on N CPU processes with gloo (what CI runs)."),
    steps: int | None = typer.Option(None, "--steps", metavar="N", help="Training steps (default 30)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (schema torchrig.selftest/1)."),
    keep: bool = typer.Option(False, "--keep", help="Keep the work directory: rank logs, checkpoints, the cache."),
    timeout: float = typer.Option(
        DEFAULT_TIMEOUT_S, "--timeout", metavar="SECONDS", help="Give up (exit 1) if the whole run takes longer."
    ),
    inject: list[str] = typer.Option([], "--inject", hidden=True, help="Plant a fault to prove a check fails."),
    collective_timeout: float = typer.Option(DEFAULT_COLLECTIVE_TIMEOUT_S, "--collective-timeout", hidden=True),
) -> None:
    """Prove this machine trains: device smoke, peer-to-peer, collectives, DDP training, checkpoint round trip.

    With no option: every GPU if there is one, otherwise 2 CPU processes.

    Under torchrun, each process is one rank.

    Exit codes: 0 every stage passed, 1 a stage failed, 2 usage or internal error.
    """
    from torchrig.selftest import faults as fault_module
    from torchrig.selftest.launcher import RunOptions, launch, run_in_process
    from torchrig.selftest.plan import choose_plan, under_torchrun
    from torchrig.selftest.stages.training import DEFAULT_STEPS

    if steps is not None and steps < MIN_STEPS:
        raise UserError(f"--steps must be at least {MIN_STEPS}, so that the loss has room to fall.")
    if not timeout > 0 or not collective_timeout > 0:
        raise UserError("--timeout takes a number of seconds above 0.")
    if gpus is not None and cpu is not None:  # checked again by choose_plan; here to answer before importing torch
        raise UserError("choose one of --gpus and --cpu.")
    fault_module.known(inject)
    require_torch("torchrig selftest")
    import torch

    plan = choose_plan(gpus, cpu, os.environ, torch.cuda.device_count())
    chosen_faults = fault_module.parse(inject, plan.world_size)
    torchrun = under_torchrun(os.environ)
    leader = not torchrun or os.environ.get("RANK") == "0"
    out, err = console.out(), console.err()
    if leader and not as_json:
        out.print(f"torchrig selftest: {escape(plan.reason)}.")
    view = _Live(err if (leader and not as_json) else None, out if (leader and not as_json) else None)
    options = RunOptions(steps or DEFAULT_STEPS, chosen_faults, timeout, min(collective_timeout, timeout), keep)
    with view:
        report = (run_in_process if torchrun else launch)(plan, options, view.event)
    if leader:
        if as_json:
            sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        else:
            _render(out, report)
    raise typer.Exit(report.exit_code)


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
                line = f"{_MARK[result['verdict']]} {escape(result['title'])} ({result['seconds']:.1f} s): {escape(result['summary'])}"
                if self.progress is not None:
                    self.progress.console.print(line)  # above the live display, where it stays
                else:
                    self.lines.print(line)


def _render(out: Console, report: Any) -> None:
    """After the verdict lines (printed as each stage ended): the failures with their causes, the outcome."""
    for stage in report.stages:
        if stage.verdict == "fail":
            out.print(f"\n[bold red]{escape(stage.title)} failed[/]: {escape(stage.problem or stage.summary)}")
            if stage.cause:
                out.print(f"  likely cause {escape('[' + (stage.code or '') + ']')}: {escape(stage.cause)}")
    if report.workdir:
        out.print(f"\nkept: {escape(report.workdir)} (rank logs, checkpoints)")
    verdict = "[green]passed[/]" if report.ok else "[bold red]failed[/]"
    out.print(
        f"\nselftest {verdict} in {report.seconds:.1f} s on {report.plan.world_size} {report.plan.device} "
        f"process(es) with {report.plan.backend}."
    )


def register(app: typer.Typer) -> None:
    app.command("selftest")(selftest)
