"""torch.cpu-only-build: a CPU build of torch on a machine with an NVIDIA GPU."""

from __future__ import annotations

from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "torch.cpu-only-build"


def cuda_build_where_gpu(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """Where there is an NVIDIA GPU, or code asked for CUDA ("Torch not compiled with CUDA enabled"), torch is a CUDA build."""
    hits = hits_for(facts, CODE)
    cpu_here = queries.torch_variant(facts) == "cpu" and not facts.torch.hip and queries.has_nvidia_gpu(facts)
    if not (cpu_here or hits) or (facts.system.os or "").lower() == "darwin":
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
    if not gpu_known:
        # the program asked for CUDA; whether this machine has an NVIDIA GPU, the evidence does not say
        return [
            Finding(
                code=CODE,
                severity=Severity.WARNING,
                title=f"{version} a CPU-only build, and the program asked for CUDA",
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
