"""torch.missing: PyTorch is not installed in the environment doctor runs in."""

from __future__ import annotations

from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "torch.missing"


def torch_is_installed(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """This environment must have torch; the fix installs the build that fits this driver and these GPUs."""
    if facts.torch.installed is not False:
        return []
    python = queries.python_version(facts)
    gpu = queries.has_nvidia_gpu(facts) and (facts.system.os or "").lower() != "darwin"
    build = fixes.choose_build(facts) if gpu else fixes.cpu_build(facts)
    evidence: dict[str, object] = {"python": facts.system.python_executable or python or "unknown"}
    if facts.torch.errors:
        evidence["probe"] = facts.torch.errors[0]
    if gpu:
        evidence["GPUs"] = ", ".join(g.label for g in queries.gpus(facts)) or "an NVIDIA GPU (PCI)"
        if queries.driver_version(facts):
            evidence["driver"] = queries.driver_version(facts)
    if build is None:
        fix: tuple[str, ...] = (
            f"No PyTorch release in torchrig's tables supports Python {python} here; create an environment with "
            "Python 3.10-3.14 (e.g. `uv venv --python 3.13`) and install torch there",
        )
    else:
        fix = fixes.torch_install(facts, build, ctx, companions=False, reinstall=False)
    if any("jupyter kernel" in error.lower() for error in facts.torch.errors):
        # a notebook's kernel is its own interpreter: torch installed in the shell's environment is not in it
        fix = (
            "# a notebook's kernel is its own Python: if torch is installed in another environment, register that one",
            "python -m pip install ipykernel && python -m ipykernel install --user --name torch-env",
            "# then pick the kernel 'torch-env' in the notebook (Kernel > Change kernel), or install torch into the kernel's Python:",
            *fix,
        )
    kind = f"the CUDA {build.cuda} build" if build and build.cuda else "the CPU build"
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title="PyTorch is not installed in this environment",
            detail=f"Nothing here can train until torch is installed; for this machine that is {kind}.",
            evidence=evidence,
            fix=fix,
        )
    ]


register(
    Check(
        name="torch-missing",
        codes=(CODE,),
        summary="torch is not installed in this environment (the fix picks the build for this driver and these GPUs)",
        layer=Layer.TORCH_INSTALL,
        run=torch_is_installed,
    )
)
