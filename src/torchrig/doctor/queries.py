"""Questions several checks ask of the facts: is there an NVIDIA GPU, which driver counts, which GPUs.

These read :class:`~torchrig.doctor.facts.Facts` only (never the machine), and answer ``None`` or an empty
list where the facts are silent, so a check built on them stays quiet rather than guessing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from torchrig import knowledge
from torchrig.doctor.facts import Facts, Gpu, PciDevice
from torchrig.knowledge import gpu_models

NVIDIA_VENDOR = "0x10de"


def nvidia_gpus_on_bus(facts: Facts) -> list[PciDevice]:
    """NVIDIA display (0x0300) and 3D (0x0302) controllers on the PCI bus."""
    return [
        dev
        for dev in facts.system.pci_gpus
        if dev.vendor.lower() == NVIDIA_VENDOR and dev.device_class.lower().startswith("0x03")
    ]


# An AMD GPU as ROCm's tools and torch's ROCm builds name it ("AMD Radeon RX 6800 XT (gfx1030)", "AMD
# Instinct MI250X"): a device, but not an NVIDIA one.
_AMD_GPU = re.compile(r"\b(?:AMD|Radeon|Instinct)\b|\bgfx\d{3,4}", re.IGNORECASE)


def is_amd(gpu: Gpu) -> bool:
    return bool(gpu.name and _AMD_GPU.search(gpu.name))


def has_nvidia_gpu(facts: Facts) -> bool:
    """Whether any fact shows an NVIDIA GPU: NVML/smi devices, the PCI bus, device nodes or a driver."""
    return bool(
        any(not is_amd(g) for g in facts.gpus.devices)
        or nvidia_gpus_on_bus(facts)
        or any(re.fullmatch(r"/dev/nvidia\d+", node) for node in facts.system.dev_nodes)
        or facts.driver.kernel_module
        or facts.driver.userspace
        or any(s.capability for s in facts.torch.smoke)
    )


def uses_windows_driver(facts: Facts) -> bool:
    """WSL and Windows run the Windows driver; its version numbers follow the Windows column."""
    return bool(facts.system.wsl) or (facts.system.os or "").lower() == "windows"


def driver_version(facts: Facts) -> str | None:
    """The driver version that decides what CUDA runs: the kernel module's, else the user-space one.

    In WSL there is no Linux kernel module; NVML and nvidia-smi report the Windows driver.
    """
    if uses_windows_driver(facts):
        return facts.driver.userspace or facts.driver.kernel_module
    return facts.driver.kernel_module or facts.driver.userspace


@dataclass(frozen=True)
class GpuView:
    """One GPU as the checks see it, from NVML/nvidia-smi or, failing that, torch's device smoke."""

    index: int
    name: str | None
    capability: str | None  # "8.6"
    uuid: str | None = None

    @property
    def selector(self) -> str:
        """How CUDA_VISIBLE_DEVICES names this GPU unambiguously.

        NVML numbers GPUs in PCI order but CUDA, by default, fastest first: on mixed machines an index
        can name another GPU, a UUID cannot.
        """
        return self.uuid or str(self.index)

    @property
    def label(self) -> str:
        cc = f" (compute capability {self.capability})" if self.capability else ""
        return f"GPU{self.index} {self.name or 'NVIDIA GPU'}{cc}"


def gpus_seen(facts: Facts) -> list[Gpu]:
    """The GPUs a program listed (NVML, nvidia-smi, torch, collect_env): proof the driver reaches them.

    A GPU only the reporter names (source "stated") is on the machine, but says nothing about the driver.
    """
    return [gpu for gpu in facts.gpus.devices if gpu.source != "stated"]


def _cc(text: str | None) -> str | None:
    """A compute capability as "8.6", or None for anything else ("N/A", "")."""
    return text if text and re.fullmatch(r"\d+\.\d+", text.strip()) else None


def gpus(facts: Facts) -> list[GpuView]:
    """Every GPU the facts know of, with a well-formed compute capability or None.

    A report may name a GPU without its capability (collect_env does): the model table supplies it.
    """
    return [
        GpuView(g.index, g.name, _cc(g.capability) or gpu_models.capability_of(g.name), g.uuid) for g in _gpus(facts)
    ]


def _gpus(facts: Facts) -> list[GpuView]:
    if facts.gpus.devices:
        smoke = {s.device: s for s in facts.torch.smoke}
        return [
            GpuView(
                g.index,
                g.name or (smoke[g.index].name if g.index in smoke else None),
                g.compute_capability or (smoke[g.index].capability if g.index in smoke else None),
                g.uuid,
            )
            for g in facts.gpus.devices
        ]
    return [GpuView(s.device, s.name, s.capability) for s in facts.torch.smoke]


def capabilities(facts: Facts) -> list[str]:
    """The distinct compute capabilities of the GPUs here ("7.0", "8.9"), in device order."""
    seen: list[str] = []
    for gpu in gpus(facts):
        if gpu.capability and gpu.capability not in seen:
            seen.append(gpu.capability)
    return seen


def stated(section: object, name: str) -> bool:
    """Whether the facts state ``name`` (a value, or a value the source said is none), not just leave it unknown."""
    return name in getattr(section, "sources", {}) or getattr(section, name, None) not in (None, [], {})


