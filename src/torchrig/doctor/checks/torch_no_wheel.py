"""torch.no-wheel: pip found no torch wheel at all ("from versions: none"): why, for this platform.

pip lists every version whose wheels fit the interpreter and platform; an empty list means none does.
The causes, from the most specific the facts can show:

1. the Python version: no release (of the version asked for) publishes wheels for it: that is
   ``torch.python-unsupported``, whose check asks :func:`python_rules_out_every_wheel`;
2. a 32-bit Python or CPU: PyTorch publishes 64-bit wheels only;
3. macOS on Intel: the last release with macOS x86_64 wheels was 2.2 (PyTorch's deprecation of macOS x86
   builds, pytorch/pytorch#114602; the release tables list no macOS x86_64 wheels after it);
4. otherwise the index: an --index-url that does not carry this platform's builds.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "torch.no-wheel"
LAST_MACOS_X86 = Version("2.2")
_ASKED = re.compile(r"requirement\s+(torch\S*)", re.IGNORECASE)
_32BIT = ("i386", "i686", "x86", "win32", "armv7l", "armv6l")


def _asked(texts: list[str]) -> Requirement | None:
    for text in texts:
        match = _ASKED.search(text)
        if match:
            try:
                return Requirement(match.group(1).rstrip(",.;"))
            except InvalidRequirement:
                return None
    return None


def asked_for(facts: Facts) -> tuple[Requirement | None, list[knowledge.TorchRelease]]:
    """The torch requirement pip could not satisfy, and the known releases it allows (all when unknown)."""
    asked = _asked([h.excerpt for h in hits_for(facts, CODE)])
    releases = [
        r for r in knowledge.releases() if asked is None or asked.specifier.contains(f"{r.minor}.0", prereleases=True)
    ]
    return asked, releases


def python_rules_out_every_wheel(facts: Facts) -> bool:
    """pip found no torch, and no release it was asked for publishes wheels for this Python."""
    python = queries.python_version(facts)
    _, releases = asked_for(facts)
    return bool(hits_for(facts, CODE) and python and releases and not any(r.supports_python(python) for r in releases))


def torch_has_a_wheel_here(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """pip must find a torch wheel for this Python and platform; say which of them rules every wheel out."""
    hits = hits_for(facts, CODE)
    if not hits or python_rules_out_every_wheel(facts):
        return []  # the Python version: torch.python-unsupported says so
    asked, _ = asked_for(facts)
    python = queries.python_version(facts)
    machine = (facts.system.machine or "").lower()
    system = (facts.system.os or "").lower()
    evidence: dict[str, object] = {}
    if asked is not None:
        evidence["asked for"] = str(asked)
    if python:
        evidence["python"] = facts.system.python_version
    if machine:
        evidence["machine"] = f"{facts.system.os or ''} {facts.system.machine}".strip()
    evidence.update(evidence_of(hits))
    if machine in _32BIT or "32 bit" in (facts.system.python_version or "").lower():
        fix = ["# PyTorch publishes 64-bit wheels only: install a 64-bit Python (and OS), then pip install torch"]
        return [_finding("pip found no torch wheel: this Python is 32-bit", evidence, fix)]
    if system == "darwin" and machine == "x86_64" and (asked is None or not asked.specifier.contains("2.2.2")):
        fix = [
            "pip install 'torch<2.3'   # 2.2 is the last release with macOS x86_64 (Intel) wheels",
            "# newer releases need an Apple-silicon Mac (arm64), or Linux",
        ]
        return [
            _finding("pip found no torch wheel: PyTorch stopped publishing macOS Intel wheels after 2.2", evidence, fix)
        ]
    fix = [
        "python -c 'import sys, platform; print(sys.version, platform.machine())'   # Python and CPU pip is choosing for",
        "# a PyTorch --index-url carries one build (cpu, cu126, ...) per platform: check it lists this Python and platform",
        "# at https://download.pytorch.org/whl/torch/ (or your mirror's), or install without --index-url",
    ]
    return [_finding("pip found no torch wheel for this Python and platform", evidence, fix)]


def _finding(title: str, evidence: dict[str, object], fix: list[str]) -> Finding:
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=title,
        detail='pip lists the versions whose wheels fit this interpreter and platform: "from versions: none" '
        "means not one does, so no other pip option will help until the interpreter, platform or index changes.",
        evidence=evidence,
        fix=tuple(fix),
    )


register(
    Check(
        name="torch-no-wheel",
        codes=(CODE,),
        summary='pip finds no torch wheel ("from versions: none"): Python version, 32-bit, macOS Intel, or the index',
        layer=Layer.TORCH_INSTALL,
        run=torch_has_a_wheel_here,
    )
)
