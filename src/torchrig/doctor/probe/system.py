"""The machine around PyTorch: OS, container, WSL, Jetson, /dev/shm, the variables that matter, devices.

All of it is read from files (``/proc``, ``/sys``, ``/dev``, ``/etc``) through the host's root and
from the environment the probes were given; nothing here runs a program. NVIDIA devices on the PCI
bus are listed from ``/sys/bus/pci/devices`` (vendor 0x10de, class display), so a GPU whose driver
is missing or failed to load is still seen.
"""

from __future__ import annotations

import os
import platform
import re
from typing import TYPE_CHECKING

from torchrig.doctor.facts import PciDevice, ShadowedModule, SystemFacts
from torchrig.doctor.probe import python_env

if TYPE_CHECKING:
    from torchrig.doctor.probe import Host

# The variables that change what CUDA, NCCL or PyTorch do, and where they look.
_ENV_NAMES = (
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "CUDA_MODULE_LOADING",
    "CUDA_LAUNCH_BLOCKING",
    "CUDA_HOME",
    "CUDA_PATH",
    "CUDA_ROOT",
    "CUDNN_HOME",
    "CUDNN_PATH",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "NVIDIA_REQUIRE_CUDA",
    "NVIDIA_DISABLE_REQUIRE",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "PYTHONPATH",
    "PYTHONNOUSERSITE",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "VIRTUAL_ENV",
    "TORCH_CUDA_ARCH_LIST",
    "TORCH_HOME",
    "TORCH_NCCL_ASYNC_ERROR_HANDLING",
    "TORCH_NCCL_BLOCKING_WAIT",
    "OMP_NUM_THREADS",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "MASTER_ADDR",
    "MASTER_PORT",
    "WORLD_SIZE",
    "RANK",
    "LOCAL_RANK",
)
_ENV_PREFIXES = ("NCCL_", "PYTORCH_")

# Module names whose local copy breaks `import torch`: torch's own family, and the stdlib/third-party
# modules torch imports early (a random.py or typing.py next to a script is a classic).
SHADOW_CANDIDATES = (
    "torch",
    "torchvision",
    "torchaudio",
    "triton",
    "numpy",
    "functorch",
    "random",
    "typing",
    "copy",
    "inspect",
    "dataclasses",
    "functools",
    "enum",
    "signal",
    "queue",
    "numbers",
    "types",
    "logging",
    "abc",
    "string",
    "warnings",
    "contextlib",
    "threading",
    "math",
    "pickle",
    "json",
)

_PCI_DISPLAY_CLASS = "0x03"  # 0x0300 VGA controller, 0x0302 3D controller (datacentre GPUs)


def probe(host: Host, quick: bool) -> SystemFacts:
    facts = SystemFacts()
    _platform(host, facts)
    _container(host, facts)
    _wsl_and_jetson(host, facts)
    _shm(host, facts)
    _environment(host, facts)
    _devices(host, facts)
    _shadowing(host, facts)
    return facts


def _platform(host: Host, facts: SystemFacts) -> None:
    facts.set("os", platform.system(), "platform")
    kernel = (host.root.read_text("/proc/sys/kernel/osrelease") or "").strip()
    facts.set("kernel", kernel or platform.release(), "/proc" if kernel else "platform")
    facts.set("distro", _os_release(host), "/etc/os-release")
    facts.set("machine", platform.machine(), "platform")
    facts.set("python_version", platform.python_version(), "platform")
    facts.set("python_executable", host.python, "sys")


def _os_release(host: Host) -> str | None:
    text = host.root.read_text("/etc/os-release") or host.root.read_text("/usr/lib/os-release") or ""
    values = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', text, re.M))
    return values.get("PRETTY_NAME") or values.get("NAME")


def _container(host: Host, facts: SystemFacts) -> None:
    root, env = host.root, host.env
    cgroup = root.read_text("/proc/1/cgroup") or ""
    declared = env.get("container", "")  # systemd's convention; podman and LXC set it
    if env.get("KUBERNETES_SERVICE_HOST") or root.exists("/var/run/secrets/kubernetes.io") or "kubepods" in cgroup:
        kind, source = "kubernetes", "/var/run/secrets" if root.exists("/var/run/secrets/kubernetes.io") else "env"
    elif root.exists("/run/.containerenv") or declared == "podman" or "libpod" in cgroup:
        kind, source = "podman", "/run/.containerenv"
    elif root.exists("/.dockerenv") or "docker" in cgroup or declared == "docker":
        kind, source = "docker", "/.dockerenv"
    elif declared.startswith("lxc") or "/lxc/" in cgroup:
        kind, source = "lxc", "env"
    elif declared:
        kind, source = declared, "env"
    else:
        kind, source = None, "/proc/1/cgroup"
    facts.container = kind
    facts.sources["container"] = source


