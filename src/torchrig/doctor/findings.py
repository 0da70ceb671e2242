"""Findings: what a check concludes, with the evidence and the exact fix.

A finding's ``code`` is stable (``driver.too-old``): scripts, docs and bug reports refer to it.
Checks return findings; :mod:`torchrig.doctor.render` is the only code that shows them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    code: str  # stable, "area.what": "driver.too-old"
    severity: Severity
    title: str  # one line: what is wrong
    detail: str = ""  # why it matters, what it causes
    evidence: dict[str, Any] = field(default_factory=dict)  # the facts it rests on
    fix: tuple[str, ...] = ()  # exact commands (or steps) for this machine, in order

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "title": self.title,
            "detail": self.detail,
            "evidence": self.evidence,
            "fix": list(self.fix),
        }
