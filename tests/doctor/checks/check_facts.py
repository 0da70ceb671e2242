"""Facts for the check tests, built from real values: driver versions, GPU names and capabilities,
torch versions and arch lists as NVML, nvidia-smi and torch report them on real machines.
"""

from __future__ import annotations

from torchrig._core.errors import UserError
from torchrig.doctor.checks import run_checks
from torchrig.doctor.facts import (
    DeviceSmoke,
    DriverFacts,
    Facts,
    Gpu,
    GpuFacts,
    LoadedLib,
    Package,
    PciDevice,
    SignatureHit,
    SystemFacts,
    ToolkitFacts,
    TorchFacts,
)
from torchrig.doctor.findings import Finding
from torchrig.doctor.report import parse_report

# name, compute capability, PCI device id: as nvidia-smi --query-gpu=name,compute_cap and lspci -n show them.
V100 = ("Tesla V100-SXM2-32GB", "7.0", "0x1db5")
GTX1080 = ("NVIDIA GeForce GTX 1080", "6.1", "0x1b80")
T4 = ("Tesla T4", "7.5", "0x1eb8")
RTX3090 = ("NVIDIA GeForce RTX 3090", "8.6", "0x2204")
RTX4090 = ("NVIDIA GeForce RTX 4090", "8.9", "0x2684")
RTX5090 = ("NVIDIA GeForce RTX 5090", "12.0", "0x2b85")
A100 = ("NVIDIA A100-SXM4-80GB", "8.0", "0x20b2")
H100 = ("NVIDIA H100 80GB HBM3", "9.0", "0x2330")
B200 = ("NVIDIA B200", "10.0", "0x2901")
ORIN = ("Orin", "8.7", None)

# torch.cuda.get_arch_list() as real builds print it.
ARCH_CU124 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
ARCH_CU130 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
ARCH_CU126 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]

SITE = "/home/ada/.venv/lib/python3.12/site-packages"
PY = "/home/ada/.venv/bin/python"


def gpus(*models: tuple[str, str, str | None]) -> list[Gpu]:
    return [
        Gpu(
            index=i,
            name=name,
            uuid=f"GPU-{i:08x}-d72c-4106-c12f-20bd9faed9f6",
            compute_capability=cc,
            memory_total_mib=81559,
            pci_bus_id=f"00000000:{0x17 + i:02X}:00.0",
            source="nvml",
        )
        for i, (name, cc, _) in enumerate(models)
    ]


def pci(*models: tuple[str, str, str | None]) -> list[PciDevice]:
    return [
        PciDevice(address=f"0000:{0x17 + i:02x}:00.0", vendor="0x10de", device=dev or "0x0000", device_class="0x030200")
        for i, (_, _, dev) in enumerate(models)
    ]


def linux_gpu_box(
    *models: tuple[str, str, str | None],
    driver: str | None = "580.95.05",
    torch: str | None = "2.13.0+cu130",
    cuda: str | None = "13.0",
    arch: list[str] | None = None,
    python: str = "3.12.3",
    installer: str = "pip",
    companions: list[Package] | None = None,
    env: dict[str, str] | None = None,
    distro: str = "Ubuntu 24.04.3 LTS",
    **system: object,
) -> Facts:
    """A live Linux machine with these GPUs, a driver and a pip-installed torch that imported."""
    models = models or (RTX4090,)
    driver_api = {"580.95.05": "13.0", "535.104.05": "12.2", "470.82.01": "11.4", "550.54.14": "12.4"}.get(driver or "")
    facts = Facts(
        driver=DriverFacts(kernel_module=driver, userspace=driver, cuda_driver_api=driver_api),
        gpus=GpuFacts(devices=gpus(*models) if driver else []),
        torch=TorchFacts(
            installed=torch is not None,
            version=torch,
            cuda=cuda if torch else None,
            location=f"{SITE}/torch" if torch else None,
            installer=installer if torch else None,
            copies=[f"{SITE}/torch"] if torch else [],
            python=PY,
            import_ok=True if torch else None,
            cuda_available=bool(torch and cuda and driver),
            arch_list=arch if arch is not None else [],
        ),
        companions=companions or [],
        system=SystemFacts(
            os="Linux",
            kernel="6.8.0-86-generic",
            distro=distro,
            machine="x86_64",
            python_version=python,
            python_executable=PY,
            shm_total_bytes=32 << 30,
            env=env or {},
            dev_nodes=["/dev/nvidiactl", "/dev/nvidia-uvm"] + [f"/dev/nvidia{i}" for i in range(len(models))]
            if driver
            else [],
            pci_gpus=pci(*models),
        ),
    )
    for key, value in system.items():
        setattr(facts.system, key, value)
    return facts


def _cpu_torch(version: str) -> TorchFacts:
    """A pip-installed CPU torch that imported."""
    return TorchFacts(
        installed=True,
        version=version,
        cuda=None,
        location=f"{SITE}/torch",
        installer="pip",
        copies=[f"{SITE}/torch"],
        python=PY,
        import_ok=True,
        cuda_available=False,
        device_count=0,
    )


def this_machine() -> Facts:
    """The development box: CPU torch 2.13, a CUDA 13.0 toolkit at /usr/local/cuda, no driver, no GPU."""
    return Facts(
        torch=_cpu_torch("2.13.0+cpu"),
        toolkit=ToolkitFacts(
            cuda_home="/usr/local/cuda", found_by="/usr/local/cuda", nvcc="/usr/local/cuda/bin/nvcc", version="13.0"
        ),
        system=SystemFacts(
            os="Linux",
            kernel="6.1.0-40-amd64",
            distro="Debian GNU/Linux 12 (bookworm)",
            machine="x86_64",
            python_version="3.11.7",
            python_executable=PY,
            shm_total_bytes=24 << 30,
            env={"LD_LIBRARY_PATH": ""},
        ),
    )


def mac() -> Facts:
    """An Apple-silicon Mac: PyPI's torch (no local tag), no NVIDIA anything."""
    return Facts(
        torch=_cpu_torch("2.13.0"),
        system=SystemFacts(os="Darwin", machine="arm64", python_version="3.13.1", python_executable=PY),
    )


def report(*hits: tuple[str, str], **torch: object) -> Facts:
    """Facts from someone's pasted log: only signature hits (id, excerpt) and what the log said about torch."""
    facts = Facts(
        origin="report",
        report_format="log",
        signatures=[SignatureHit(id=i, excerpt=e, line=n + 3) for n, (i, e) in enumerate(hits)],
    )
    for key, value in torch.items():
        setattr(facts.torch, key, value)
    return facts


def smoke(index: int, name: str, cc: str, error: str | None = None) -> DeviceSmoke:
    return DeviceSmoke(
        device=index, name=name, capability=cc, matmul_ok=error is None, conv_ok=error is None, error=error
    )


def lib(name: str, path: str) -> LoadedLib:
    return LoadedLib(name=name, path=path)


def pkg(name: str, version: str, *requires: str) -> Package:
    return Package(name=name, version=version, location=SITE, installer="pip", requires=list(requires))


def codes(findings: list) -> list[str]:
    return [f.code for f in findings]


def findings_of(text: str) -> list[Finding]:
    """What `torchrig doctor --report` finds in ``text``: no findings where the report is refused as nothing
    recognised."""
    try:
        return run_checks(parse_report(text))
    except UserError:
        return []


def codes_of(text: str) -> list[str]:
    """The codes of :func:`findings_of`, in order."""
    return codes(findings_of(text))
