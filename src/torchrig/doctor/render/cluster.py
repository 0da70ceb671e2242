"""Showing several nodes' doctor reports as one (:mod:`torchrig.doctor.merge`): console, JSON or Markdown.

The order is the question a cluster admin asks: which node is the odd one out, and why. So: the verdict;
a table with one row per node and a column per key fact, a ``*`` on the values that differ from the
majority (every difference is also written out in words below it, so nothing rests on the mark); the
findings only some nodes have; the findings every node has; then each node's findings in full.

JSON (schema ``torchrig.doctor.cluster/1``) holds every node's whole ``torchrig.doctor/1`` report, so
nothing a single-node report says is lost in the merge.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import torchrig
from torchrig._core import terminal
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.merge import Merged, SharedFinding
from torchrig.doctor.render.json_report import report_dict
from torchrig.doctor.render.summary import format_value, verdict

SCHEMA = "torchrig.doctor.cluster/1"
DIFFERS = "*"
DIFFERENCES = f"Nodes differ (a value that differs is marked {DIFFERS} in the table):"
_STYLE = {Severity.ERROR: ("✗", "bold red"), Severity.WARNING: ("!", "yellow"), Severity.INFO: ("i", "cyan")}


def render_merged(merged: Merged, *, fmt: str = "console", out: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps(merged_dict(merged), indent=2, default=str) + "\n")
    elif fmt == "markdown":
        out.write(merged_markdown(merged))
    elif fmt == "console":
        merged_console(merged, out)
    else:
        raise ValueError(f"unknown format {fmt!r}")


def table_rows(merged: Merged) -> tuple[list[str], list[list[str]]]:
    """Headers (node, then each key fact) and one row per node, differing values marked."""
    columns = [f for f in merged.facts if not f.is_env]
    headers = ["node", *[f.label for f in columns]]
    rows = []
    for node in merged.nodes:
        row = [node.name]
        for fact in columns:
            mark = DIFFERS if node.name in fact.odd and fact.label != "findings" else ""
            row.append(fact.values[node.name] + mark)
        rows.append(row)
    return headers, rows


def difference_lines(merged: Merged) -> list[str]:
    """Every fact that differs, in words: the odd nodes and their values, and what the others have."""
    lines = []
    for fact in merged.differences:
        label = f"{fact.label} (environment)" if fact.is_env else fact.label
        if fact.majority is not None:
            odd = "; ".join(f"{name} has {fact.values[name]}" for name in fact.odd)
            others = len(fact.values) - len(fact.odd)
            lines.append(f"{label}: {odd}; the other {others} node{'s' if others != 1 else ''} have {fact.majority}")
        else:
            each = "; ".join(f"{name} has {value}" for name, value in fact.values.items())
            lines.append(f"{label} differs, with no majority: {each}")
    return lines


def _where(shared: SharedFinding) -> str:
    return "every node" if shared.everywhere else ", ".join(shared.nodes)


# -- console -----------------------------------------------------------------------------------------


def merged_console(merged: Merged, out: TextIO) -> None:
    console = Console(file=out, highlight=False, soft_wrap=True)
    errors = merged.exit_problem
    warnings = merged.has({"warning"})
    style = "bold red" if errors else "yellow" if warnings or merged.differences else "bold green"
    mark = "✗" if errors else "!" if warnings or merged.differences else "✓"
    console.print(f"[{style}]{mark} {escape(merged.verdict())}[/]")

    headers, rows = table_rows(merged)
    table = Table(
        title="Nodes", title_justify="left", expand=False, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
    for header in headers:
        table.add_column(escape(header), overflow="fold")
    for row in rows:
        table.add_row(*[escape(cell) for cell in row])
    console.print()
    terminal.print_wide(console, table)
    lines = difference_lines(merged)
    if lines:
        console.print()
        console.print(DIFFERENCES)
        for line in lines:
            console.print(f"  [yellow]![/] {escape(line)}")

    for title, group in (
        ("Only on some nodes (look here first)", merged.partial),
        ("On every node", [s for s in merged.findings if s.everywhere]),
    ):
        if not group:
            continue
        console.print(f"\n[bold]{title}[/]")
        for shared in group:
            f = shared.finding
            symbol, style = _STYLE[f.severity]
            console.print(
                f"  [{style}]{symbol} {f.severity.value.upper()}[/] [bold]{escape(f.code)}[/] on "
                f"{escape(_where(shared))}: {escape(f.title)}"
            )

    for node in merged.nodes:
        console.print(f"\n[bold]{escape(node.name)}[/]: {escape(verdict(node.facts, node.findings))}")
        for f in node.findings:
            _finding(console, f)


def _finding(console: Console, f: Finding) -> None:
    symbol, style = _STYLE[f.severity]
    console.print(f"  [{style}]{symbol} {f.severity.value.upper()}[/] [bold]{escape(f.code)}[/]  {escape(f.title)}")
    if f.detail:
        console.print(f"    {escape(f.detail)}")
    if f.evidence:
        evidence = "; ".join(f"{escape(str(k))}={escape(format_value(v))}" for k, v in f.evidence.items())
        console.print(f"    evidence: {evidence}")
    if f.fix:
        console.print("    fix:")
        for line in f.fix:
            console.print(f"      [bold]{escape(line)}[/]")


# -- JSON --------------------------------------------------------------------------------------------


def merged_dict(merged: Merged) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "torchrig": torchrig.__version__,
        "verdict": merged.verdict(),
        "facts": [
            {
                "fact": f.label,
                "environment": f.is_env,
                "values": f.values,
                "differs": f.differs,
                "majority": f.majority,
                "odd": f.odd,
            }
            for f in merged.facts
        ],
        "findings": [
            {
                "code": s.finding.code,
                "severity": s.finding.severity.value,
                "title": s.finding.title,
                "nodes": s.nodes,
                "everywhere": s.everywhere,
            }
            for s in merged.findings
        ],
        "nodes": [{"name": n.name, "report": report_dict(n.facts, n.findings)} for n in merged.nodes],
    }


# -- Markdown ----------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def merged_markdown(merged: Merged) -> str:
    out = [f"## torchrig doctor: {len(merged.nodes)} nodes ({torchrig.__version__})", "", f"**{merged.verdict()}**", ""]
    headers, rows = table_rows(merged)
    out += ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    lines = difference_lines(merged)
    if lines:
        out += ["", DIFFERENCES.replace(DIFFERS, f"`{DIFFERS}`"), ""]
        out += [f"- {line}" for line in lines]
    for title, group in (
        ("Only on some nodes (look here first)", merged.partial),
        ("On every node", [s for s in merged.findings if s.everywhere]),
    ):
        if group:
            out += ["", f"### {title}", ""]
            out += [
                f"- {s.finding.severity.value.upper()} `{s.finding.code}` on {_where(s)}: {s.finding.title}"
                for s in group
            ]
    for node in merged.nodes:
        out += ["", f"### {node.name}", "", verdict(node.facts, node.findings)]
        for f in node.findings:
            out += ["", f"**{f.severity.value.upper()} `{f.code}`**: {f.title}"]
            if f.detail:
                out += ["", f.detail]
            if f.fix:
                out += ["", "```bash", *f.fix, "```"]
    out.append("")
    return "\n".join(out)
