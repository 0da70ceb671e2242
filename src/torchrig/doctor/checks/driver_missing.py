"""driver.missing: an NVIDIA GPU is on the PCI bus but no NVIDIA driver is loaded."""

from __future__ import annotations

from packaging.version import Version

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "driver.missing"
_NO_LIBCUDA = "driver.libcuda-not-found"  # the loader's "libcuda.so: cannot open shared object file"
# torch's "Found no NVIDIA driver on your system" (torch/cuda/__init__.py, _check_driver) is printed wherever libcuda is
# absent: on a machine with an NVIDIA GPU and no driver, and on every machine without an NVIDIA GPU (a laptop, a VPS,
# a Mac). Alone it cannot tell the two apart; nvidia-smi's failures can (nvidia-smi comes with a driver someone installed).
_TORCH_NO_DRIVER = "driver.torch-found-no-driver"
# signatures.toml: a shell on the machine answering that there is no nvidia-smi (it comes with the driver); alone it does
# not tell a machine without a driver from one without an NVIDIA GPU either
_SMI_NOT_INSTALLED = "driver.nvidia-smi-not-installed"
_WHO_FOUND_NONE = "torch found no NVIDIA driver"
_SMI_FOUND_NONE = "nvidia-smi is not installed (it comes with the driver)"
# signatures.toml: a container given the GPU's `utility` capability (nvidia-smi works) but not `compute` (libcuda)
NO_COMPUTE = "driver.container-without-compute-capability"


def driver_not_loaded(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """A GPU on the bus (or a log saying nvidia-smi cannot reach the driver) and no driver version anywhere."""
    hits = hits_for(facts, CODE)
    no_compute = [hit for hit in hits if hit.id == NO_COMPUTE]
    if no_compute:
        return [_container_without_compute(facts, no_compute)]
    bus = queries.nvidia_gpus_on_bus(facts)
    libcuda = [hit for hit in hits if hit.id == _NO_LIBCUDA]
    if facts.system.wsl:
        return _wsl_gpu_unreachable(facts) or ([_wsl_libcuda_path(facts, libcuda)] if libcuda else [])
    if queries.uses_windows_driver(facts) or not (bus or hits):
        return []
    if facts.driver.kernel_module or facts.driver.userspace or queries.gpus_seen(facts):
        return []
    if libcuda and len(libcuda) == len(hits) and not bus and facts.origin == "report":
        return [_libcuda_not_loadable(facts, libcuda)]
    if not queries.has_nvidia_gpu(facts) and all(hit.id in (_TORCH_NO_DRIVER, _SMI_NOT_INSTALLED) for hit in hits):
        return [_no_gpu_shown(facts, hits)]
    cuda = queries.torch_cuda(facts)
    branch = fixes.driver_branch(cuda, ccs=queries.capabilities(facts))
    minimum = knowledge.min_driver(cuda) if cuda else Version(str(branch))
    evidence: dict[str, object] = {}
    if bus:
        evidence["PCI"] = ", ".join(f"{d.address} [{d.vendor}:{d.device}]" for d in bus)
    if facts.origin == "live" or "kernel_module" in facts.driver.sources:  # someone looked at /proc
        evidence["kernel module"] = "not loaded (/proc/driver/nvidia/version absent)"
    if facts.driver.nvml_error:
        evidence["NVML"] = facts.driver.nvml_error
    evidence.update(evidence_of(hits))
    fix = list(fixes.driver_install(facts, minimum or Version(str(branch)), branch))
    if queries.is_ubuntu(facts) and facts.system.kernel:
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
            title=(
                "An NVIDIA GPU is present but no NVIDIA driver is loaded"
                if bus
                else "No NVIDIA driver is loaded (the report does not show the GPU itself)"
            ),
            detail=(
                "Without the kernel driver nothing can use the GPU: nvidia-smi fails and torch.cuda.is_available() "
                "is False. After a kernel update the installed driver may not have been rebuilt (DKMS)."
                + (
                    ""
                    if bus
                    else " If this machine has no NVIDIA GPU, the program must run on the CPU (or another backend)."
                )
            ),
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


def _container_without_compute(facts: Facts, hits: list[SignatureHit]) -> Finding:
    """A container with the GPU but without libcuda: its driver capabilities name `utility` and not `compute`.

    The NVIDIA Container Toolkit mounts the driver's files by capability (NVIDIA_DRIVER_CAPABILITIES, or `--gpus
    capabilities=`): `utility` brings nvidia-smi and NVML, `compute` brings libcuda. nvidia-smi then works in the
    container while CUDA in it finds no driver.
    """
    evidence: dict[str, object] = {"container": facts.system.container or "(from the report)"}
    capabilities = queries.env(facts, "NVIDIA_DRIVER_CAPABILITIES")
    if capabilities is not None:
        evidence["NVIDIA_DRIVER_CAPABILITIES"] = capabilities
    evidence.update(evidence_of(hits))
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title="The container has the GPU but not the driver's CUDA library (libcuda): its driver capabilities lack compute",
        detail="The NVIDIA Container Toolkit mounts the host driver's files into a container by capability: `utility` "
        "brings nvidia-smi and NVML, `compute` brings libcuda, which CUDA needs. With `utility` alone nvidia-smi works "
        "in the container while torch finds no driver.",
        evidence=evidence,
        fix=(
            "docker run --gpus all -e NVIDIA_DRIVER_CAPABILITIES=compute,utility <image> ...   "
            "# or in Compose: environment: [NVIDIA_DRIVER_CAPABILITIES=compute,utility, NVIDIA_VISIBLE_DEVICES=all]",
            "# with --gpus capabilities=...: name compute beside utility (capabilities=compute,utility)",
        ),
    )


