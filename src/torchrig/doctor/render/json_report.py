"""``--json``: the versioned machine-readable report (schema ``torchrig.doctor/1``)."""

from __future__ import annotations

import json

import torchrig
from torchrig.doctor.facts import SCHEMA, Facts
from torchrig.doctor.findings import Finding
from torchrig.doctor.render.summary import counts, verdict


def report_dict(facts: Facts, findings: list[Finding]) -> dict[str, object]:
    c = counts(findings)
    return {
        "schema": SCHEMA,
        "torchrig": torchrig.__version__,
        "verdict": verdict(facts, findings),
        "summary": {sev.value: c[sev] for sev in sorted(c, key=lambda s: s.value)} | {"findings": len(findings)},
        "findings": [f.to_dict() for f in findings],
        "facts": facts.to_dict(),
    }


def render_json(facts: Facts, findings: list[Finding]) -> str:
    return json.dumps(report_dict(facts, findings), indent=2, default=str) + "\n"
