"""rocm.gpu-unsupported: the ROCm build of PyTorch has no kernels for the AMD GPU's gfx target.

ROCm builds are compiled for a list of gfx targets; consumer Radeon cards are mostly outside it and
fail at their first kernel ("hipErrorNoBinaryForGpu", "HIP error: invalid device function").
Source: ROCm documentation, "Environment variables" (HSA_OVERRIDE_GFX_VERSION makes the runtime report
another gfx target: an unsupported workaround for cards of a supported family). Where torch did not print
its targets, the list PyTorch's ROCm wheels were built for (PYTORCH_ROCM_ARCH in the release's build
scripts, knowledge/torch_builds.toml [[rocm_arch]]) stands in for it.
"""

from __future__ import annotations

import re

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity

UNSUPPORTED = "rocm.gpu-unsupported"
ROCBLAS = "rocm.rocblas-no-tensile-library"
HIP_INIT = "rocm.hip-init-failed"
# torch's ROCm wheels carry their own rocBLAS, which finds its Tensile folder next to itself
# (torch/lib/rocblas/library): a file missing there is a target the wheel was not built for.
_TORCH_ROCBLAS = re.compile(r"[/\\](?:site|dist)-packages[/\\]torch[/\\]lib[/\\]rocblas[/\\]library[/\\]")
_READ = re.compile(r"Cannot read (?P<path>\S+)")  # rocBLAS's "Cannot read <folder>/TensileLibrary.dat: <errno>"
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
    listed_by = "torch.cuda.get_arch_list()" if built else ""
    variant = queries.torch_variant(facts)  # "rocm5.7" from the "+rocm5.7" tag
    if not built and facts.torch.version and variant and variant.startswith("rocm"):
        # the wheel's PYTORCH_ROCM_ARCH, from the build scripts of its release (knowledge/torch_builds.toml)
        built = knowledge.rocm_arch_list(facts.torch.version, variant) or []
        listed_by = f"PYTORCH_ROCM_ARCH of PyTorch's {variant} wheels" if built else ""
    seen = _gfx_targets([h.excerpt for h in hits] + [g.name or "" for g in facts.gpus.devices])
    missing = [g for g in seen if built and g not in built]
    if not hits and not missing:
        return []
    # Certain: the HIP runtime or torch's own rocBLAS says it has no code for the GPU, or the build's list lacks
    # it. Only probable: HIP could not start at all (the GPU unsupported by this ROCm release, or the driver not
    # serving it: ROCm/ROCm#1770, a GPU no driver claimed), or a system rocBLAS missed its Tensile file (an
    # unsupported target, or a folder it should not have looked in: rocBLAS#1300, LD_LIBRARY_PATH).
    certain = bool(missing) or any(_is_certain(hit) for hit in hits)
    evidence: dict[str, object] = {}
    rocm = facts.torch.hip or (variant.removeprefix("rocm") if variant and variant.startswith("rocm") else None)
    if rocm:
        evidence["torch"] = f"{facts.torch.version or '?'} (ROCm {rocm} build)"
    if seen:
        evidence["GPU target"] = ", ".join(seen)
    if built:
        evidence["build's targets"] = ", ".join(built) + (f" ({listed_by})" if listed_by else "")
    evidence.update(evidence_of(hits))
    fix: list[str] = []
    overrides = {_OVERRIDE[g[3:6]] for g in seen if g[3:6] in _OVERRIDE and g not in ("gfx1030", "gfx1100")}
    shown = facts.system.env.get("HSA_OVERRIDE_GFX_VERSION")
    if shown:
        evidence["HSA_OVERRIDE_GFX_VERSION"] = (
            f"{shown}, set in the report: it takes effect only where the program's own environment has it "
            "(exported in the shell that starts it; `env | grep HSA_` lists it)"
        )
    for value in sorted(overrides):
        fix.append(
            f"export HSA_OVERRIDE_GFX_VERSION={value}   # runs the build's gfx{value.replace('.', '')[:4]} kernels "
            "on this card: a workaround, not supported by AMD"
        )
    if overrides:
        # the HSA runtime reads the process environment (ROCm docs, "Environment variables"); a shell variable
        # that is not exported, or fish's `set -U` without -x, stays in the shell
        fix.append("# export it: a shell variable not exported, or fish's `set -U` without -x, does not reach Python")
    fix.append(
        "# the lasting fix: a ROCm build of torch whose targets include this GPU, or a GPU on ROCm's support list"
    )
    if not certain:
        return [_probable(evidence, fix, hits)]
    # The build's list lacks the GPU, but the report shows the override that borrows a listed target of its family,
    # and no failure: whether the override reached the program is not shown, so it is a warning, not an error.
    bridged = (
        bool(shown and missing)
        and not any(_is_certain(hit) for hit in hits)
        and all(_OVERRIDE.get(g[3:6]) == shown for g in missing)
        and f"gfx{(shown or '').replace('.', '')[:4]}" in built
    )
    if bridged:
        return [
            Finding(
                code=UNSUPPORTED,
                severity=Severity.WARNING,
                title=f"The ROCm build of PyTorch has no kernels for this AMD GPU ({missing[0]}): it runs only "
                f"through HSA_OVERRIDE_GFX_VERSION={shown}, which the report shows set",
                detail="The override makes the runtime report a target the build has, but only in a process whose "
                "environment holds it; where it is not exported, the GPU's first kernel fails.",
                evidence=evidence,
                fix=tuple(fix),
            )
        ]
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


def _is_certain(hit: SignatureHit) -> bool:
    if hit.id == HIP_INIT:
        return False
    if hit.id != ROCBLAS:
        return True
    # the folder rocBLAS read is the path its message names, not another path on the lines the excerpt spans
    read = _READ.search(hit.excerpt)
    return bool(read and _TORCH_ROCBLAS.search(read.group("path")))


def _probable(evidence: dict[str, object], fix: list[str], hits: list[SignatureHit]) -> Finding:
    if any(hit.id == HIP_INIT for hit in hits):
        title = "The HIP runtime could not start on this AMD GPU: probably a GPU this ROCm release does not support"
        detail = (
            "HIP answers hipErrorInvalidDevice (101) from hipGetDeviceCount when its runtime failed to initialise: "
            "the ROCm release in use does not support the GPU, or the amdgpu kernel driver does not serve it to this "
            "process. `rocminfo` tells which: a GPU agent listed with its gfx target means the GPU is reachable."
        )
        fix = ["rocminfo | grep -E 'Name: +gfx|Marketing Name'   # is the GPU listed, and which gfx target?", *fix]
    else:
        title = "rocBLAS has no kernels for this AMD GPU in the folder it read: probably an unsupported gfx target"
        detail = (
            "rocBLAS found no TensileLibrary file for the GPU's gfx target in its library folder: that rocBLAS was "
            "not built for this GPU, or it looked in the wrong folder (ROCBLAS_TENSILE_LIBPATH, LD_LIBRARY_PATH)."
        )
    return Finding(
        code=UNSUPPORTED, severity=Severity.WARNING, title=title, detail=detail, evidence=evidence, fix=tuple(fix)
    )


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
