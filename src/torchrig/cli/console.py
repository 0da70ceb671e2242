"""The one place that decides how torchrig talks to a terminal: consoles, tables, progress, exit codes, help.

Every command prints through :func:`out` (results, on stdout) and :func:`err` (progress, notes and
errors, on stderr), builds tables with :func:`table` and shows long work with :func:`progress`, so the
whole tool has one style: colour repeats what the words say and is dropped when ``NO_COLOR`` is set
or the stream is not a terminal (rich decides both); progress appears only on a terminal.

Every command is a :class:`Command` in a :class:`Group`, whose ``--help`` shows no Python type
placeholders: a flag shows nothing, an option the name of its value (``--timeout SECONDS``).

Exit codes are :class:`Exit` members, never literals: 0 all is well, 1 the command worked and found a
problem (doctor errors, a failed stage, no mirror answered, no build fits), 2 a usage or internal
error, 130 interrupted (Ctrl-C), 141 its output was closed by the reader (``torchrig ... | head -1``:
SIGPIPE's code, as a shell tool reports it); a command that a signal ended exits :func:`signalled`
(128 + its number, as a shell reports it: 143 for SIGTERM, 129 for SIGHUP). docs/exit-codes.md is the
user's copy of this list.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from torchrig._core import terminal


class Exit(enum.IntEnum):
    OK = 0
    PROBLEM = 1  # the command ran and found something wrong (doctor errors, a failed stage, ...)
    USAGE = 2  # the user asked for something impossible, or torchrig failed itself
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
    OUTPUT_CLOSED = 141  # the reader of stdout went away (`| head -1`), as a shell reports SIGPIPE


def _no_type_placeholders(params: list[Any]) -> list[Any]:
    # typer's help shows a Python type next to an option without a metavar, and a flag has none
    # ("--json <bool>"), and next to every argument, already named in its own column ("NAME <str>").
    # A flag takes no value, so it shows nothing; every other option names its value (SECONDS, DIR).
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif getattr(param, "param_type_name", "") == "argument":
            param.display_type_rich = _nothing  # the name column says it
    return params


def _nothing(ctx: Any) -> None:
    return None


class Command(TyperCommand):
    """Every torchrig command: its help names what each option takes, and shows nothing for a flag."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_type_placeholders(super().get_params(ctx))


class Group(TyperGroup):
    """Every torchrig command group (``torchrig``, ``torchrig mirror``, ...), with :class:`Command`'s help."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _no_type_placeholders(super().get_params(ctx))


def signalled(signum: int) -> int:
    """The exit code of a command that the signal ``signum`` ended: 128 + its number, as a shell reports it."""
    return 128 + signum


def out() -> Console:
    """Where results go (stdout): prose wraps at words on a terminal; piped, every line stays whole.

    Print what people copy (a command, a path, a URL) with ``soft_wrap=True``: it is never wrapped.
    """
    return terminal.console()


def err() -> Console:
    """Where progress, notes, warnings and errors go (stderr), with the same wrapping rule."""
    return terminal.console(stderr=True)


def emit_json(value: object) -> None:
    """Print ``value`` as indented JSON on stdout, secrets masked (as every console output is)."""
    import json

    import typer

    from torchrig._core import redact

    typer.echo(json.dumps(redact.data(value), indent=2))


def table(*columns: str, title: str | None = None, right: tuple[str, ...] = (), **options: Any) -> Table:
    """A table with ``columns``; those named in ``right`` are right-aligned (numbers), every cell folds."""
    t = Table(title=title, title_justify="left", **options)
    for name in columns:
        t.add_column(name, justify="right" if name in right else "left", overflow="fold")
    return t


def rows(
    out: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: tuple[str, ...] = (),
    whole: tuple[str, ...] = (),
) -> None:
    """Rows as a table when the table fits the terminal, and whenever piped (then at its full width, one
    line per row, for grep); on a narrower terminal as a list, so that nothing is cut: the first column
    (a name to copy) on its own line, then "header value" pairs wrapped at words, then each column named
    in ``whole`` (a path to copy) on a line of its own."""
    t = Table(box=None, pad_edge=False, show_edge=False)
    for h in headers:
        t.add_column(h, justify="right" if h in right else "left", no_wrap=True)
    for row in rows:
        t.add_row(*(escape(v) for v in row))
    if not out.is_terminal or terminal.natural_width(out, t) <= out.width:
        terminal.print_wide(out, t)
        return
    for row in rows:
        out.print(f"[bold]{escape(row[0])}[/]", soft_wrap=True)
        pairs = [f"{h} {v}" for h, v in zip(headers[1:], row[1:], strict=True) if h not in whole]
        for line in _packed(pairs, out.width - 2):  # a pair is never split across lines
            out.print(f"  {escape(line)}", soft_wrap=True)
        for h, v in zip(headers, row, strict=True):
            if h in whole:
                out.print(f"  {h} {escape(v)}", soft_wrap=True)


def _packed(items: Sequence[str], width: int) -> list[str]:
    """``items`` joined with ", " into lines of at most ``width`` characters, none split (a longer one alone)."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= width - 1:
            lines[-1] += f", {item}"
        else:
            if lines:
                lines[-1] += ","
            lines.append(item)
    return lines


def progress(*columns: ProgressColumn | str, console: Console | None = None, quiet: bool = False) -> Progress:
    """A transient progress display on stderr, shown only on a terminal (and not with ``quiet``)."""
    stream = console or err()
    shown = columns or (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
    return Progress(
        *shown, TimeElapsedColumn(), console=stream, transient=True, disable=quiet or not stream.is_terminal
    )
