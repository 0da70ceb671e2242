"""``torchrig doctor``: probe (or parse a report), check, render. The logic lives in torchrig.doctor."""

from __future__ import annotations

import codecs
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from torchrig._core.errors import UserError, read_user_file
from torchrig.cli import console

if TYPE_CHECKING:
    from torchrig.doctor.facts import Facts
    from torchrig.doctor.merge import Merged
    from torchrig.doctor.probe import ProbeBoard

_REPORT_LIMIT = 16 << 20  # a collect_env output is a few KiB; anything past 16 MiB is not a report


def doctor(
    report: str | None = typer.Option(
        None,
        "--report",
        metavar="FILE",
        help="Explain someone else's collect_env output, log or --json (FILE or - for stdin).",
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Skip every subprocess and the torch import (fast, less certain)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print facts and findings as JSON (schema torchrig.doctor/1)."),
    markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown report, ready to paste into an issue."),
    strict: bool = typer.Option(False, "--strict", help="Count warnings as errors in the exit code."),
    redact_paths: bool = typer.Option(
        False,
        "--redact-paths",
        help="Show home directories as ~ and the user names in them as <user> (secrets are always masked).",
    ),
    mirror: bool | None = typer.Option(
        None,
        "--mirror/--no-mirror",
        help="Point fixes at the PyTorch mirror configured here (default: yes for this machine, no with --report).",
    ),
    facts_table: bool | None = typer.Option(
        None,
        "--facts/--no-facts",
        help="Show the facts table (default: when something was found, and for --report).",
    ),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        metavar="SECONDS",
        help="The longest any probe may take (importing torch in a subprocess; default 60): a probe still "
        "running then is reported as timed out.",
    ),
    merge: bool = typer.Option(
        False,
        "--merge",
        help="One report for several nodes from their --json files (FILES): a table of nodes with the "
        "differences marked, findings that only some nodes have first.",
    ),
    cluster: bool = typer.Option(
        False,
        "--cluster",
        help="Under torchrun or srun: every node runs the doctor and rank 0 prints the merged report "
        "(over torch.distributed with gloo; no shared files).",
    ),
    files: list[str] | None = typer.Argument(
        None, metavar="FILES", help="With --merge: each node's `torchrig doctor --json` output."
    ),
) -> None:
    """Find the root cause of a broken GPU/PyTorch setup and print the exact fix.

    Across nodes: --merge node-*.json, or --cluster under torchrun/srun (docs/cluster.md).

    Exit codes: 0 no errors, 1 errors found (warnings too with --strict), 2 usage or internal error.
    """
    if as_json and markdown:
        raise UserError("choose one of --json and --markdown.")
    if timeout is not None and not timeout > 0:
        raise UserError("--timeout takes a number of seconds above 0.")
    fmt = "json" if as_json else "markdown" if markdown else "console"
    if files and not merge:
        raise UserError(f"{files[0]}: files are read with --merge (several nodes) or --report FILE (one).")
    if sum((merge, cluster, report is not None)) > 1:
        raise UserError("choose one of --report, --merge and --cluster.")
    if merge:
        _merge(files or [], fmt=fmt, strict=strict, mirror=mirror, redact_paths=redact_paths)
    if cluster:
        _cluster(fmt=fmt, strict=strict, mirror=mirror, quick=quick, timeout=timeout, redact_paths=redact_paths)
    if report is not None:
        from torchrig.doctor.report import parse_report

        facts = parse_report(_read_report(report))
        from torchrig.doctor.checks import run_checks
        from torchrig.doctor.render import render
    else:
        from torchrig.cli import early
        from torchrig.doctor.probe import Host, ProbeBoard, gather

        # The torch subprocess is the long pole of a live run (as long as `import torch`): the entry
        # point may have started the probes already (cli/early.py); otherwise start them now. Either
        # way the checks and renderers are imported while they run.
        with ThreadPoolExecutor(max_workers=1) as pool:
            started = None if quick else early.take()
            if started is not None:
                gathering, board = started
            else:
                early.end_children_on_exit()
                board = ProbeBoard()
                gathering = pool.submit(gather, Host.live(timeout), quick=quick, board=board)
            from torchrig.doctor.checks import run_checks
            from torchrig.doctor.render import render

            facts = _wait(gathering, board, quiet=as_json or markdown)
    use_mirror = (report is None) if mirror is None else mirror
    findings = run_checks(facts, index_base=_configured_index(strict=mirror is True) if use_mirror else None)
    render(
        facts,
        findings,
        fmt="json" if as_json else "markdown" if markdown else "console",
        show_facts=facts_table,
        redact_paths=redact_paths,
    )
    failing = {"error", "warning"} if strict else {"error"}
    problem = any(f.severity.value in failing for f in findings)
    raise typer.Exit(console.Exit.PROBLEM if problem else console.Exit.OK)


