"""The wrapping rule every console in torchrig follows, so that prose reads well and commands copy whole.

On a terminal, prose wraps at word boundaries to the window (never "glo|o." or a URL cut in two), and
a caller prints what people copy (commands, paths, URLs) with ``soft_wrap=True`` so it stays one line.
Piped or redirected, nothing is wrapped: each line stays whole for grep and for pasting. rich decides
what a terminal is (``TTY_COMPATIBLE=1`` forces one) and honours ``NO_COLOR`` and ``COLUMNS``.

    >>> c = console()                      # results, on stdout
    >>> c.print(Padding(prose, (0, 0, 0, 2)))   # a paragraph, indented, wrapped at words
    >>> c.print(command, soft_wrap=True)   # one line, whatever the width
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console

NARROW = 80  # below this many columns, tables give way to lists


def console(file: TextIO | None = None, *, stderr: bool = False) -> Console:
    """A rich Console that wraps prose at words on a terminal and wraps nothing when piped."""
    c = Console(file=file, stderr=stderr, highlight=False)
    c.soft_wrap = not c.is_terminal
    return c
