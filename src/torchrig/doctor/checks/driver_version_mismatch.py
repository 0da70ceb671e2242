"""driver.version-mismatch: the loaded kernel module and the user-space driver library differ."""

from __future__ import annotations

import re

from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "driver.version-mismatch"
_MESSAGE = "driver/library version mismatch"
_CUDA_803 = "driver.cuda-driver-mismatch-803"  # signatures.toml: CUDA's own word for the same mismatch
# the same 803 where the report names cuda-compat: the compat libcuda is the mismatch (driver.forward-compat-unsupported)
_COMPAT_803 = "driver.compat-libcuda-803"
_DSO = re.compile(r"kernel version ([\d.]+) does not match DSO version ([\d.]+)", re.IGNORECASE)


def kernel_and_library_differ(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """The kernel module and the user-space library must be the same driver version."""
    kernel, library = facts.driver.kernel_module, facts.driver.userspace
    hits = hits_for(facts, CODE)
    if any(hit.id == _COMPAT_803 for hit in facts.signatures):
        hits = [hit for hit in hits if hit.id != _CUDA_803]
    for hit in hits:
        # dmesg: "NVRM: API mismatch: the client has the version 515.48.07, but this kernel module has the version 510.73.05"
        client = re.search(r"client has the version ([\d.]+)", hit.excerpt)
        module = re.search(r"kernel module has the version ([\d.]+)", hit.excerpt)
        # TensorFlow/XLA: "kernel version 515.48.7 does not match DSO version 510.73.5" (signatures.toml)
        dso = _DSO.search(hit.excerpt)
        library = library or (client.group(1).rstrip(".") if client else dso.group(2).rstrip(".") if dso else None)
        kernel = kernel or (module.group(1).rstrip(".") if module else dso.group(1).rstrip(".") if dso else None)
    said = [e for e in (facts.driver.nvml_error, facts.driver.smi_error) if e and _MESSAGE in e.lower()]
    differ = bool(kernel and library and kernel.strip() != library.strip()) and not queries.uses_windows_driver(facts)
    if not (differ or said or hits):
        return []
    evidence: dict[str, object] = {}
    if kernel:
        evidence["kernel module (/proc/driver/nvidia/version)"] = kernel
    if library:
        evidence["user-space library (NVML)"] = library
    for text in said:
        evidence["NVML"] = text
    evidence.update(evidence_of(hits))
    if facts.system.container:
        fix: tuple[str, ...] = (
            "Reboot the host (the driver was upgraded there and the old kernel module is still loaded)",
        )
    else:
        fix = (
            "sudo reboot",
            "# or, with nothing using the GPU (no display server, no CUDA process), reload the module instead:",
            "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia && sudo modprobe nvidia_uvm",
        )
    cuda_says = any(h.id == _CUDA_803 for h in hits) and not said and not (kernel and library)
    title = (
        f"The NVIDIA kernel module ({kernel}) and driver library ({library}) are different versions"
        if kernel and library
        else "CUDA reports a display driver / CUDA driver version mismatch (error 803)"
        if cuda_says
        else "NVML reports a driver/library version mismatch"
    )
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=title,
            detail=(
                "The driver package was upgraded but the old kernel module is still loaded, so NVML and nvidia-smi "
                'fail with "Driver/library version mismatch" and CUDA cannot initialise. Loading the new module '
                "(a reboot) fixes it."
            ),
            evidence=evidence,
            fix=fix,
        )
    ]


register(
    Check(
        name="driver-version-mismatch",
        codes=(CODE,),
        summary="the loaded NVIDIA kernel module and the user-space driver library are different versions",
        layer=Layer.DRIVER,
        run=kernel_and_library_differ,
        explains=("cuda.init-failed", "driver.too-old"),
    )
)