def _wait(gathering: Future[Facts], board: ProbeBoard, *, quiet: bool) -> Facts:
    """The probes' facts; meanwhile, on a terminal, a status line naming the probes still running.

    Ctrl-C here ends the children the probes started (the torch import runs in its own process group,
    out of the terminal's reach) before torchrig exits; SIGTERM and a normal exit do the same
    (:func:`torchrig.cli.early.end_children_on_exit`).
    """
    from torchrig._core.seams.runner import kill_running

    err = console.err()
    try:
        if quiet or not err.is_terminal:
            return gathering.result()
        with err.status("probing", spinner="dots") as status:
            while True:
                try:
                    return gathering.result(timeout=0.2)
                except FutureTimeout:
                    running = board.running()
                    waited = time.perf_counter() - board.started
                    status.update(f"probing: {', '.join(running) or 'finishing'} ({waited:.0f} s)")
    except KeyboardInterrupt:
        kill_running()
        raise


def _configured_index(*, strict: bool) -> str | None:
    """The PyTorch mirror configured here (``torchrig mirror use ... --for torch``), None for upstream.

    A broken configuration must not stop a diagnosis: unless the user asked for the mirror, the fixes
    then point at download.pytorch.org.
    """
    from torchrig.mirrors.torch_index import torch_index_base

    try:
        return torch_index_base()
    except UserError:
        if strict:
            raise
        return None


def _exit_for(merged: Merged, *, strict: bool) -> NoReturn:
    failing = {"error", "warning"} if strict else {"error"}
    raise typer.Exit(console.Exit.PROBLEM if merged.has(failing) else console.Exit.OK)


def _merge(files: list[str], *, fmt: str, strict: bool, mirror: bool | None, redact_paths: bool) -> NoReturn:
    """``--merge``: each file as ``--report`` reads it, checked, then all of them as one report."""
    from torchrig.doctor.checks import run_checks
    from torchrig.doctor.merge import NodeReport, merge, unique_names
    from torchrig.doctor.render import redacted
    from torchrig.doctor.render.cluster import render_merged
    from torchrig.doctor.report import parse_report

    if not files:
        raise UserError("--merge needs the `torchrig doctor --json` files of the nodes, e.g. --merge node-*.json.")
    if files.count("-") > 1:
        raise UserError("--merge reads standard input (-) once at most.")
    index_base = _configured_index(strict=True) if mirror else None  # someone else's machines: upstream by default
    names = unique_names(["stdin" if f == "-" else Path(f).stem or f for f in files])
    nodes = []
    for name, path in zip(names, files, strict=True):
        try:
            facts = parse_report(_read_report(path))
        except UserError as exc:
            raise UserError(f"{path}: {exc}", exit_code=exc.exit_code) from None
        nodes.append(NodeReport(name, *redacted(facts, run_checks(facts, index_base=index_base), paths=redact_paths)))
    merged = merge(nodes)
    render_merged(merged, fmt=fmt, out=sys.stdout)
    _exit_for(merged, strict=strict)


def _cluster(
    *, fmt: str, strict: bool, mirror: bool | None, quick: bool, timeout: float | None, redact_paths: bool
) -> NoReturn:
    """``--cluster``: every node's facts gathered over torch.distributed; rank 0 prints the merged report."""
    import os

    from torchrig._core import distributed
    from torchrig._core.errors import require_torch
    from torchrig.doctor.checks import run_checks
    from torchrig.doctor.merge import NodeReport, merge
    from torchrig.doctor.render import redacted
    from torchrig.doctor.render.cluster import render_merged

    os.environ.update(distributed.torch_env(os.environ))  # srun's variables as torchrun's, for env://
    job = distributed.job_of(os.environ)
    if job is None:
        raise UserError(
            "--cluster runs as one rank of a torchrun or srun job (one process per node is enough), e.g. "
            "`srun --ntasks-per-node=1 torchrig doctor --cluster`; docs/cluster.md has the recipes. "
            "To merge saved reports instead: torchrig doctor --merge node-*.json."
        )
    require_torch("torchrig doctor --cluster")
    from torchrig.doctor.cluster import collect

    try:
        gathered = collect(job, os.environ, quick=quick, timeout=timeout or 60.0)
    except (RuntimeError, ValueError, TimeoutError) as exc:  # torch.distributed's errors when a rank fails
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"--cluster could not gather the nodes' reports over torch.distributed ({first}).", exit_code=1
        ) from None
    use_mirror = True if mirror is None else mirror  # live facts: the mirror configured here, as for a live run
    index_base = _configured_index(strict=mirror is True) if use_mirror else None
    merged = merge(
        [
            NodeReport(name, *redacted(facts, run_checks(facts, index_base=index_base), paths=redact_paths))
            for name, facts in gathered
        ]
    )
    if job.rank == 0:
        render_merged(merged, fmt=fmt, out=sys.stdout)
    _exit_for(merged, strict=strict)


def _read_report(source: str) -> str:
    if source == "-":
        data = sys.stdin.buffer.read(_REPORT_LIMIT + 1)
    else:
        data = read_user_file(source, limit=_REPORT_LIMIT, what="a collect_env output, a log or a torchrig --json")
    if len(data) > _REPORT_LIMIT:  # stdin has no size to check up front
        raise UserError("standard input is larger than 16 MiB; that is not a collect_env output or a log excerpt.")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # PowerShell 5's `>` writes UTF-16: `python -m torch.utils.collect_env > env.txt` on Windows.
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data:
        raise UserError(f"{source} is a binary file, not a collect_env output, log or torchrig --json.")
    return data.decode("utf-8", errors="replace")


def register(app: typer.Typer) -> None:
    app.command("doctor", cls=console.Command)(doctor)
