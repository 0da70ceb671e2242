"""A ``torchrig selftest --json`` report (schema ``torchrig.selftest/1``) read as evidence about its machine.

The self-test proves what probes cannot: that a direct GPU-to-GPU copy delivers the right bytes, that an
all-reduce is exact. A failed stage is evidence the doctor can explain with the same checks:

- a peer-to-peer pair whose direct copy came back wrong while the copy via the host was right is a
  broken P2P link (``gpu.p2p-broken``);
- any other failed stage is a failure the report shows (its problem and the self-test's own cause),
  which the checks explain where they can and ``doctor.unexplained`` names otherwise.

The doctor reads the JSON itself (it does not import :mod:`torchrig.selftest`: the two rooms are
independent); the fields read are the report's documented ones (docs/selftest.md).
"""

from __future__ import annotations

import re
from typing import Any

from torchrig._core.errors import UserError
from torchrig.doctor.facts import Facts, P2PLink

SCHEMA = "torchrig.selftest/1"
_DEVICE = re.compile(r"cuda:(\d+)")


def facts_of(data: dict[str, Any]) -> Facts:
    """Facts from a self-test report: the environment it ran in, broken P2P pairs, failed stages."""
    stages = data.get("stages")
    if not isinstance(stages, list):
        raise UserError(f"the report says schema {SCHEMA} but has no `stages` list; give the file `--json` wrote.")
    facts = Facts(origin="report", report_format="torchrig-selftest-json")
    env = _mapping(data.get("environment"))
    if isinstance(env.get("torch"), str):
        facts.torch.set("version", env["torch"], "report")
        facts.torch.set("installed", True, "report")
    if isinstance(env.get("python"), str):
        facts.system.set("python_version", env["python"], "report")
    for stage in stages:
        if not isinstance(stage, dict) or stage.get("verdict") != "fail":
            continue
        if stage.get("name") == "p2p":
            facts.gpus.p2p += _broken_links(stage)
        said = str(stage.get("problem") or stage.get("summary") or "failed")
        facts.failures.append(f"selftest {stage.get('title') or stage.get('name')}: {said}")
    return facts


def _broken_links(stage: dict[str, Any]) -> list[P2PLink]:
    """Pairs whose direct copy was wrong while the copy via the host was right (P2P itself is at fault)."""
    figures = _mapping(stage.get("figures"))
    links = []
    for pair in figures.get("pairs") or []:
        if not isinstance(pair, dict) or pair.get("direct_ok") is not False or pair.get("host_ok") is not True:
            continue
        a, b = (_DEVICE.search(str(pair.get(end, ""))) for end in ("src", "dst"))
        source = "torchrig selftest" + (" (stand-ins, --inject)" if figures.get("stand_in") else "")
        links.append(P2PLink(int(a.group(1)) if a else -1, int(b.group(1)) if b else -1, "broken", source))
    return links


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
