"""Check tests go through the signature id -> code contract: the parser's table plus a few ids of our own."""

from __future__ import annotations

import pytest

from torchrig.doctor.checks import signature_hits

# Signatures the checks handle for which knowledge/signatures.toml has no row yet (the report parser
# owns that table). test_run_checks checks that these ids never contradict the table.
EXTRA_SIGNATURES = {
    "gpu.p2p-test-failed": "gpu.p2p-broken",
    "env.shadowed-torch": "env.module-shadowed",
}


@pytest.fixture(autouse=True)
def signature_table(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    table = {**signature_hits.signature_codes(), **EXTRA_SIGNATURES}
    monkeypatch.setattr(signature_hits, "signature_codes", lambda: table)
    return table
