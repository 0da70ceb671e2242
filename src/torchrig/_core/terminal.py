"""The wrapping rule every console in torchrig follows, so that prose reads well and commands copy whole.

On a terminal, prose wraps at word boundaries to the window (never "glo|o." or a URL cut in two), and
a caller prints what people copy (commands, paths, URLs) with ``soft_wrap=True`` so it stays one line.
Piped or redirected, nothing is wrapped: each line stays whole for grep and for pasting. rich decides
what a terminal is (``TTY_COMPATIBLE=1`` forces one) and honours ``NO_COLOR`` and ``COLUMNS``.

Whatever a console shows passes through :func:`torchrig._core.redact.secrets`: the credentials of a URL
(``https://user:****@host``, as pip shows them) and the values of secret variables are masked in every
command's output, wherever the text came from (a config file, a log, the environment). The mask acts on
each string before rich lays it out (:class:`MaskingConsole`), since a table cell or a wrapped line can
split ``user:password@`` where no pattern would find it, and again on what is written, as a backstop.

    >>> c = console()                      # results, on stdout
    >>> c.print(Padding(prose, (0, 0, 0, 2)))   # a paragraph, indented, wrapped at words
    >>> c.print(command, soft_wrap=True)   # one line, whatever the width
"""

from __future__ import annotations

import io
import sys
from typing import IO, Any, TextIO, cast

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.text import Text

from torchrig._core import redact

NARROW = 80  # below this many columns, tables give way to lists


class Masked(io.TextIOBase):
    """A text stream that writes to ``stream`` with every secret masked (a terminal stays a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(redact.secrets(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # io.TextIOBase declares it read-only
        return getattr(self.stream, "encoding", None) or "utf-8"


class MaskingConsole(Console):
    """A Console that masks secrets in every string it is given, before layout (see the module's notes)."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(redact.secrets(text), **options)


def console(file: TextIO | None = None, *, stderr: bool = False) -> Console:
    """A rich Console that masks secrets, wraps prose at words on a terminal and wraps nothing when piped."""
    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    c = MaskingConsole(file=cast(IO[str], Masked(stream)), highlight=False)
    c.soft_wrap = not c.is_terminal
    return c


def indented(console: Console, markup: str, indent: int, hang: int | None = None) -> None:
    """``markup`` under an indent (later lines under ``hang``, default the same): wrapped at words to the
    window on a terminal, one whole line when piped."""
    if console.soft_wrap:
        console.print(" " * indent + markup)
        return
    hang = indent if hang is None else hang
    lines = Text.from_markup(redact.secrets(markup)).wrap(console, max(20, console.width - max(indent, hang)))
    for i, line in enumerate(lines):
        line.rstrip()
        console.print(Text(" " * (hang if i else indent)) + line)


def natural_width(console: Console, renderable: RenderableType) -> int:
    """How wide ``renderable`` (a table) is when nothing is folded."""
    return Measurement.get(console, console.options.update_width(10_000), renderable).maximum


def print_wide(console: Console, renderable: RenderableType) -> None:
    """A table whole, one line per row, when the output is a file or a pipe (pasted into an issue, it stays
    a table); folded to the window on a terminal."""
    if console.is_terminal:
        console.print(renderable)
        return
    width = console.width
    console.width = max(width, natural_width(console, renderable))
    try:
        console.print(renderable)
    finally:
        console.width = width
