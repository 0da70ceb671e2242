"""The NVIDIA driver: the kernel module that is loaded, and the user-space library that talks to it.

The two halves are read separately on purpose: after a driver upgrade without a reboot the kernel
still runs the old module while NVML and libcuda are new ("Driver/library version mismatch"), and
only comparing the two names that root cause.

- kernel module: ``/proc/driver/nvidia/version``, else ``/sys/module/nvidia/version``;
- user space: NVML (driver version, newest CUDA it supports), else the banner of ``nvidia-smi``
  (not in quick mode), whose failure text is kept verbatim.
"""

from __future__ import annotations

import platform
import re
from typing import TYPE_CHECKING

from torchrig._core.seams.nvml import NvmlError
from torchrig.doctor.facts import DriverFacts
from torchrig.doctor.probe import nvidia_smi

if TYPE_CHECKING:
    from torchrig.doctor.probe import Host

# "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.173.02  Tue Jun 23 ..." and the open modules'
# "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  565.57.01  Release Build ..."
_PROC_VERSION = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+(?P<version>\d+(?:\.\d+)+)")


def parse_proc_version(text: str) -> str | None:
    """The module version in the text of ``/proc/driver/nvidia/version``."""
    match = _PROC_VERSION.search(text)
    return match.group("version") if match else None


def cuda_from_int(value: int) -> str:
    """NVML and the CUDA driver API encode 12.4 as 12040."""
    return f"{value // 1000}.{value % 1000 // 10}"


def probe(host: Host, quick: bool) -> DriverFacts:
    facts = DriverFacts()
    if platform.system() == "Darwin":
        return facts  # no NVIDIA driver exists for current macOS: nothing to ask, nothing missing
    _kernel_module(host, facts)
    _nvml(host, facts)
    if not quick and facts.userspace is None:
        _nvidia_smi(host, facts)
    return facts


def _kernel_module(host: Host, facts: DriverFacts) -> None:
    text = host.root.read_text("/proc/driver/nvidia/version")
    if text is not None:
        version = parse_proc_version(text)
        if version:
            facts.set("kernel_module", version, "/proc")
        else:
            facts.errors.append(f"/proc/driver/nvidia/version has no module version: {text.strip()[:120]!r}")
    if facts.kernel_module is None:
        version = (host.root.read_text("/sys/module/nvidia/version") or "").strip()
        if version:
            facts.set("kernel_module", version, "/sys")


def _nvml(host: Host, facts: DriverFacts) -> None:
    nvml = host.nvml()
    try:
        nvml.init()
    except NvmlError as exc:
        if exc.code is None:  # torchrig's own environment lacks pynvml: not a fact about the driver
            facts.errors.append(f"NVML not queried: {exc}")
        else:
            facts.set("nvml_error", str(exc), "nvml")
        return
    try:
        try:
            facts.set("userspace", nvml.driver_version(), "nvml")
        except NvmlError as exc:
            facts.errors.append(f"NVML driver version: {exc}")
        try:
            facts.set("cuda_driver_api", cuda_from_int(nvml.cuda_driver_version()), "nvml")
        except NvmlError as exc:
            facts.errors.append(f"NVML CUDA driver version: {exc}")
    finally:
        nvml.shutdown()


def _nvidia_smi(host: Host, facts: DriverFacts) -> None:
    result = nvidia_smi.run(host, [])
    if result.error == "not found":
        return  # no driver installed, or a container started without one: the other facts say which
    output = nvidia_smi.output_of(result)
    banner = nvidia_smi.parse_banner(output)
    if banner is not None:
        facts.set("userspace", banner.driver, "nvidia-smi")
        if banner.cuda:
            facts.set("cuda_driver_api", banner.cuda, "nvidia-smi")
        return
    failure = nvidia_smi.parse_failure(output)
    if failure is not None:
        facts.set("smi_error", failure.message, "nvidia-smi")
        if failure.nvml_error:
            facts.set("nvml_error", failure.nvml_error, "nvidia-smi")
        if failure.nvml_library:
            facts.set("userspace", failure.nvml_library, "nvidia-smi")
        return
    why = result.error or f"exit status {result.returncode}"
    trimmed = " ".join(output.split())[:300]
    message = f"nvidia-smi failed ({why}): {trimmed}" if trimmed else f"nvidia-smi failed ({why})"
    facts.set("smi_error", message, "nvidia-smi")
