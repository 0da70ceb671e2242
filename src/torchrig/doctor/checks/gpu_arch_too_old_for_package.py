"""gpu.arch-too-old-for-package: an installed CUDA extension needs a higher compute capability than a GPU has."""

from __future__ import annotations

import re
import shlex

from torchrig.doctor import queries
from torchrig.doctor.checks import gpu_arch_unsupported
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity
from torchrig.knowledge import extensions

CODE = "gpu.arch-too-old-for-package"
_STATED_MINIMUM = "package.compute-capability-minimum"  # "GPUs with compute capability below 7.0 are not supported"
_PTXAS = "package.ptxas-feature-needs-newer-target"  # "Feature '.bf16' requires .target sm_80 or higher"
_AMPERE_SAID = "package.flash-attn-needs-ampere-said"  # "Flash attention doesn't support GPUs lower than Ampere"
_AMPERE = "8.0"  # Ampere's compute capability (NVIDIA's CUDA GPUs list), the minimum the words state
_PTXAS_NEED = re.compile(r"Feature '(?P<feature>[^']+)' requires \.target sm_(?P<sm>\d{2,3})", re.IGNORECASE)
_NOT_A_PACKAGE = re.compile(
    r"torch|\bCUDA\s+(?:toolkit\s+)?\d+(?:\.\d+)?\b|\btoolkit\b|\bnvcc\b|\bdriver\b", re.IGNORECASE
)


def extensions_run_on_every_gpu(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """Each installed extension's minimum compute capability (knowledge/extensions.toml) must be met by every GPU."""
    gpus = [g for g in queries.gpus(facts) if g.capability]
    cuda = queries.torch_cuda(facts)  # extensions built against torch carry its CUDA; some rows depend on it
    findings = []
    for pkg in facts.companions:
        need = extensions.need_of(pkg.name, pkg.version, cuda=cuda)
        if need is None or need.on_use:  # triton: installed with torch, it matters only under torch.compile
            continue
        low = [g for g in gpus if extensions.cc_below(g.capability or "", need.min_cc)]
        if not low:
            continue
        able = [g for g in gpus if g not in low]
        py = queries.python_command(facts)
        fix: list[str] = []
        if able:
            fix.append(
                f"export CUDA_VISIBLE_DEVICES={shlex.quote(','.join(g.selector for g in able))}   # only the GPUs it supports"
            )
        if (
            need.alternative
            and need.alternative_min_cc
            and not any(extensions.cc_below(g.capability or "", need.alternative_min_cc) for g in low)
        ):
            fix.append(
                shlex.join([py, "-m", "pip", "install", need.alternative])
                + f"   # runs on compute capability {need.alternative_min_cc}+"
            )
        fix.append(shlex.join([py, "-m", "pip", "uninstall", "-y", pkg.name]) + "   # or do without it on this GPU")
        findings.append(
            Finding(
                code=CODE,
                severity=Severity.ERROR,
                title=f"{pkg.name} {pkg.version or ''} needs compute capability {need.min_cc}+, but "
                f"{', '.join(g.label for g in low)} {'has' if len(low) == 1 else 'have'} less",
                detail=f"{need.why}; on an older GPU it fails at import or at the first kernel launch.",
                evidence={
                    "package": f"{pkg.name} {pkg.version or ''}".strip(),
                    "needs": f"compute capability >= {need.min_cc}",
                    "GPUs": ", ".join(g.label for g in gpus),
                    "source": need.source,
                },
                fix=tuple(fix),
            )
        )
    # a minimum stated about torch itself ("PyTorch needs compute capability ...") is torch's build: gpu.arch-unsupported;
    # one about a CUDA release ("CUDA 13 drops GPUs below compute capability 7.5", its release notes' subject) is the
    # toolkit's or the driver's, not a package's
    hits = [h for h in hits_for(facts, CODE) if not (h.id == _STATED_MINIMUM and _NOT_A_PACKAGE.search(h.excerpt))]
    # words about flash-attn's minimum are a finding only beside a GPU the report shows below it
    if not any(extensions.cc_below(g.capability or "", _AMPERE) for g in gpus):
        hits = [h for h in hits if h.id != _AMPERE_SAID]
    if hits and not findings:
        ptxas = next((h for h in hits if h.id == _PTXAS), None)
        findings.append(_from_ptxas(facts, ptxas, hits) if ptxas else _from_log(facts, hits))
    if not findings:
        ccs, evidence = gpu_arch_unsupported.kernels_missing_from_an_extension(facts)
        if ccs:
            findings.append(_extension_without_kernels(facts, ccs, evidence))
    return findings


def _extension_without_kernels(facts: Facts, ccs: list[str], hits: list[SignatureHit]) -> Finding:
    """torch covers every GPU, yet a kernel image was missing: a compiled extension lacks this architecture.

    CUDA loads a kernel only from SASS of the GPU's major with a minor at or below its own, or from PTX it
    can compile (CUDA C++ Programming Guide, "Binary Compatibility"); an extension built with another
    TORCH_CUDA_ARCH_LIST than the GPU needs has neither.
    """
    arch = ";".join(ccs)
    py = queries.python_command(facts)
    subject = f"torch {facts.torch.version}" if facts.torch.version else "This PyTorch build"
    compiled = " ".join(gpu_arch_unsupported.build_archs(facts))
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=f"A compiled CUDA extension has no kernels for compute capability {', '.join(ccs)}",
        detail=f"{subject} itself covers every GPU here (whichever of its CUDA builds this is, where the report does "
        "not say), so the missing kernel image belongs to an extension built for other architectures (a custom op, "
        "or a wheel built on another machine).",
        evidence={**({"torch compiled for": compiled} if compiled else {}), **evidence_of(hits)},
        fix=(
            f"TORCH_CUDA_ARCH_LIST={shlex.quote(arch)} {shlex.quote(py)} -m pip install --no-build-isolation "
            "--no-cache-dir --force-reinstall <the extension>",
        ),
    )


