"""torch.cpu-only-build: a CPU build of torch on a machine with an NVIDIA GPU."""

from __future__ import annotations

from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "torch.cpu-only-build"
_ANSWERED_FALSE = "torch.cuda-available-false"  # signatures.toml: the reporter's own is_available() answer
_LOAD_UNAVAILABLE = "torch.load-cuda-unavailable"  # torch.load saying the same: is_available() is False

_SAID = "torch.cpu-build-said"  # signatures.toml: the reporter's words that the torch installed is a CPU build


def cuda_build_where_gpu(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """Where there is an NVIDIA GPU, or code asked for CUDA ("Torch not compiled with CUDA enabled"), torch is a CUDA build."""
    hits = hits_for(facts, CODE)
    cpu_build = queries.torch_variant(facts) == "cpu" and not facts.torch.hip
    # "is_available() answered False" asks for CUDA, but is evidence of a CPU build only where the build is one
    hits = [hit for hit in hits if hit.id not in (_ANSWERED_FALSE, _LOAD_UNAVAILABLE) or cpu_build]
    cpu_here = cpu_build and queries.has_nvidia_gpu(facts)
    # conda's `cpuonly` metapackage pins pytorch-mutex to its CPU variant: while it is installed, conda
    # resolves every pytorch in this environment to a CPU build (pytorch channel's install instructions)
    pinned = cpu_build and facts.companion("cpuonly") is not None
    if not (cpu_here or hits or pinned) or (facts.system.os or "").lower() == "darwin":
        return []
    build = fixes.choose_build(facts)
    gpu_known = queries.has_nvidia_gpu(facts)
    gpus = ", ".join(g.label for g in queries.gpus(facts)) or (
        "an NVIDIA GPU on the PCI bus" if queries.nvidia_gpus_on_bus(facts) else "a GPU"
    )
    evidence: dict[str, object] = {"torch": facts.torch.version, "torch.version.cuda": facts.torch.cuda}
    if gpu_known:
        evidence["GPUs"] = gpus
    if queries.driver_version(facts):
        evidence["driver"] = queries.driver_version(facts)
    evidence.update(evidence_of(hits))
    if build is None:
        fix: tuple[str, ...] = ("No published CUDA build fits this driver and these GPUs; see the other findings",)
    else:
        fix = fixes.torch_install(facts, build, ctx)
    version = f"torch {facts.torch.version} is" if facts.torch.version else "torch is"
    if not gpu_known and pinned and not hits:
        return [
            Finding(
                code=CODE,
                severity=Severity.WARNING,
                title=f"{version} a CPU-only build, and this conda environment is pinned to CPU builds (cpuonly)",
                detail="conda's cpuonly package (often pulled in by another package's dependencies) selects the "
                "CPU variant of pytorch, so conda keeps resolving CPU builds even when a CUDA toolkit is asked for. "
                "The report does not show whether this machine has an NVIDIA GPU: with one, remove cpuonly and "
                "install a CUDA build; without one, the CPU build is what it needs.",
                evidence={**evidence, "conda": "cpuonly is installed (pytorch-mutex=*=cpu)"},
                fix=("# with an NVIDIA GPU:", "conda remove -y cpuonly", *fix),
            )
        ]
    if not gpu_known:
        # the program asked for CUDA; whether this machine has an NVIDIA GPU, the evidence does not say
        return [
            Finding(
                code=CODE,
                severity=Severity.WARNING,
                title=f"{version} a CPU-only build, and the program asked for CUDA"
                if not all(hit.id == _SAID for hit in hits) or not hits
                else "the report says torch is a CPU-only build, where CUDA is wanted",
                detail='A CPU build has no CUDA ("Torch not compiled with CUDA enabled"). The report does not show '
                "whether this machine has an NVIDIA GPU: with one, install a CUDA build; without one, run the "
                'program on the CPU (device="cpu").',
                evidence=evidence,
                fix=("# with an NVIDIA GPU:", *fix, "# without one: make the program use device='cpu'"),
            )
        ]
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=f"{version} a CPU-only build, but this machine has {gpus}",
            detail="A CPU build never uses the GPU: torch.cuda.is_available() is False. "
            + (f"The build for this driver and GPU is CUDA {build.cuda} ({build.variant})." if build else ""),
            evidence=evidence,
            fix=fix,
        )
    ]


register(
    Check(
        name="torch-cpu-only-build",
        codes=(CODE,),
        summary="torch is a CPU-only build on a machine with an NVIDIA GPU",
        layer=Layer.TORCH_INSTALL,
        run=cuda_build_where_gpu,
        explains=("cuda.init-failed",),
    )
)
