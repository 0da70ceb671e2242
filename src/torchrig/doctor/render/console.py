"""The terminal report: the verdict first, then each finding with its fix, then the facts table.

Colour and symbols repeat what the words say (ERROR, WARNING, ok), so piped output and ``NO_COLOR``
lose nothing.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.render.summary import counts, fact_rows, format_value, verdict

_STYLE = {Severity.ERROR: ("✗", "bold red"), Severity.WARNING: ("!", "yellow"), Severity.INFO: ("i", "cyan")}


def render_console(facts: Facts, findings: list[Finding], out: TextIO, *, show_facts: bool = True) -> None:
    console = Console(file=out, highlight=False, soft_wrap=True)
    c = counts(findings)
    head_style = "bold red" if c[Severity.ERROR] else "yellow" if c[Severity.WARNING] else "bold green"
    mark = "✗" if c[Severity.ERROR] else "!" if c[Severity.WARNING] else "✓"
    console.print(f"[{head_style}]{mark} {escape(verdict(facts, findings))}[/]")
    if facts.origin == "report":
        console.print(
            f"  (explaining a report: {facts.report_format or 'text'}; facts below come from it, not this machine)"
        )
    for i, f in enumerate(findings, 1):
        symbol, style = _STYLE[f.severity]
        console.print()
        console.print(f"[{style}]{symbol} {f.severity.value.upper()}[/] [bold]{escape(f.code)}[/]  {escape(f.title)}")
        if f.detail:
            console.print(f"  {escape(f.detail)}")
        if f.evidence:
            console.print(
                "  evidence: " + "; ".join(f"{escape(str(k))}={escape(format_value(v))}" for k, v in f.evidence.items())
            )
        if f.fix:
            console.print("  fix:")
            for line in f.fix:
                console.print(f"    [bold]{escape(line)}[/]")
        if i == 1 and f.severity is Severity.ERROR and len(findings) > 1:
            console.print("  (fix this first: the findings below may follow from it)")
    if not show_facts:
        console.print("  (torchrig doctor --facts shows what this rests on)")
        return
    rows = fact_rows(facts)
    if rows:
        console.print()
        table = Table(title="Facts", title_justify="left", show_lines=False, expand=False)
        table.add_column("section", style="dim")
        table.add_column("fact")
        table.add_column("value", overflow="fold")
        table.add_column("source", style="dim")
        last = None
        for r in rows:
            table.add_row(r.section if r.section != last else "", escape(r.label), escape(r.value), r.source)
            last = r.section
        console.print(table)
