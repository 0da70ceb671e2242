"""gpu.arch-unsupported: torch's build has no kernels (SASS or PTX) for a GPU's compute capability."""

from __future__ import annotations

import re
import shlex

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity
from torchrig.knowledge import gpu_models

CODE = "gpu.arch-unsupported"
PACKAGE_KERNEL = "package.no-kernel-image"  # signatures.toml: the same error in a library's own words
NVRTC = "gpu.nvrtc-unknown-arch"  # torch's runtime compiler (its CUDA release's NVRTC) rejects the GPU's arch
_JETSON_DOCS = "https://docs.nvidia.com/deeplearning/frameworks/install-pytorch-jetson-platform/index.html"
STATED = "gpu.stated-unsupported-by-torch"  # the reporter's words that torch does not support the GPU
# a claim counts only about a GPU: the sentence names one (a model, a generation, "my GPU", a capability)
_ABOUT_A_GPU = re.compile(
    r"\b(?:gpus?|cards?|graphics|series|rtx|gtx|geforce|tesla|quadro|titan)\b|compute capabilit|\b\d{4} ?ti\b",
    re.IGNORECASE,
)
_SHOWN_BUILDS = 6  # builds named in the evidence; the rest counted
TORCH_RANGE_WARNING = "gpu.too-old-for-torch"
# torch 1.x-2.7's _check_cubins (torch/cuda/__init__.py): "NVIDIA GeForce RTX 3060 with CUDA capability sm_86 is not
# compatible with the current PyTorch installation", printed where the running build's get_arch_list() has no SASS of
# the GPU's major: torch's own judgement of its own build, whatever PTX the list carries (an old compute_37 does not
# bring the CUDA libraries of a toolkit that knew the GPU)
TORCH_CUBIN_WARNING = "gpu.capability-not-compatible"
# torch 2.8-2.10's _check_capability (torch/cuda/__init__.py) warns "Found GPU0 NVIDIA GB10 which is of cuda
# capability 12.1. Minimum and Maximum cuda capability supported by this version of PyTorch is (8.0) - (12.0)"
# for any GPU outside the lowest and highest architecture of torch.cuda.get_arch_list(): it compares numbers,
# not NVIDIA's binary compatibility rule (a cubin for X.y runs on X.z, z >= y), so it also fires for a GPU that
# the highest architecture's SASS runs on (pytorch#164708, #172629; the check was rewritten in #166185, 2.11).
_TORCH_RANGE = re.compile(
    r"cuda capability (?P<cc>\d+\.\d+)\.?\s+Minimum and Maximum cuda capability supported by this version of "
    r"PyTorch is\s*\((?P<low>\d+\.\d+)\)\s*-\s*\((?P<high>\d+\.\d+)\)",
    re.IGNORECASE,
)


def build_archs(facts: Facts) -> list[str]:
    """The architectures torch reports, else the ones torchrig's tables list for its release and variant."""
    if facts.torch.hip:
        return []  # ROCm builds list gfx targets; NVIDIA capabilities do not apply
    if facts.torch.arch_list:
        return [a for a in facts.torch.arch_list if re.fullmatch(r"(sm|compute)_\d+[af]?", a)]
    variant = queries.torch_variant(facts)
    if not facts.torch.version or not variant or not variant.startswith("cu"):
        return []
    return knowledge.arch_list(facts.torch.version, variant, knowledge.wheel_platform(facts.system.machine)) or []


def _coverage(facts: Facts, cc: str) -> knowledge.Coverage | None:
    """Whether torch's build runs on capability ``cc``: by its own arch list, else knowledge's tables and toolkit rule."""
    if facts.torch.hip:
        return None
    if facts.torch.arch_list:
        archs = build_archs(facts)
        return knowledge.Coverage(knowledge.build_covers(archs, cc), "torch.cuda.get_arch_list()", tuple(archs))
    variant = queries.torch_variant(facts)
    if variant is None and _a_pytorch_wheel(facts):
        # the build is not shown ("torch==2.1.2", "PyTorch 2.1.2"): where no CUDA variant of the release runs on the
        # GPU, none that could be installed does (PyTorch's release matrix; knowledge.no_variant_covers)
        return knowledge.no_variant_covers(
            facts.torch.version or "", cc, knowledge.wheel_platform(facts.system.machine)
        )
    if not facts.torch.version or not variant or not variant.startswith("cu"):
        return None
    return knowledge.coverage(facts.torch.version, variant, cc, knowledge.wheel_platform(facts.system.machine))


