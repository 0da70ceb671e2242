"""Entry point of the ``torchrig`` command.

Every command group registers itself here. Errors the user can act on (:class:`~torchrig._core.errors.UserError`)
print one sentence and exit non-zero; anything else is an internal error (exit 2), with the traceback
shown only under ``--debug``.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

import torchrig
from torchrig._core.errors import UserError
from torchrig.cli import console

app = typer.Typer(
    cls=console.Group,
    name="torchrig",
    help="From just installed to proven to train: diagnose the GPU/PyTorch stack, prove it trains, fix mirrors and environments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"torchrig {torchrig.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors."),
) -> None:
    _state["debug"] = debug


def _register() -> None:
    from torchrig.cli import cache, doctor, env, mirror, selftest

    doctor.register(app)
    env.register(app)
    mirror.register(app)
    selftest.register(app)
    cache.register(app)


_register()


def main() -> None:
    # Ctrl-C never reaches here: typer turns it into exit code 130 itself (tests/cli/test_exit_codes.py).
    err = console.err()  # one sentence stays on one line when piped
    try:
        fd_at_start: os.stat_result | None = os.fstat(1)
    except OSError:  # started with stdout closed
        fd_at_start = None
    stream_at_start = sys.stdout
    try:
        # no arguments: the help, and success (click's no_args_is_help would exit 2, the code of a usage error)
        app(prog_name="torchrig", args=sys.argv[1:] or ["--help"])
    except SystemExit:  # typer ends every command with one
        _flush_stdout(fd_at_start, stream_at_start)
        raise
    except BrokenPipeError:
        _output_closed()
    except UserError as exc:
        err.print(f"torchrig: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except Exception as exc:  # an internal error: one line, the traceback only with --debug
        if _state["debug"]:
            err.print("".join(traceback.format_exc()), markup=False, soft_wrap=True)  # masked, as all output
        err.print(
            f"torchrig: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback, "
            "and please report it)",
            markup=False,
        )
        sys.exit(console.Exit.USAGE)


def _flush_stdout(fd_at_start: os.stat_result | None, stream_at_start: object) -> None:
    """Deliver what is still buffered; when a write found the reader gone, end quietly with exit 141.

    rich and typer each catch a write to a closed pipe themselves and exit 1, the code of "problems
    found": rich first points file descriptor 1 at /dev/null, typer swaps ``sys.stdout`` for a wrapper
    that swallows the error. Either change is the sign. A reader that left only after every write
    succeeded (``| grep -q``) changes nothing: the command's own exit code stands.
    """
    try:
        now = os.fstat(1)
    except OSError:
        return
    if fd_at_start is not None and not os.path.samestat(now, fd_at_start):
        _output_closed()
    if sys.stdout is not stream_at_start:
        _output_closed()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _output_closed()


def _output_closed() -> None:
    """Exit 141 like a shell tool whose reader went away (`torchrig doctor | head -1`), saying nothing.

    Python flushes stdout once more as it exits; pointing it at /dev/null keeps that flush from
    printing "Exception ignored ... BrokenPipeError".
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        sys.stderr.flush()
    except OSError:  # its reader went away too (`2>&1 | head -1`)
        os.dup2(devnull, 2)
    sys.exit(console.Exit.OUTPUT_CLOSED)
