"""Whole fake machines for the end-to-end doctor tests: files, programs and NVML as a real box shows them.

A :class:`Box` is a :class:`~probe_fakes.FakeTree` (``/proc``, ``/sys``, ``/dev``, ``/etc``, site-packages)
plus the answers of the programs the probes run (``nvidia-smi``, ``nvcc``, and the interpreter that runs
torch's child: :func:`torch_child` writes what ``_torch_child.py`` prints, line by line) and an NVML.
:func:`diagnose` runs the real ``gather`` and ``run_checks`` on it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from probe_fakes import FakeTree, fake_machine, nvml_fixture, recorded, smi

from torchrig._core.seams.nvml import FakeNvml
from torchrig._core.seams.root import Root
from torchrig._core.seams.runner import Completed, FakeRunner
from torchrig.doctor.checks import run_checks
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding
from torchrig.doctor.probe import gather
from torchrig.doctor.probe.pytorch import MARK

VENV = "/home/user/venv"
SITE = f"{VENV}/lib/python3.11/site-packages"
PYTHON = f"{VENV}/bin/python"
UBUNTU = 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n'
# what `nvcc --version` printed on the torchrig development machine (/usr/local/cuda-13.0)
NVCC_13_0 = (
    "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2025 NVIDIA Corporation\n"
    "Built on Wed_Aug_20_01:58:59_PM_PDT_2025\nCuda compilation tools, release 13.0, V13.0.88\n"
    "Build cuda_13.0.r13.0/compiler.36424714_0\n"
)
# compiled SASS of the download.pytorch.org wheels (torch.cuda.get_arch_list())
ARCHS = {
    "cu118": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_37", "sm_90"],
    "cu121": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"],
    "cu124": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"],
    "cu128": ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
    "cu130": ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_110", "sm_120"],
}


def proc_version(version: str) -> str:
    """/proc/driver/nvidia/version of the proprietary module, in the layout of the recorded files."""
    return (
        f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {version}  Thu May  2 14:37:44 UTC 2024\n"
        "GCC version:  gcc version 11.4.0 (Ubuntu 11.4.0-1ubuntu1~22.04)\n"
    )


def torch_child(
    version: str,
    cuda: str | None,
    *,
    import_error: str | None = None,
    available: bool = True,
    devices: list[dict[str, Any]] | None = None,
    init_error: str | None = None,
    warnings: list[str] | None = None,
    libs: dict[str, str] | None = None,
    cudnn: str | None = None,
    nccl: str | None = None,
    site: str = SITE,
    archs: list[str] | None = None,
) -> Completed:
    """What ``_torch_child.py`` prints on a machine where torch behaves as described, in its order."""
    lines: list[dict[str, Any]] = [{"step": "import", "python": PYTHON}]
    caught = list(warnings or [])
    loaded = [{"name": name, "path": path} for name, path in (libs or {}).items()]
    if import_error is not None:
        lines.append({"import_ok": False, "import_error": import_error, "warnings": caught, "loaded_libs": loaded})
    else:
        variant = version.partition("+")[2]
        lines += [
            {"import_ok": True, "version": version, "cuda": cuda, "hip": None, "location": f"{site}/torch/__init__.py"},
            {"step": "build"},
            {
                "arch_list": (archs if archs is not None else ARCHS.get(variant, [])) if cuda else [],
                "cudnn_version": cudnn if cuda else None,
                "nccl_version": nccl if cuda else None,
            },
        ]
        if cuda:
            devices = devices or []
            lines.append({"step": "cuda-init"})
            lines.append(
                {"cuda_available": available, "device_count": len(devices) if available else 0, "warnings": caught}
            )
            if not available and init_error:
                lines.append({"cuda_init_error": init_error})
            for index, device in enumerate(devices if available else []):
                lines.append({"step": f"device {index}"})
                lines.append({"device": {"device": index, **device}})
        else:
            lines.append({"cuda_available": False, "device_count": 0})
        lines.append({"loaded_libs": loaded, "warnings": caught})
    stdout = "".join(MARK + json.dumps(line) + "\n" for line in lines)
    return Completed((PYTHON, "-c", "<child>"), 0, stdout=stdout)


def cuda_init_fails(version: str, cuda: str, message: str, *, line: int = 109, **child: Any) -> Completed:
    """The child where CUDA cannot initialise: is_available() warns ``message``, torch.cuda.init() raises it."""
    return torch_child(
        version,
        cuda,
        available=False,
        init_error=f"RuntimeError: {message}",
        warnings=[
            f"UserWarning: CUDA initialization: {message} (Triggered internally at "
            f"../c10/cuda/CUDAFunctions.cpp:{line}.)"
        ],
        **child,
    )


def wheel_libs(site: str = SITE, cuda_major: str = "12", driver: str = "580.173.02") -> dict[str, str]:
    """The CUDA libraries a pip CUDA wheel maps: its own nvidia/* copies, and the driver's libcuda."""
    return {
        f"libcudart.so.{cuda_major}": f"{site}/nvidia/cuda_runtime/lib/libcudart.so.{cuda_major}",
        f"libcublas.so.{cuda_major}": f"{site}/nvidia/cublas/lib/libcublas.so.{cuda_major}",
        "libcudnn.so.9": f"{site}/nvidia/cudnn/lib/libcudnn.so.9",
        "libnccl.so.2": f"{site}/nvidia/nccl/lib/libnccl.so.2",
        f"libcuda.so.{driver}": f"/usr/lib/x86_64-linux-gnu/libcuda.so.{driver}",
    }


@dataclass(frozen=True)
class SmallShmRoot(Root):
    """A root whose /dev/shm is a tmpfs of ``shm_bytes`` (Docker's default is 64 MiB)."""

    shm_bytes: int = 64 << 20

    def statvfs(self, machine_path: str) -> os.statvfs_result | None:
        if machine_path != "/dev/shm":
            return super().statvfs(machine_path)
        blocks = self.shm_bytes // 4096
        return os.statvfs_result((4096, 4096, blocks, blocks, blocks, 1 << 20, 1 << 20, 1 << 20, 0, 255))


@dataclass
class Box:
    """A machine under construction; :meth:`facts` gathers on it, :func:`diagnose` checks it."""

    tree: FakeTree
    nvml: FakeNvml = field(default_factory=lambda: nvml_fixture("no-library.json"))
    programs: dict[str, Completed] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=lambda: {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/user"})
    sys_path: tuple[str, ...] = ("", "/usr/lib/python311.zip", "/usr/lib/python3.11", SITE)
    cwd: str = "/home/user/project"
    shm_bytes: int | None = None

    def __post_init__(self) -> None:
        self.tree.write("/etc/os-release", UBUNTU)
        self.tree.write("/proc/sys/kernel/osrelease", "6.8.0-45-generic\n")
        self.tree.mkdir("/dev/shm")
        self.tree.mkdir(self.cwd)
        self.tree.mkdir(SITE)

    # --- hardware and driver ---------------------------------------------------------------------

    def gpu_on_bus(self, address: str, device: str, device_class: str = "0x030000") -> Box:
        base = f"/sys/bus/pci/devices/{address}"
        self.tree.write(f"{base}/vendor", "0x10de\n")
        self.tree.write(f"{base}/device", device + "\n")
        self.tree.write(f"{base}/class", device_class + "\n")
        return self

    def driver(self, proc_text: str, gpus: int = 1) -> Box:
        """A loaded kernel module: /proc/driver/nvidia/version, /sys/module/nvidia and the device nodes."""
        self.tree.write("/proc/driver/nvidia/version", proc_text)
        for node in ("nvidiactl", "nvidia-uvm", *(f"nvidia{i}" for i in range(gpus))):
            self.tree.write(f"/dev/{node}")
        return self

    def with_nvml(self, nvml: FakeNvml) -> Box:
        self.nvml = nvml
        return self

    def nvidia_smi(self, stdout: str, returncode: int = 0) -> Box:
        self.programs["nvidia-smi"] = smi(stdout, returncode)
        return self

    # --- software --------------------------------------------------------------------------------

    def torch(
        self, version: str, cuda: str | None, child: Completed | None, *, site: str = SITE, installer: str = "pip"
    ) -> Box:
        """A torch wheel on sys.path (dist-info, torch/version.py) and what importing it prints."""
        self.tree.dist(site, "torch", version, installer=installer, package="torch")
        self.tree.write(
            f"{site}/torch/version.py",
            "from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n"
            f"__version__ = '{version}'\ndebug = False\ncuda: Optional[str] = {cuda!r}\n"
            "git_version = 'a8d6afb511a69687bbb2b7e88a3cf67917e1697e'\nhip: Optional[str] = None\n",
        )
        if child is not None:
            self.programs["python"] = child
        return self

    def package(self, name: str, version: str, *, requires: tuple[str, ...] = (), site: str = SITE) -> Box:
        self.tree.dist(site, name, version, requires=requires, package=name.replace("-", "_"))
        return self

    def toolkit(self, home: str, *, headers: bool = True) -> Box:
        """A CUDA toolkit at ``home``: bin/nvcc (answered by nvcc --version) and, optionally, its headers."""
        self.tree.write(f"{home}/bin/nvcc", "#!/bin/sh\n", mode=0o755)
        if headers:
            self.tree.write(f"{home}/include/cuda_runtime.h", "#pragma once\n")
            self.tree.write(f"{home}/include/cuda.h", "#define CUDA_VERSION 13000\n")
        self.programs["nvcc"] = Completed(("nvcc", "--version"), 0, stdout=NVCC_13_0)
        return self

    def docker(self) -> Box:
        self.tree.write("/.dockerenv")
        self.tree.write("/proc/1/cgroup", "0::/\n")
        return self

    # --- running the doctor ----------------------------------------------------------------------

    def facts(self) -> Facts:
        root = SmallShmRoot(self.tree.base, self.shm_bytes) if self.shm_bytes is not None else self.tree.root
        machine = fake_machine(
            self.tree,
            nvml=self.nvml,
            runner=FakeRunner(dict(self.programs)),
            root=root,
            env=dict(self.env),
            cwd=self.cwd,
            python=PYTHON,
            sys_path=self.sys_path,
            prefix=VENV,
            base_prefix="/usr",
        )
        return gather(machine)


def diagnose(box: Box) -> list[Finding]:
    """``torchrig doctor`` on the box: gather through the seams, then every check, root cause first."""
    return run_checks(box.facts())


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def fix_text(finding: Finding) -> str:
    return "\n".join(finding.fix)


__all__ = ["Box", "cuda_init_fails", "diagnose", "proc_version", "recorded", "torch_child", "wheel_libs"]