def _a_pytorch_wheel(facts: Facts) -> bool:
    """torch is a plain release ("2.1.2") that only PyTorch's own wheels could be: not a Jetson's (NVIDIA builds those
    per JetPack release), not conda's (conda-forge and Anaconda choose their own arch lists, with PTX), not a source or
    vendor build ("2.6.0a0+ecf3bae", "2.6.0-rc1"), and with no CUDA version shown that would name its variant."""
    version = facts.torch.version or ""
    jetson = facts.system.jetson or any(
        (m := gpu_models.model_of(g.name)) is not None and m.segment == "jetson" for g in queries.gpus(facts)
    )
    conda = (facts.torch.installer or "").lower() == "conda"
    return bool(re.fullmatch(r"\d+\.\d+\.\d+", version)) and not facts.torch.cuda and not jetson and not conda


def _capabilities_in(excerpts: list[str]) -> list[str]:
    """ "... RTX 5090 with CUDA capability sm_120 is not compatible" / "(CC) 12.0" -> ["12.0"]."""
    found = []
    for text in excerpts:
        for digits in re.findall(r"capability sm_(\d{2,3})", text):
            found.append(f"{digits[:-1]}.{digits[-1]}")
        found += re.findall(r"(?:compute capability \(CC\)|cuda capability) (\d+\.\d)", text, flags=re.IGNORECASE)
    return list(dict.fromkeys(found))


def _range_warning_is_wrong(hit: SignatureHit) -> bool:
    """torch's min-max warning about a GPU that the build's lowest or highest architecture runs on after all."""
    warned = _TORCH_RANGE.search(hit.excerpt) if hit.id == TORCH_RANGE_WARNING else None
    if warned is None:
        return False
    built = [f"sm_{warned[end].replace('.', '')}" for end in ("low", "high")]  # the build has code for both ends
    return knowledge.build_covers(built, warned["cc"])


def _nvrtc_knows(cuda: str | None, ccs: list[str]) -> bool:
    """Whether CUDA ``cuda``'s NVRTC compiles for every capability in ``ccs`` (its nvcc's own target list)."""
    tk = knowledge.toolkit(cuda) if cuda else None
    return tk is not None and all(f"sm_{cc.replace('.', '')}" in tk.sm for cc in ccs)


def _hits(facts: Facts) -> list[SignatureHit]:
    """The report's evidence that torch's build lacks kernels, less what a rule refutes or a library claims."""
    hits = [hit for hit in hits_for(facts, CODE) if hit.id != STATED and not _range_warning_is_wrong(hit)]
    if any(hit.id == PACKAGE_KERNEL for hit in facts.signatures):
        # the missing kernel image is named as a library's own (gpu.arch-too-old-for-package says which);
        # torch's build is in question only where the facts show it lacks the GPU's architecture
        hits = [hit for hit in hits if hit.id not in ("gpu.no-kernel-image", "gpu.no-kernel-image-enum")]
    return hits


def _capabilities(facts: Facts, hits: list[SignatureHit]) -> list[str]:
    return list(dict.fromkeys(queries.capabilities(facts) + _capabilities_in([h.excerpt for h in hits])))


def torch_covers(facts: Facts, cc: str) -> bool | None:
    """Whether torch's own build runs on ``cc``: by its arch list, else its variant's row in the tables, else,
    where the report does not show the variant, by every CUDA variant of its release. None: cannot tell."""
    cov = _coverage(facts, cc)
    if cov is not None and cov.covered is not None:
        return cov.covered
    if cov is None and facts.torch.version and not facts.torch.hip and queries.torch_variant(facts) is None:
        return knowledge.every_variant_covers(facts.torch.version, cc, knowledge.wheel_platform(facts.system.machine))
    return None


