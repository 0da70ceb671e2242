"""rocm.gpu-unsupported: the ROCm build of PyTorch has no kernels for the AMD GPU's gfx target.

ROCm builds are compiled for a list of gfx targets; consumer Radeon cards are mostly outside it and
fail at their first kernel ("hipErrorNoBinaryForGpu", "HIP error: invalid device function").
Source: ROCm documentation, "Environment variables" (HSA_OVERRIDE_GFX_VERSION makes the runtime report
another gfx target: an unsupported workaround for cards of a supported family).
"""

from __future__ import annotations

import re

from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

UNSUPPORTED = "rocm.gpu-unsupported"
_GFX = re.compile(r"\bgfx(\d{3,4}[a-z]?)\b")
# The gfx target whose kernels a family of consumer cards can borrow through HSA_OVERRIDE_GFX_VERSION:
# RDNA2 (gfx103x) runs gfx1030 code, RDNA3 (gfx110x) gfx1100 code. Not official: a workaround.
_OVERRIDE = {"103": "10.3.0", "110": "11.0.0"}


def _gfx_targets(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(f"gfx{m}" for t in texts for m in _GFX.findall(t)))


def rocm_build_has_kernels(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """A ROCm build of torch must carry kernels for the AMD GPU's gfx target."""
    hits = hits_for(facts, UNSUPPORTED)
    built = [a for a in facts.torch.arch_list if a.startswith("gfx")]
    seen = _gfx_targets([h.excerpt for h in hits] + [g.name or "" for g in facts.gpus.devices])
    missing = [g for g in seen if built and g not in built]
    if not hits and not missing:
        return []
    evidence: dict[str, object] = {}
    if facts.torch.hip:
        evidence["torch"] = f"{facts.torch.version or '?'} (ROCm {facts.torch.hip} build)"
    if seen:
        evidence["GPU target"] = ", ".join(seen)
    if built:
        evidence["build's targets"] = ", ".join(built)
    evidence.update(evidence_of(hits))
    fix: list[str] = []
    overrides = {_OVERRIDE[g[3:6]] for g in seen if g[3:6] in _OVERRIDE and g not in ("gfx1030", "gfx1100")}
    for value in sorted(overrides):
        fix.append(
            f"export HSA_OVERRIDE_GFX_VERSION={value}   # runs the build's gfx{value.replace('.', '')[:4]} kernels "
            "on this card: a workaround, not supported by AMD"
        )
    fix.append(
        "# the lasting fix: a ROCm build of torch whose targets include this GPU, or a GPU on ROCm's support list"
    )
    return [
        Finding(
            code=UNSUPPORTED,
            severity=Severity.ERROR,
            title="The ROCm build of PyTorch has no kernels for this AMD GPU" + (f" ({seen[0]})" if seen else ""),
            detail=(
                "ROCm builds are compiled for a list of gfx targets; a GPU outside it fails at its first kernel "
                '("invalid device function", "hipErrorNoBinaryForGpu").'
            ),
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="rocm-gpu-unsupported",
        codes=(UNSUPPORTED,),
        summary="the ROCm build of torch has no kernels for the AMD GPU's gfx target",
        layer=Layer.BUILD,
        run=rocm_build_has_kernels,
        explains=("gpu.arch-unsupported",),
    )
)