def build_kind(facts: Facts) -> str | None:
    """ "CUDA 13.0 build", "ROCm 6.2 build", "CPU build", or None when the facts do not say which."""
    t = facts.torch
    if t.hip:
        return f"ROCm {t.hip} build"
    if t.cuda:
        return f"CUDA {t.cuda} build"
    local = (t.version or "").partition("+")[2]
    if local == "cpu" or (stated(t, "cuda") and stated(t, "hip")) or (t.import_ok and facts.origin == "live"):
        return "CPU build"
    return None


def torch_variant(facts: Facts) -> str | None:
    """The installed torch's wheel variant ("cu130", "cpu"), or None where the facts do not say."""
    if not facts.torch.version:
        return None
    variant = knowledge.variant_of(facts.torch.version, facts.torch.cuda)
    if facts.torch.cuda_available:  # a torch that reached a GPU is no CPU build, whatever its tag says
        return None if variant == "cpu" else variant
    stated_none = "cuda" in facts.torch.sources  # torch.version.cuda given as None (a conda "cpu" build string)
    # Imported here, torch.version.cuda was read: None means no CUDA. A report that shows torch imported
    # (`transformers env`, a Python prompt) without torch.version.cuda says nothing about its build.
    read_here = facts.torch.import_ok and facts.origin == "live"
    if variant is None and facts.torch.cuda is None and facts.torch.hip is None and (read_here or stated_none):
        return "cpu"  # a torch known to be built with no CUDA and no HIP is a CPU build
    return variant


def torch_cuda(facts: Facts) -> str | None:
    """The CUDA release torch was built with ("13.0"), from torch.version.cuda or the wheel's tag."""
    if facts.torch.cuda:
        return knowledge.minor_of(facts.torch.cuda)
    variant = torch_variant(facts)
    return knowledge.variant_cuda(variant) if variant else None


def python_version(facts: Facts) -> str | None:
    """ "3.12" for the interpreter torch runs in."""
    text = facts.system.python_version
    return knowledge.minor_of(text) if text else None


_POSIX_SITE = re.compile(r"(/[^\s'\"]*?)/lib/python\d+\.\d+/site-packages\b")
_WINDOWS_SITE = re.compile(r"([A-Za-z]:\\[^\s'\"]*?)\\Lib\\site-packages\b", re.IGNORECASE)


def python_command(facts: Facts) -> str:
    """The interpreter to put in front of ``-m pip``: the one that imported torch.

    Live, the probes know it. In a report, the site-packages paths the report shows name the
    environment torch lives in (a conda env, a venv, ComfyUI's embedded Python on Windows), and that
    environment's interpreter is the one to use; where the paths disagree or none is shown, ``python``.
    """
    exe = facts.torch.python or facts.system.python_executable
    if facts.origin == "live":
        return exe or "python"
    texts = [facts.torch.location or "", *facts.torch.copies, facts.torch.import_error or "", *facts.failures]
    texts += [hit.excerpt for hit in facts.signatures]
    found = {f"{m}/bin/python" for t in texts for m in _POSIX_SITE.findall(t)}
    found |= {f"{m}\\python.exe" for t in texts for m in _WINDOWS_SITE.findall(t)}
    if exe and (exe.endswith("python.exe") or "/bin/python" in exe):
        found.add(exe)
    return found.pop() if len(found) == 1 else "python"


def shell_join(facts: Facts, argv: list[str] | tuple[str, ...]) -> str:
    """A command line for the machine's shell: POSIX quoting, or double quotes on Windows (cmd and PowerShell)."""
    if (facts.system.os or "").lower() != "windows" and not any(_WINDOWS_SITE.match(a) for a in argv[:1]):
        return shlex.join(argv)
    out = []
    for arg in argv:
        if re.fullmatch(r"[\w@%+=:,./\\*<>-]+", arg) and not {"<", ">"} & set(arg):
            out.append(arg)
        else:
            out.append('"' + arg.replace('"', '\\"') + '"')
    return " ".join(out)


def env(facts: Facts, name: str) -> str | None:
    return facts.system.env.get(name)


def set_in_program(facts: Facts, name: str) -> str | None:
    """The line of the program's own code that sets environment variable ``name``, where a report shows one."""
    return facts.system.set_in_program.get(name)


def library_path_without(facts: Facts, drop: Callable[[str], bool]) -> str | None:
    """The shell line that takes the ``LD_LIBRARY_PATH`` entries ``drop`` picks out of it, or None if it picks none.

    The value is quoted: it comes from the facts (someone else's report, with --report), and users paste
    fix lines into a shell.
    """
    entries = [p for p in (env(facts, "LD_LIBRARY_PATH") or "").split(":") if p]
    kept = [p for p in entries if not drop(p)]
    if len(kept) == len(entries):
        return None
    return f"export LD_LIBRARY_PATH={shlex.quote(':'.join(kept))}" if kept else "unset LD_LIBRARY_PATH"


def is_debian_like(facts: Facts) -> bool:
    distro = (facts.system.distro or "").lower()
    return any(word in distro for word in ("ubuntu", "debian", "mint", "pop!_os", "pop_os"))


def is_ubuntu(facts: Facts) -> bool:
    return "ubuntu" in (facts.system.distro or "").lower()
