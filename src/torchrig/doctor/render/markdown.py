"""``--markdown``: a report ready to paste into an issue (findings first, facts in a collapsed table)."""

from __future__ import annotations

import torchrig
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding
from torchrig.doctor.render.summary import fact_rows, format_value, verdict


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(facts: Facts, findings: list[Finding]) -> str:
    out = [f"## torchrig doctor ({torchrig.__version__})", "", f"**{verdict(facts, findings)}**", ""]
    for f in findings:
        out += [f"### {f.severity.value.upper()} `{f.code}`: {f.title}", ""]
        if f.detail:
            out += [f.detail, ""]
        if f.evidence:
            out += ["Evidence: " + "; ".join(f"{k} = `{format_value(v)}`" for k, v in f.evidence.items()), ""]
        if f.fix:
            out += ["Fix:", "", "```bash", *f.fix, "```", ""]
    out += ["<details><summary>Facts</summary>", "", "| section | fact | value | source |", "|---|---|---|---|"]
    out += [f"| {r.section} | {_cell(r.label)} | {_cell(r.value)} | {r.source} |" for r in fact_rows(facts)]
    out += ["", "</details>", ""]
    return "\n".join(out)