def _wsl_and_jetson(host: Host, facts: SystemFacts) -> None:
    root = host.root
    release = (root.read_text("/proc/sys/kernel/osrelease") or "") + (root.read_text("/proc/version") or "")
    wsl = "microsoft" in release.lower() or root.exists("/dev/dxg") or root.exists("/usr/lib/wsl/lib")
    facts.set("wsl", wsl, "/proc")
    model = root.read_text("/proc/device-tree/model") or ""
    jetson = root.exists("/etc/nv_tegra_release") or "jetson" in model.lower() or root.exists("/sys/module/tegra_fuse")
    facts.set("jetson", jetson, "/etc/nv_tegra_release")


def _shm(host: Host, facts: SystemFacts) -> None:
    if platform.system() != "Linux" or not hasattr(os, "statvfs"):
        return  # macOS and Windows have no /dev/shm; DataLoader workers share memory another way there
    stat = host.root.statvfs("/dev/shm")
    if stat is None:
        facts.errors.append("/dev/shm is missing or cannot be read")
        return
    facts.set("shm_total_bytes", stat.f_blocks * stat.f_frsize, "/dev/shm")
    facts.set("shm_free_bytes", stat.f_bavail * stat.f_frsize, "/dev/shm")


def _environment(host: Host, facts: SystemFacts) -> None:
    env = host.env
    picked = {k: v for k, v in env.items() if k in _ENV_NAMES or k.startswith(_ENV_PREFIXES)}
    facts.env = dict(sorted(picked.items()))
    facts.sources["env"] = "env"
    conda = env.get("CONDA_PREFIX")
    if not conda and host.root.path(host.prefix + "/conda-meta").is_dir():
        conda = host.prefix  # a conda python run without `conda activate`
    if conda:
        facts.set("conda_prefix", conda, "env" if env.get("CONDA_PREFIX") else "conda-meta")
    venv = env.get("VIRTUAL_ENV")
    if not venv and host.prefix != host.base_prefix:
        venv = host.prefix
    if venv:
        facts.set("venv", venv, "env" if env.get("VIRTUAL_ENV") else "sys.prefix")


def _devices(host: Host, facts: SystemFacts) -> None:
    root = host.root
    nodes = root.glob("/dev/nvidia*")
    if root.exists("/dev/dxg"):
        nodes.append("/dev/dxg")
    facts.dev_nodes = nodes
    facts.sources["dev_nodes"] = "/dev"
    for address in root.listdir("/sys/bus/pci/devices"):
        base = f"/sys/bus/pci/devices/{address}"
        vendor = (root.read_text(f"{base}/vendor") or "").strip().lower()
        device_class = (root.read_text(f"{base}/class") or "").strip().lower()
        if vendor == "0x10de" and device_class.startswith(_PCI_DISPLAY_CLASS):
            device = (root.read_text(f"{base}/device") or "").strip().lower()
            facts.pci_gpus.append(PciDevice(address=address, vendor=vendor, device=device, device_class=device_class))
    facts.sources["pci_gpus"] = "/sys"


def _shadowing(host: Host, facts: SystemFacts) -> None:
    """Local files that ``import`` would pick before the installed module, from the places users put scripts.

    Looked for in the working directory (first on sys.path for ``python -c``, the REPL, and
    ``python script.py`` run from here) and in PYTHONPATH's directories.
    """
    places = [host.cwd] if host.cwd else []
    places += [p for p in host.env.get("PYTHONPATH", "").split(":") if p and p not in places]
    installed_dirs = {d.rstrip("/") for d in python_env.search_path(host) if "-packages" in d}
    for place in places:
        if place.rstrip("/") in installed_dirs:
            continue  # running from inside site-packages is not shadowing
        for name in SHADOW_CANDIDATES:
            for candidate in (f"{place.rstrip('/')}/{name}.py", f"{place.rstrip('/')}/{name}/__init__.py"):
                if host.root.path(candidate).is_file():
                    shadow = candidate.removesuffix("/__init__.py")
                    facts.shadowed_modules.append(ShadowedModule(name=name, path=shadow))
                    break
    if facts.shadowed_modules:
        facts.sources["shadowed_modules"] = "filesystem"
