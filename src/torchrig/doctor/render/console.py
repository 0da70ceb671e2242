"""The terminal report: the verdict first, then each finding with its fix, then the facts.

Colour and symbols repeat what the words say (ERROR, WARNING, ok), so piped output and ``NO_COLOR``
lose nothing. Prose wraps at words under its indent on a terminal; commands print whole, whatever the
width (``torchrig._core.terminal``); on a narrow terminal the facts are a list instead of a table.
"""

from __future__ import annotations

import re
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from torchrig._core import terminal
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.render.summary import FactRow, counts, fact_rows, format_value, too_thin, verdict

_STYLE = {Severity.ERROR: ("✗", "bold red"), Severity.WARNING: ("!", "yellow"), Severity.INFO: ("i", "cyan")}

# A fix line is either a sentence ("Upgrade the driver to ...") or a command ("python -m pip ...",
# "CUDA_VISIBLE_DEVICES=0 python train.py", "/usr/bin/nvidia-smi"): a sentence starts with a capitalised
# word, and wraps like prose; a command is printed whole, so that it can be copied.
_SENTENCE = re.compile(r"^[A-Z][a-z]+[ ,:]")


def _evidence(evidence: dict[str, object]) -> list[tuple[str, str]]:
    """(names, value) pairs, with names that carry the same value joined ("CUDA, report line 9")."""
    merged: dict[str, list[str]] = {}
    for key, value in evidence.items():
        merged.setdefault(format_value(value), []).append(str(key))
    return [(", ".join(keys), value) for value, keys in merged.items()]


def render_console(facts: Facts, findings: list[Finding], out: TextIO, *, show_facts: bool = True) -> None:
    console = terminal.console(out)
    c = counts(findings)
    doubt = c[Severity.WARNING] or too_thin(facts)  # a report too thin to check is no all-clear: no green tick
    head_style = "bold red" if c[Severity.ERROR] else "yellow" if doubt else "bold green"
    mark = "✗" if c[Severity.ERROR] else "!" if doubt else "✓"
    terminal.indented(console, f"[{head_style}]{mark} {escape(verdict(facts, findings))}[/]", 0, hang=2)
    if facts.origin == "report":
        terminal.indented(
            console,
            f"(explaining a report: {facts.report_format or 'text'}; facts below come from it, not this machine)",
            2,
        )
    for i, f in enumerate(findings, 1):
        symbol, style = _STYLE[f.severity]
        console.print()
        head = f"[{style}]{symbol} {f.severity.value.upper()}[/] [bold]{escape(f.code)}[/]  {escape(f.title)}"
        terminal.indented(console, head, 0, hang=2)
        if f.detail:
            terminal.indented(console, escape(f.detail), 2)
        if f.evidence:
            console.print("  evidence:")
            for names, value in _evidence(f.evidence):
                terminal.indented(console, f"{escape(names)}: {escape(value)}", 4)
        if f.fix:
            console.print("  fix:")
            for line in f.fix:
                if _SENTENCE.match(line):
                    terminal.indented(console, f"[bold]{escape(line)}[/]", 4)
                else:
                    console.print(f"    [bold]{escape(line)}[/]", soft_wrap=True)
        if i == 1 and f.severity is Severity.ERROR and len(findings) > 1:
            terminal.indented(console, "(fix this first: the findings below may follow from it)", 2)
    if not show_facts:
        terminal.indented(console, "(torchrig doctor --facts shows what this rests on)", 2)
        return
    rows = fact_rows(facts)
    if rows:
        console.print()
        if console.is_terminal and console.width < terminal.NARROW:
            _facts_list(console, rows)
        else:
            _facts_table(console, rows)


def _facts_list(console: Console, rows: list[FactRow]) -> None:
    """Facts on a narrow terminal: a section heading, then "fact: value (source)" lines wrapped at words."""
    console.print("[bold]Facts[/]")
    last = None
    for r in rows:
        if r.section != last:
            console.print(f"[dim]{escape(r.section)}[/]")
            last = r.section
        source = f" [dim]({escape(r.source)})[/]" if r.source else ""
        terminal.indented(console, f"{escape(r.label)}: {escape(r.value)}{source}", 2)


def _facts_table(console: Console, rows: list[FactRow]) -> None:
    table = Table(title="Facts", title_justify="left", show_lines=False, expand=False)
    table.add_column("section", style="dim")
    table.add_column("fact", overflow="fold")
    table.add_column("value", overflow="fold")
    table.add_column("source", style="dim")
    last = None
    for r in rows:
        table.add_row(r.section if r.section != last else "", escape(r.label), escape(r.value), r.source)
        last = r.section
    console.print(table)
