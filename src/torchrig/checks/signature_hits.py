"""Which finding a recognised error signature is evidence for.

The report parser fills ``facts.signatures`` with :class:`~torchrig.facts.SignatureHit` (an ``id``
from ``knowledge/signatures.toml``, the matched excerpt, its line). That table also names, per
signature, the finding ``code`` it evidences; checks ask :func:`hits_for` for the hits of their code,
so a log that says only "no kernel image is available" still yields ``gpu.arch-unsupported``.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from torchrig import knowledge
from torchrig.facts import Facts, SignatureHit


@functools.cache
def signature_codes() -> dict[str, str]:
    """Signature id -> finding code, from every row of ``knowledge/signatures.toml`` that has both."""
    if not resources.files(knowledge.__name__).joinpath("signatures.toml").is_file():
        return {}
    table = knowledge.load("signatures")
    return {row["id"]: row["code"] for row in _rows(table) if "id" in row and "code" in row}


def _rows(table: Any) -> list[dict[str, Any]]:
    """Every table-of-rows in the file, whatever it is called (``[[signature]]`` or ``[[signatures]]``)."""
    rows: list[dict[str, Any]] = []
    if isinstance(table, dict):
        for value in table.values():
            if isinstance(value, list):
                rows.extend(r for r in value if isinstance(r, dict))
            elif isinstance(value, dict):
                rows.extend(_rows(value) if "id" not in value else [value])
    return rows


def hits_for(facts: Facts, code: str) -> list[SignatureHit]:
    """The signature hits in the facts that evidence the finding ``code``."""
    codes = signature_codes()
    return [hit for hit in facts.signatures if codes.get(hit.id) == code]


def evidence_of(hits: list[SignatureHit]) -> dict[str, str]:
    """Evidence entries for hits: ``{"report line 12": "RuntimeError: CUDA error: no kernel image ..."}``."""
    out: dict[str, str] = {}
    for n, hit in enumerate(hits):
        key = f"report line {hit.line}" if hit.line is not None else f"report excerpt {n + 1}"
        out[key] = hit.excerpt.strip()
    return out
