"""driver.missing: an NVIDIA GPU is on the PCI bus but no NVIDIA driver is loaded."""

from __future__ import annotations

from packaging.version import Version

from torchrig import knowledge
from torchrig.checks import install_commands, machine
from torchrig.checks.registry import Check, CheckContext, Layer, register
from torchrig.checks.signature_hits import evidence_of, hits_for
from torchrig.facts import Facts
from torchrig.findings import Finding, Severity

CODE = "driver.missing"


def driver_not_loaded(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """A GPU on the bus (or a log saying nvidia-smi cannot reach the driver) and no driver version anywhere."""
    hits = hits_for(facts, CODE)
    bus = machine.nvidia_gpus_on_bus(facts)
    if machine.uses_windows_driver(facts) or not (bus or hits):
        return []
    if facts.driver.kernel_module or facts.driver.userspace or facts.gpus.devices:
        return []
    cuda = machine.torch_cuda(facts)
    branch = install_commands.driver_branch(cuda) if cuda else install_commands.RECOMMENDED_BRANCH
    minimum = knowledge.min_driver(cuda) if cuda else Version(str(branch))
    evidence: dict[str, object] = {}
    if bus:
        evidence["PCI"] = ", ".join(f"{d.address} [{d.vendor}:{d.device}]" for d in bus)
    evidence["kernel module"] = "not loaded (/proc/driver/nvidia/version absent)"
    if facts.driver.nvml_error:
        evidence["NVML"] = facts.driver.nvml_error
    evidence.update(evidence_of(hits))
    fix = list(install_commands.driver_install(facts, minimum or Version(str(branch)), branch))
    if machine.is_ubuntu(facts) and facts.system.kernel:
        # A driver that was installed but not built for the running kernel looks the same.
        fix.insert(
            0,
            f"# if a driver is already installed, rebuild it for kernel {facts.system.kernel}: "
            "sudo dkms autoinstall && sudo reboot",
        )
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title="An NVIDIA GPU is present but no NVIDIA driver is loaded",
            detail=(
                "Without the kernel driver nothing can use the GPU: nvidia-smi fails and torch.cuda.is_available() "
                "is False. After a kernel update the installed driver may not have been rebuilt (DKMS)."
            ),
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="driver-missing",
        codes=(CODE,),
        summary="an NVIDIA GPU on the PCI bus with no NVIDIA kernel driver loaded",
        layer=Layer.ACCESS,
        run=driver_not_loaded,
        explains=("cuda.init-failed", "driver.too-old"),
    )
)
