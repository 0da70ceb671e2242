"""What every output masks before it is shown: secrets always, home directories and user names on request.

The doctor's outputs are made to be pasted into public issues (``--markdown``, ``--json``), and the
plain terminal report is pasted as often. Facts and findings are masked here, once, before any renderer
sees them (:mod:`torchrig._core.redact` says what is masked); the checks ran on the real values, so a fix
still names the right file, and only its words on the screen are masked.
"""

from __future__ import annotations

import dataclasses
import itertools

from torchrig._core import redact
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding


def redacted(facts: Facts, findings: list[Finding], *, paths: bool = False) -> tuple[Facts, list[Finding]]:
    """``facts`` and ``findings`` with secrets masked, and with ``paths`` home directories and user names.

    The user names are those the facts' own paths show (``/home/NAME``, ``/Users/NAME``, ``C:\\Users\\NAME``).
    Returns the same objects where nothing needed masking.
    """
    facts_data = facts.to_dict()
    findings_data = [f.to_dict() for f in findings]
    homes = (
        redact.user_names(itertools.chain(redact.strings(facts_data), redact.strings(findings_data))) if paths else None
    )
    masked_facts = redact.data(facts_data, homes)
    if masked_facts != facts_data:
        facts = Facts.from_dict(masked_facts)
    return facts, [_finding(f, data, redact.data(data, homes)) for f, data in zip(findings, findings_data, strict=True)]


def _finding(finding: Finding, data: dict[str, object], masked: dict[str, object]) -> Finding:
    if masked == data:
        return finding
    fix = masked["fix"]
    assert isinstance(fix, list)
    return dataclasses.replace(
        finding,
        title=str(masked["title"]),
        detail=str(masked["detail"]),
        evidence=dict(masked["evidence"]),  # type: ignore[call-overload]
        fix=tuple(fix),
    )
