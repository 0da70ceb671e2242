"""Showing a doctor run: Findings (and the Facts behind them) as a console report, JSON or Markdown.

Checks return data; this is the only layer that decides what it looks like. The findings arrive
ordered root cause first and are shown in that order.
"""

from __future__ import annotations

import sys
from typing import TextIO

from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding
from torchrig.doctor.render.console import render_console
from torchrig.doctor.render.json_report import render_json
from torchrig.doctor.render.markdown import render_markdown
from torchrig.doctor.render.redaction import redacted

FORMATS = ("console", "json", "markdown")


def render(
    facts: Facts,
    findings: list[Finding],
    *,
    fmt: str = "console",
    out: TextIO | None = None,
    show_facts: bool | None = None,
    redact_paths: bool = False,
) -> None:
    """Write the report in ``fmt`` ("console", "json" or "markdown") to ``out`` (stdout by default).

    ``show_facts`` (console only): the facts table; by default shown when something was found or the facts
    come from a report, and left out of a healthy live run, where it would push the verdict off the screen.
    Every format masks secrets (credentials in URLs, values of variables named like tokens); with
    ``redact_paths``, home directories and user names too (:mod:`.redaction`).
    """
    stream = out or sys.stdout
    facts, findings = redacted(facts, findings, paths=redact_paths)
    if fmt == "json":
        stream.write(render_json(facts, findings))
    elif fmt == "markdown":
        stream.write(render_markdown(facts, findings))
    elif fmt == "console":
        if show_facts is None:
            show_facts = bool(findings) or facts.origin == "report"
        render_console(facts, findings, stream, show_facts=show_facts)
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


__all__ = ["FORMATS", "redacted", "render", "render_console", "render_json", "render_markdown"]
