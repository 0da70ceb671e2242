"""``torchrig env``: plan, create and export environments. The logic lives in torchrig.envs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, SpinnerColumn, TextColumn

import torchrig
from torchrig._core import terminal
from torchrig._core.errors import UserError
from torchrig.cli import console

if TYPE_CHECKING:
    from torchrig.envs.executors import Step
    from torchrig.knowledge.builds import BuildPlan

app = typer.Typer(
    cls=console.Group,
    help="Plan and create environments with the PyTorch build that fits this driver and these GPUs.",
    no_args_is_help=True,
)

CREATE_SCHEMA = "torchrig.env-create/1"
EXPORT_SCHEMA = "torchrig.env-export/1"

_TORCH = typer.Option(
    None,
    "--torch",
    metavar="VERSION",
    help="torch release to plan for (2.14 or 2.14.0); default the newest whose builds torchrig knows in full.",
)
_PYTHON = typer.Option(None, "--python", metavar="X.Y", help="Python version; default this interpreter's.")


def _here_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


@app.command("plan", cls=console.Command)
def plan_cmd(
    torch: str | None = _TORCH,
    python: str | None = _PYTHON,
    driver: str | None = typer.Option(
        None, "--driver", metavar="VERSION", help="Plan for a machine with this NVIDIA driver (e.g. 580.95.05)."
    ),
    gpu: list[str] = typer.Option(
        [],
        "--gpu-model",
        metavar="MODEL",
        help="Plan for a GPU of this model (e.g. 'A100', 'RTX 4090'); repeat for each GPU.",
    ),
    # `--gpu MODEL` before 0.2; `--gpus` picks GPUs in selftest, so a model is named --gpu-model here
    gpu_old: list[str] = typer.Option([], "--gpu", metavar="MODEL", hidden=True),
    cc: list[str] = typer.Option(
        [], "--cc", metavar="X.Y", help="Plan for a GPU of this compute capability; repeat for each GPU."
    ),
    wsl: bool = typer.Option(False, "--wsl", help="With --driver: the driver is the Windows one, seen from WSL."),
    backend: str = typer.Option(
        "auto", "--backend", metavar="auto|cpu|cuXXX", help="Insist on a build and see whether it fits."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the plan as JSON (variant, reason, rejected, commands, ...)."
    ),
) -> None:
    """Which PyTorch build fits, why, what was rejected, and the pip / uv / conda commands.

    Without --driver, --gpu-model or --cc it plans for this machine, from the doctor's probes.
    """
    from torchrig.envs.planning import described_machine, this_machine
    from torchrig.knowledge.builds import plan
    from torchrig.mirrors.torch_index import torch_index_base

    gpu = [*gpu, *gpu_old]
    if driver is not None or cc or gpu:
        machine = described_machine(driver=driver, gpu_models=gpu, ccs=cc, wsl=wsl)
        target = "the machine you described"
    else:
        if wsl:
            raise UserError("--wsl describes another machine; give it with --driver (this machine is probed).")
        machine = this_machine()
        target = "this machine"
    result = plan(machine, torch=torch, python=python or _here_python(), backend=backend, index_base=torch_index_base())
    if as_json:
        console.emit_json(result.to_dict())
    else:
        _render_plan(result, target)
    raise typer.Exit(console.Exit.OK if result.variant else console.Exit.PROBLEM)


def _render_plan(result: BuildPlan, target: str) -> None:
    out = console.out()
    m = result.target
    terminal.indented(out, f"torch {result.torch} for Python {result.python} on {target}: {escape(m.describe())}", 0, 2)
    if result.variant:
        out.print(f"[bold green]build:[/] {result.variant}")
    else:
        out.print("[bold red]build:[/] none fits")
    terminal.indented(out, f"why: {escape(result.reason)}", 0, 2)
    if result.rejected:
        out.print("rejected:")
        for r in result.rejected:
            terminal.indented(out, f"{r.variant:<6} {escape(r.why)}", 2, 9)
    if result.suggestions:
        out.print("what would work:")
        for s in result.suggestions:
            terminal.indented(out, f"- {escape(s.text)}", 2, 4)
    for note in result.notes:
        terminal.indented(out, f"[yellow]note:[/] {escape(note)}", 0, 2)
    commands = result.commands()
    if commands:
        out.print("install:")
        for tool, line in commands.to_dict().items():
            out.print(f"  {tool:<6} {escape(line)}", soft_wrap=True)  # never wrap a command people copy


@app.command("create", cls=console.Command)
def create_cmd(
    name: str = typer.Argument(..., metavar="NAME", help="Name of the new environment."),
    file: Path | None = typer.Option(
        None, "--file", "-f", metavar="environment.yml", help="Packages to install besides torch (conda format)."
    ),
    torch: str | None = _TORCH,
    python: str | None = _PYTHON,
    backend: str = typer.Option(
        "auto", "--backend", metavar="auto|cpu|cuXXX", help="The build: auto (the plan's), cpu, or a CUDA variant."
    ),
    find_links: Path | None = typer.Option(
        None, "--find-links", metavar="DIR", help="Install every wheel from this directory, offline."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and every command; create nothing."),
    as_json: bool = typer.Option(
        False, "--json", help="Print what was planned and made, and the doctor's verdict, as JSON."
    ),
) -> None:
    """Create an environment with the planned PyTorch build, then run `torchrig doctor` inside it.

    Uses conda, mamba or micromamba when one is on PATH, else uv when present, else venv + pip.
    """
    from torchrig._core.seams.runner import SubprocessRunner
    from torchrig.envs.executors import (
        Request,
        choose_executor,
        create,
        describe_steps,
        doctor_verdict,
        preflight,
        torchrig_source,
    )
    from torchrig.envs.planning import this_machine
    from torchrig.envs.spec import check_name, read_env_file
    from torchrig.knowledge.builds import Target, plan
    from torchrig.mirrors.torch_index import torch_index_base

    check_name(name)
    env_file = read_env_file(file) if file is not None else None
    if find_links is not None and not find_links.is_dir():
        raise UserError(f"--find-links {find_links} is not a directory of wheels.")
    python = python or (env_file.python if env_file else None) or _here_python()
    machine = Target() if backend == "cpu" else this_machine()
    result = plan(
        machine,
        torch=torch or (env_file.torch if env_file else None),
        python=python,
        backend=backend,
        index_base=torch_index_base(),
    )
    if result.variant is None:
        hint = f" Instead: {result.suggestions[0].text}." if result.suggestions else ""
        raise UserError(f"{result.reason}{hint}")
    runner = SubprocessRunner()
    executor = choose_executor(runner, python=result.python)
    links = str(find_links.resolve()) if find_links else None
    req = Request(
        name=name,
        plan=result,
        env_file=env_file,
        find_links=links,
        torchrig=f"torchrig=={torchrig.__version__}" if find_links else torchrig_source(),
    )
    preflight(executor, req)
    out, err = console.out(), console.err()
    report: dict[str, Any] = {
        "schema": CREATE_SCHEMA,
        "name": name,
        "torch": result.torch,
        "variant": result.variant,
        "python": result.python,
        "tool": executor.kind,
        "reason": result.reason,
        "location": executor.location(name),
        "dry_run": dry_run,
    }
    if not as_json:
        out.print(
            f"{name}: torch {result.torch} ({result.variant}) for Python {result.python}, with {executor.kind}. "
            f"{escape(result.reason)}"
        )
    if dry_run:
        steps = [*describe_steps(executor.steps(req)), " ".join(executor.doctor(name))]
        if as_json:
            console.emit_json({**report, "steps": steps})
            return
        for line in steps:
            out.print(escape(line), soft_wrap=True)
        out.print(f"dry run: nothing was created ({executor.location(name)}).")
        return

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    with console.progress(*columns, console=err, quiet=as_json) as progress:
        task = progress.add_task("starting", total=None)

        def on_step(i: int, total: int, step: Step, state: str) -> None:
            if state == "start":
                progress.update(task, description=step.title, total=total, completed=i)
            elif state == "done":
                progress.update(task, completed=i + 1)
                if not as_json:
                    progress.console.print(f"ok  {escape(step.title)}")

        made = create(executor, req, on_step=on_step, checked=True)  # preflight ran above
    verdict = doctor_verdict(made.doctor)
    if as_json:
        doctor = {"verdict": verdict.sentence, "failing": verdict.failing}
        console.emit_json({**report, "prefix": str(made.prefix), "doctor": doctor})
    else:
        out.print(f"created {name} at {made.prefix}")
        out.print(f"doctor in {name}: {escape(verdict.sentence)}")
    raise typer.Exit(console.Exit.PROBLEM if verdict.failing else console.Exit.OK)


@app.command("export", cls=console.Command)
def export_cmd(
    name: str = typer.Argument(..., metavar="NAME", help="The environment to export."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the file's kind and text as JSON (environment.yml or requirements)."
    ),
) -> None:
    """Print an environment.yml (conda) or requirements file (venv) that recreates NAME, with its torch index."""
    import shutil

    from torchrig._core.seams.runner import SubprocessRunner
    from torchrig.envs.executors import known_executors
    from torchrig.envs.export import export
    from torchrig.envs.spec import check_name

    check_name(name)
    runner = SubprocessRunner()
    exported = export(name, known_executors(runner), runner, uv=shutil.which("uv"))
    if as_json:
        console.emit_json({"schema": EXPORT_SCHEMA, "name": name, "kind": exported.kind, "text": exported.text})
        return
    typer.echo(exported.text, nl=False)


@app.command("install", cls=console.Command)
def install_cmd(
    torch: str | None = _TORCH,
    backend: str = typer.Option(
        "auto", "--backend", metavar="auto|cpu|cuXXX", help="The build: auto (the plan's), cpu, or a CUDA variant."
    ),
    interpreter: Path | None = typer.Option(
        None,
        "--interpreter",
        metavar="PATH",
        help="The Python to install into (e.g. .venv/bin/python); default the one torchrig runs in.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and the pip command; install nothing."),
) -> None:
    """Install the PyTorch build the plan picks for this machine into an environment that has no torch yet.

    Runs pip with its own configuration and progress. A CPU plan for an exact release asks for the
    `+cpu` build by name (x86_64 Linux, Windows), so no configured index can hand a machine without an
    NVIDIA GPU the CUDA build. `make run` uses this to set up `.venv`.
    """
    from shlex import join

    from torchrig._core.seams.runner import SubprocessRunner
    from torchrig.envs.into import index_unreachable, inspect, install_attempts, requirement, run_pip
    from torchrig.envs.planning import this_machine
    from torchrig.knowledge.builds import plan
    from torchrig.mirrors.torch_index import torch_index_base

    target = inspect(str(interpreter) if interpreter else sys.executable, SubprocessRunner())
    out = console.out()
    if target.torch is not None:
        out.print(
            f"torch {escape(target.torch)} is already installed for {escape(target.path)}: nothing to do. "
            "`torchrig doctor` tells whether it is the right build for this machine."
        )
        return
    result = plan(this_machine(), torch=torch, python=target.python, backend=backend, index_base=torch_index_base())
    if result.variant is None:
        hint = f" Instead: {result.suggestions[0].text}." if result.suggestions else ""
        raise UserError(f"{result.reason}{hint}", exit_code=console.Exit.PROBLEM)  # as env plan: no build fits
    attempts = install_attempts(result, target.path, unreachable=None if dry_run else index_unreachable)
    out.print(f"torch {result.torch} ({result.variant}) for Python {result.python}: {escape(result.reason)}")
    if dry_run:
        out.print(escape(join(attempts[0][0])), soft_wrap=True)  # a command people copy: never wrapped
        out.print("dry run: nothing was installed.")
        return
    code = 0
    for i, (argv, note) in enumerate(attempts):
        if note and (i > 0 or "cannot be reached" in note):
            terminal.indented(out, f"[yellow]note:[/] {escape(note)}", 0, 2)
        out.print(escape(join(argv)), soft_wrap=True)
        code = run_pip(argv)
        if code == 0:
            break
    if code != 0:
        raise UserError(
            f"pip could not install {requirement(result)} from {result.index_url or 'PyPI'} (exit {code}; its "
            "messages are above). If that index is unreachable from here, choose a PyTorch mirror: "
            "`torchrig mirror probe`, then `torchrig mirror use NAME --for torch`, and run this again.",
            exit_code=console.Exit.PROBLEM,
        )
    out.print(f"installed {requirement(result)} for {escape(target.path)}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="env")