def _no_gpu_shown(facts: Facts, hits: list[SignatureHit]) -> Finding:
    """torch found no driver and nothing in the report shows an NVIDIA GPU: a missing driver, or no GPU to drive."""
    torch_said = any(hit.id == _TORCH_NO_DRIVER for hit in hits)
    cuda = queries.torch_cuda(facts)
    branch = fixes.driver_branch(cuda, ccs=queries.capabilities(facts))
    minimum = knowledge.min_driver(cuda) if cuda else Version(str(branch))
    fix = [
        "# first: does this machine have an NVIDIA GPU? (Linux: lspci | grep -i nvidia; Windows: Device Manager)",
        "# none: nothing is broken; run the program on the CPU (device='cpu', or the program's CPU option)",
        "# one: install the NVIDIA driver:",
        *fixes.driver_install(facts, minimum or Version(str(branch)), branch),
    ]
    return Finding(
        code=CODE,
        severity=Severity.WARNING,
        title=f"{_WHO_FOUND_NONE if torch_said else _SMI_FOUND_NONE}, and the report shows no NVIDIA GPU: a missing "
        "driver, or no GPU at all",
        detail=(
            (
                "torch says this whenever libcuda is missing"
                if torch_said
                else "nvidia-smi is missing wherever no driver is"
            )
            + ", which is so on a machine whose NVIDIA GPU has no driver and on every machine without an NVIDIA GPU. The "
            "report names no GPU, no nvidia-smi output and no PCI listing, so which of the two this is stays unknown."
        ),
        evidence=evidence_of(hits),
        fix=tuple(fix),
    )


