"""Which finding a recognised error signature is evidence for.

The report parser fills ``facts.signatures`` with :class:`~torchrig.doctor.facts.SignatureHit` (an ``id``
from ``knowledge/signatures.toml``, the matched excerpt, its line). That table also names, per
signature, the finding ``code`` it evidences; checks ask :func:`hits_for` for the hits of their code,
so a log that says only "no kernel image is available" still yields ``gpu.arch-unsupported``.
"""

from __future__ import annotations

import functools

from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.knowledge import signatures


@functools.cache
def signature_codes() -> dict[str, str]:
    """Signature id -> finding code, from the table the report parser matches with."""
    return {sig.id: sig.code for sig in signatures.signatures()}


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