def _from_ptxas(facts: Facts, ptxas: SignatureHit, hits: list[SignatureHit]) -> Finding:
    """ptxas refused a kernel's PTX: an instruction in it needs a newer architecture than the target GPU's.

    Triton (and any JIT that calls ptxas) assembles for the GPU it runs on, so the GPU is below the capability the
    PTX ISA's "Target ISA Notes" give for that instruction; bf16 arithmetic and conversions need sm_80.
    """
    said = _PTXAS_NEED.search(ptxas.excerpt)
    need = f"{said['sm'][:-1]}.{said['sm'][-1]}" if said else None
    feature = said["feature"] if said else None
    known = [g for g in queries.gpus(facts) if g.capability]
    low = [g for g in known if need and extensions.cc_below(g.capability or "", need)]
    if known and need and not low:
        # every GPU has the capability: the kernel was assembled for a lower target than its code needs (an
        # extension built with a TORCH_CUDA_ARCH_LIST below the GPU's), not for this GPU
        arch = ";".join(dict.fromkeys(g.capability or "" for g in known))
        return Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=f"A kernel needs compute capability {need}+ but was built for a lower architecture",
            detail="ptxas refused an instruction of a kernel's PTX for the architecture it was assembled for, which "
            "is below what the code needs; the GPUs here have it, so the build's target list is wrong.",
            evidence={"needs": f"compute capability >= {need}", **evidence_of(hits)},
            fix=(
                f"TORCH_CUDA_ARCH_LIST={shlex.quote(arch)} {shlex.quote(queries.python_command(facts))} -m pip install "
                "--no-build-isolation --no-cache-dir --force-reinstall <the extension>",
            ),
        )
    who = f": {', '.join(g.label for g in low)}" if low else ""
    fix: list[str] = []
    if feature and "bf16" in feature.lower():
        fix.append(
            "Run the model in float16 instead of bfloat16 (the program's dtype option): GPUs below compute "
            "capability 8.0 have no bf16 instructions"
        )
    fix.append(
        "Choose the program's option that does not use this kernel (an attention mode such as PyTorch's sdpa "
        "instead of a Triton/Sage/Flash one), or run on a GPU of that capability"
    )
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=f"A kernel needs compute capability {need or 'newer than this GPU'}+, which this GPU lacks{who}",
        detail="ptxas, which assembles a kernel's PTX for the GPU it will run on (Triton does this at run time), "
        f"refused an instruction{f' ({feature})' if feature else ''} that this architecture does not have: the "
        "package that generated the kernel needs a newer GPU, or another data type or kernel.",
        evidence={**({"needs": f"compute capability >= {need}"} if need else {}), **evidence_of(hits)},
        fix=tuple(fix),
    )


def _from_log(facts: Facts, hits: list[SignatureHit]) -> Finding:
    """A log shows an extension rejecting the GPU ("FlashAttention only supports Ampere GPUs or newer")."""
    cuda = queries.torch_cuda(facts)
    known = [
        (pkg, need)
        for pkg in facts.companions
        if (need := extensions.need_of(pkg.name, pkg.version, cuda=cuda)) and not need.on_use
    ]
    py = queries.python_command(facts)
    fix: list[str] = []
    for pkg, need in known:
        if need.alternative and need.alternative_min_cc:
            fix.append(
                shlex.join([py, "-m", "pip", "install", need.alternative])
                + f"   # if the GPU has compute capability {need.alternative_min_cc}+"
            )
        fix.append(shlex.join([py, "-m", "pip", "uninstall", "-y", pkg.name]) + "   # or do without it on this GPU")
    if not fix:
        fix.append("Run on a GPU the extension supports, or uninstall the extension (see its installation page)")
    what = ", ".join(f"{pkg.name} {pkg.version or ''}".strip() for pkg, _ in known) or "An installed extension"
    needs = {f"{pkg.name} needs": f"compute capability >= {need.min_cc} ({need.source})" for pkg, need in known}
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=f"{what} does not support this GPU's compute capability",
        detail="The extension refused the GPU (when installed or at run time): its kernels need a newer architecture.",
        evidence={**needs, **evidence_of(hits)},
        fix=tuple(fix),
    )


register(
    Check(
        name="gpu-arch-too-old-for-package",
        codes=(CODE,),
        summary="an installed CUDA extension (flash-attn, vllm, bitsandbytes, ...) needs a higher compute capability",
        layer=Layer.BUILD,
        run=extensions_run_on_every_gpu,
    )
)