def _libcuda_not_loadable(facts: Facts, hits: list[SignatureHit]) -> Finding:
    """A report whose only evidence is the loader failing on libcuda: no driver, or one the loader cannot find.

    libcuda.so.1 is installed by the NVIDIA driver, never by torch or the toolkit (CUDA Installation Guide for
    Linux, "Driver installation"), so a process that cannot load it has no driver it can see. That is either no
    driver at all or a driver whose library directory is off the loader's path (WSL2 keeps it in
    /usr/lib/wsl/lib, CUDA on WSL User Guide; a driver unpacked outside the distribution's library directories);
    a report that shows neither the GPU nor nvidia-smi does not tell which, so the fix looks first.
    """
    cuda = queries.torch_cuda(facts)
    branch = fixes.driver_branch(cuda, ccs=queries.capabilities(facts))
    minimum = knowledge.min_driver(cuda) if cuda else Version(str(branch))
    evidence: dict[str, object] = dict(evidence_of(hits))
    ld_path = queries.env(facts, "LD_LIBRARY_PATH")
    if ld_path is not None:
        evidence["LD_LIBRARY_PATH"] = ld_path
    fix = [
        "ldconfig -p | grep libcuda.so   # is the driver's library known to the loader?",
        "ls -l /usr/lib/wsl/lib/libcuda.so* 2>/dev/null   # under WSL2 the Windows driver puts it here",
        "# found outside the loader's path: export LD_LIBRARY_PATH=<that directory>:$LD_LIBRARY_PATH "
        "(or: sudo ldconfig <that directory>)",
        "# not found anywhere:",
        *fixes.driver_install(facts, minimum or Version(str(branch)), branch),
    ]
    if facts.system.container:
        # inside a container libcuda comes from the host, mounted in by the NVIDIA Container Toolkit
        fix.insert(
            0, "# in a container: start it with the GPUs (docker run --gpus all ...), which mounts the host's libcuda"
        )
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title="The process cannot load the NVIDIA driver's libcuda (no driver, or its directory is off the loader's path)",
        detail="libcuda.so.1 comes with the NVIDIA driver; a program that cannot load it finds no driver. Either none "
        "is installed, or its library directory is not where the dynamic loader looks (under WSL2: /usr/lib/wsl/lib).",
        evidence=evidence,
        fix=tuple(fix),
    )


def _wsl_gpu_unreachable(facts: Facts) -> list[Finding]:
    """WSL2: NVIDIA's user-space (from the Windows driver) is there but cannot reach a GPU through /dev/dxg.

    WSL has no PCI bus to look at and no Linux kernel module: the evidence is NVML or nvidia-smi (both
    only present when the Windows driver put them in /usr/lib/wsl/lib) saying the driver is not loaded.
    """
    markers = ("driver not loaded", "couldn't communicate with the nvidia driver")
    texts = (facts.driver.nvml_error, facts.driver.smi_error)
    said = [text for text in texts if text and any(m in text.lower() for m in markers)]
    if not said or facts.driver.userspace or queries.gpus_seen(facts):
        return []
    evidence: dict[str, object] = {"WSL": "yes (the GPU belongs to the Windows driver)", "NVIDIA": said[0].strip()}
    evidence["/dev/dxg"] = "present" if "/dev/dxg" in facts.system.dev_nodes else "missing (no GPU paravirtualisation)"
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title="WSL cannot reach the NVIDIA driver on Windows",
            detail=(
                "Inside WSL2 the GPU is served by the Windows driver through /dev/dxg; nvidia-smi and NVML fail when "
                "that driver is missing, too old for WSL, or the WSL kernel predates GPU support. Do not install a "
                "Linux NVIDIA driver inside WSL."
            ),
            evidence=evidence,
            fix=(
                "Install or update the NVIDIA driver on Windows: https://www.nvidia.com/Download/index.aspx",
                "wsl --update   # in PowerShell on Windows: a WSL kernel with GPU support",
                "wsl --shutdown   # in PowerShell, then reopen the WSL terminal",
            ),
        )
    ]


def _wsl_libcuda_path(facts: Facts, hits: list[SignatureHit]) -> Finding:
    """WSL2 keeps the driver's libcuda.so.1 in /usr/lib/wsl/lib (CUDA on WSL User Guide): off the path, CUDA finds none."""
    evidence: dict[str, object] = {"WSL": "yes (libcuda comes from the Windows driver, in /usr/lib/wsl/lib)"}
    evidence.update(evidence_of(hits))
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title="WSL's libcuda.so.1 (/usr/lib/wsl/lib) is not on the loader's path",
        detail="Under WSL2 the Windows driver provides libcuda.so.1 in /usr/lib/wsl/lib. Where that directory is "
        "not in the loader's cache or LD_LIBRARY_PATH, every CUDA library fails to load libcuda.",
        evidence=evidence,
        fix=(
            "ls -l /usr/lib/wsl/lib/libcuda.so*   # present: the Windows driver is fine",
            "export LD_LIBRARY_PATH=/usr/lib/wsl/lib:$LD_LIBRARY_PATH   # or: sudo ldconfig /usr/lib/wsl/lib",
            "# absent: install or update the NVIDIA driver on Windows, then `wsl --shutdown` in PowerShell",
        ),
    )


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
