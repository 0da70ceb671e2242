"""Entry point of the ``torchrig`` command.

Every command group registers itself here. Errors the user can act on (:class:`~torchrig._core.errors.UserError`)
print one sentence and exit non-zero; anything else is an internal error (exit 2), with the traceback
shown only under ``--debug``.
"""

from __future__ import annotations

import sys
import traceback

import typer

import torchrig
from torchrig._core.errors import UserError
from torchrig.cli import console

app = typer.Typer(
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
    # Ctrl-C never reaches here: typer turns it into exit code 130 itself (tests/test_cli.py).
    err = console.err()  # one sentence stays on one line when piped
    try:
        # no arguments: the help, and success (click's no_args_is_help would exit 2, the code of a usage error)
        app(prog_name="torchrig", args=sys.argv[1:] or ["--help"])
    except UserError as exc:
        err.print(f"torchrig: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except Exception as exc:  # an internal error: one line, the traceback only with --debug
        if _state["debug"]:
            traceback.print_exc()
        err.print(
            f"torchrig: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback, "
            "and please report it)",
            markup=False,
        )
        sys.exit(console.Exit.USAGE)