def kernels_missing_from_an_extension(facts: Facts) -> tuple[list[str], list[SignatureHit]]:
    """A kernel image was missing, yet torch's own build covers every capability here: the capabilities and
    the evidence, for gpu.arch-too-old-for-package to blame a compiled extension; ([], []) otherwise."""
    hits = _hits(facts)
    # torch's own NVRTC, or torch's own capability warning (_check_capability compares the GPU with the running
    # build's get_arch_list(), so it speaks for this build where the tables speak only for PyPI's variants):
    # not an extension, whatever the list says
    if not hits or any(hit.id in (NVRTC, TORCH_RANGE_WARNING, TORCH_CUBIN_WARNING) for hit in hits):
        return [], []
    ccs = _capabilities(facts, hits)
    if ccs and all(torch_covers(facts, cc) for cc in ccs):
        return ccs, hits
    return [], []


def build_has_kernels_for_every_gpu(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """Every GPU's compute capability must be covered by the build's arch list (SASS of the same major, or PTX)."""
    hits = _hits(facts)
    verdicts = {g: _coverage(facts, g.capability) for g in queries.gpus(facts) if g.capability}
    uncovered = [g for g, cov in verdicts.items() if cov is not None and cov.covered is False]
    doubtful = [g for g, cov in verdicts.items() if cov is not None and cov.covered is None and cov.doubtful]
    if not uncovered and not doubtful and not hits:
        return _as_the_report_says(facts, ctx)
    if kernels_missing_from_an_extension(facts)[0]:
        return []  # torch covers every GPU: the missing image is an extension's (gpu.arch-too-old-for-package)
    archs = build_archs(facts)
    ccs = _capabilities(facts, hits)
    nvrtc = any(hit.id == NVRTC for hit in hits)
    certain = bool(uncovered or hits)
    evidence: dict[str, object] = {}
    if facts.torch.version:
        evidence["torch"] = facts.torch.version
    if archs:
        evidence["compiled for"] = " ".join(archs)
    if uncovered:
        evidence["GPUs without kernels"] = ", ".join(g.label for g in uncovered)
    for gpu in [*([] if archs else uncovered), *doubtful]:  # where no list settles it, the tables' reasoning
        cov = verdicts[gpu]
        if cov is not None:
            evidence[f"GPU{gpu.index}"] = cov.why
    for smoke in facts.torch.smoke:
        if smoke.error and "kernel image" in smoke.error:
            evidence[f"GPU{smoke.device} smoke test"] = smoke.error.strip()
    evidence.update(evidence_of(hits))
    fix: list[str] = []
    if facts.system.jetson:
        fix.append(f"Install NVIDIA's JetPack build of PyTorch for this Jetson: {_JETSON_DOCS}")
    elif ccs:
        build = fixes.choose_build(facts, ccs=ccs)
        if nvrtc and build is not None and not _nvrtc_knows(build.cuda, ccs):
            build = fixes.choose_build(facts, ccs=ccs, newest=True)  # the installed release's CUDA is too old
        if build is None and queries.driver_version(facts):
            build = fixes.choose_build(facts, driver="", ccs=ccs)  # also the builds that need a newer driver
            if build is not None and build.cuda:
                need = knowledge.min_driver(build.cuda, windows=queries.uses_windows_driver(facts))
                fix.append(f"# this build needs driver {need} or newer (see driver.too-old)")
        if build is not None:
            fix += fixes.torch_install(facts, build, ctx)
        else:
            arch = ";".join(ccs)
            fix.append(
                f"No published PyTorch build carries kernels for compute capability {', '.join(ccs)}; "
                f'build from source with TORCH_CUDA_ARCH_LIST="{arch}"'
            )
    else:
        fix.append(
            "Install the PyTorch CUDA variant whose torch.cuda.get_arch_list() covers this GPU's sm_XY "
            "(run torchrig doctor on that machine to get the exact command)"
        )
    if not certain:
        names = ", ".join(g.label for g in doubtful)
        return [
            Finding(
                code=CODE,
                severity=Severity.WARNING,
                title=f"{_subject(facts)} probably has no kernels for {names}",
                detail="torchrig's tables do not list this build's architectures with certainty; what they and its "
                "CUDA toolkit say leaves only PTX, which it may not ship. If CUDA operations fail with "
                '"no kernel image is available for execution on the device", this is why.',
                evidence=evidence,
                fix=tuple(fix),
            )
        ]
    names = (
        ", ".join(g.label for g in uncovered)
        if uncovered
        else (f"compute capability {', '.join(ccs)}" if ccs else "this GPU")
    )
    if nvrtc and not uncovered:
        cuda = queries.torch_cuda(facts)
        return [
            Finding(
                code=CODE,
                severity=Severity.ERROR,
                title=f"{_subject(facts)}'s runtime compiler (NVRTC{f' of CUDA {cuda}' if cuda else ''}) does not know {names}",
                detail="torch compiles some kernels while it runs (fused and TorchScript kernels) with the NVRTC of the "
                "CUDA release it was built with; a release older than the GPU's architecture rejects it "
                '("invalid value for --gpu-architecture"). A build made with a CUDA that knows the GPU fixes it.',
                evidence=evidence,
                fix=tuple(fix),
            )
        ]
    own_word = any(hit.id == TORCH_CUBIN_WARNING for hit in hits) and any(a.startswith("compute_") for a in archs)
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=f"{_subject(facts)} has no kernels for {names}",
            detail="The build carries no machine code (SASS) of this GPU's architecture, and torch itself says the build is "
            "not compatible with it (the build's PTX is for an older architecture), so CUDA operations fail."
            if own_word
            else "The build carries no machine code (SASS) for this GPU's architecture and no PTX it could compile, "
            'so CUDA operations fail with "no kernel image is available for execution on the device".',
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


def _as_the_report_says(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """The reporter says torch does not support the GPU, and the tables agree that recent builds lack it.

    Words are no printed arch list, so this is a warning, and only where the facts allow it: a GPU of known compute
    capability for which releases of the last two years published CUDA builds without kernels
    (``knowledge.recent_builds_without``: Maxwell, Pascal and Volta on CUDA 12.8+, Blackwell before cu128), and no
    torch build shown that covers it.
    """
    claims = [h for h in facts.signatures if h.id == STATED and _ABOUT_A_GPU.search(h.excerpt)]
    if not claims:
        return []
    lacking = {
        g: builds
        for g in queries.gpus(facts)
        if g.capability and torch_covers(facts, g.capability) is not True
        if (builds := knowledge.recent_builds_without(g.capability))
    }
    if not lacking:
        return []
    ccs = list(dict.fromkeys(g.capability or "" for g in lacking))
    evidence: dict[str, object] = {}
    for gpu, builds in lacking.items():
        more = f" and {len(builds) - _SHOWN_BUILDS} more" if len(builds) > _SHOWN_BUILDS else ""
        evidence[f"builds without kernels for {gpu.capability}"] = ", ".join(builds[:_SHOWN_BUILDS]) + more
    evidence.update(evidence_of(claims))
    fix: list[str] = []
    if facts.system.jetson:
        fix.append(f"Install NVIDIA's JetPack build of PyTorch for this Jetson: {_JETSON_DOCS}")
    else:
        build = fixes.choose_build(facts, ccs=ccs) or fixes.choose_build(facts, driver="", ccs=ccs)
        probe = "import torch; print(torch.__version__, torch.cuda.get_arch_list())"
        fix.append(f"{shlex.join([queries.python_command(facts), '-c', probe])}   # which build runs")
        if build is not None:
            fix += fixes.torch_install(facts, build, ctx)
    names = ", ".join(g.label for g in lacking)
    return [
        Finding(
            code=CODE,
            severity=Severity.WARNING,
            title=f"The report says PyTorch does not support {names}; recent PyTorch builds without its kernels agree",
            detail="The report does not show which torch build runs, but recent releases publish CUDA builds with no "
            "kernels (SASS or PTX) for this compute capability, and an installer of that time may well have put one "
            'there; CUDA operations then fail with "no kernel image is available for execution on the device". '
            "torch.cuda.get_arch_list() on that machine settles it.",
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


def _subject(facts: Facts) -> str:
    return f"torch {facts.torch.version}" if facts.torch.version else "This PyTorch build"


register(
    Check(
        name="gpu-arch-unsupported",
        codes=(CODE,),
        summary="a GPU's compute capability is not covered by the torch build's arch list (sm_XY / PTX)",
        layer=Layer.BUILD,
        run=build_has_kernels_for_every_gpu,
    )
)
