"""env.numpy-abi-mismatch: NumPy 2 under a module (torch, or an extension) built against NumPy 1."""

from __future__ import annotations

import re
import shlex

from packaging.version import Version

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "env.numpy-abi-mismatch"
# torch wheels are built against NumPy 2 from 2.3.0 on, which also runs under NumPy 1 (pytorch#107302:
# "Validated pytorch 2.3.0 ... works for numpy==2.0.0rc1 and numpy==1.26.4"); older wheels were built
# against NumPy 1 and cannot run under NumPy 2. torch 2.4.0's Windows wheels were the exception that
# proves the rule: built against NumPy 1 by mistake (pytorch#131668), fixed in 2.4.1.
FIRST_NUMPY2_TORCH = Version("2.3")
_SITE = re.compile(r"site-packages[/\\]([A-Za-z0-9_]+)[/\\]")


def _torch_needs_numpy1(facts: Facts) -> bool | None:
    """Whether the installed torch was built against NumPy 1 (None when the facts do not say)."""
    v = knowledge.parse_version(facts.torch.version)
    if v is None:
        return None
    if (facts.system.os or "").lower() == "windows" and v.base_version == "2.4.0":
        return True
    return Version(v.base_version) < FIRST_NUMPY2_TORCH


def _culprits(texts: list[str]) -> list[str]:
    """The packages a NumPy traceback runs through, other than numpy and torch (the likely old extension)."""
    found = [m for t in texts for m in _SITE.findall(t)]
    return [name for name in dict.fromkeys(found) if name.lower() not in ("numpy", "torch")]


def numpy_matches_its_builds(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """NumPy 2 may only be installed when every compiled module that uses it was built against NumPy 2."""
    hits = hits_for(facts, CODE)
    numpy = facts.companion("numpy")
    numpy_v = knowledge.parse_version(numpy.version if numpy else None)
    numpy2 = numpy_v is not None and numpy_v.major >= 2
    old_torch = _torch_needs_numpy1(facts)
    if not hits and not (numpy2 and old_torch):
        return []
    evidence: dict[str, object] = {}
    if numpy_v is not None:
        evidence["numpy"] = str(numpy_v)
    if facts.torch.version:
        evidence["torch"] = facts.torch.version + (
            " (built against NumPy 1)" if old_torch else " (built against NumPy 2; runs with either)"
        )
    evidence.update(evidence_of(hits))
    others = _culprits([h.excerpt for h in hits] + [facts.torch.import_error or ""])
    py = queries.python_command(facts)
    fix = [shlex.join([py, "-m", "pip", "install", "numpy<2"]) + "   # the quickest way back"]
    if old_torch:
        fix.append(
            f"# or keep NumPy 2 and upgrade torch to {FIRST_NUMPY2_TORCH} or newer (with its torchvision/torchaudio)"
        )
    elif others:
        fix.append(f"# or keep NumPy 2 and upgrade what was built against NumPy 1: {', '.join(others)}")
    else:
        fix.append("# or keep NumPy 2 and upgrade the module the traceback names as compiled against NumPy 1.x")
    who = "torch" if old_torch else (others[0] if others else "a compiled module")
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=f"NumPy 2 is installed, but {who} was built against NumPy 1",
            detail=(
                'A module compiled against NumPy 1.x cannot run under NumPy 2 ("_ARRAY_API not found", "numpy.core.'
                'multiarray failed to import"); import or tensor<->array conversion fails. Either pin NumPy below 2 '
                "or upgrade the module to a build made against NumPy 2."
            ),
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="env-numpy-abi-mismatch",
        codes=(CODE,),
        summary="NumPy 2 under torch < 2.3 (or another extension) built against NumPy 1",
        layer=Layer.TORCH_INSTALL,
        run=numpy_matches_its_builds,
        explains=("torch.import-failed",),
    )
)
