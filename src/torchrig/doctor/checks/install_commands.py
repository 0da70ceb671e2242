"""The exact commands a fix prints: which PyTorch build fits this machine, and how to install it or a driver.

:func:`choose_build` answers "which torch release and CUDA variant runs on this driver *and* has
kernels for every GPU here", preferring the release already installed. :func:`torch_install` turns
that into the commands for the installer torch came from (pip, uv or conda), pointed at the PyTorch
index (download.pytorch.org, or a mirror's base from :class:`CheckContext`).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from packaging.version import Version

from torchrig import knowledge
from torchrig.doctor.checks import machine
from torchrig.doctor.checks.registry import CheckContext
from torchrig.knowledge.builds import Machine as PlanTarget
from torchrig.knowledge.builds import preference, why_not
from torchrig.doctor.facts import Facts


_CC = re.compile(r"\d{1,2}\.\d")  # what the planner accepts as a compute capability


@dataclass(frozen=True)
class TorchBuild:
    torch: str  # a pip version: "2.13.0", or "2.7.*" where the patch release is not known
    variant: str  # "cu126", "cpu"
    torchvision: str | None
    torchaudio: str | None
    cuda_floor: str | None = None  # the oldest CUDA of the same major that also fits (conda pins from there)

    @property
    def cuda(self) -> str | None:
        return knowledge.variant_cuda(self.variant)


def _versions(release: knowledge.TorchRelease, installed: str | None) -> tuple[str, str | None, str | None]:
    """torch, torchvision and torchaudio versions of one release, exact where the pairing rule allows.

    Since torch 2.1 a torchvision (and, through 2.10, torchaudio) patch release pairs with the torch
    patch release of the same number (torchvision 0.27.1 needs torch 2.12.1).
    """
    v = knowledge.parse_version(installed) if installed else None
    same = v is not None and f"{v.major}.{v.minor}" == release.minor
    paired = Version(release.minor) >= Version("2.1")
    torch = v.base_version if same and v is not None else f"{release.minor}.*"
    patch = str(v.micro) if same and v is not None and paired else "*"
    vision = f"{release.torchvision}.{patch}" if release.torchvision else None
    audio = None
    if release.torchaudio:
        audio = f"{release.torchaudio}.{patch}" if release.torchaudio == release.minor else f"{release.torchaudio}.*"
    return torch, vision, audio


def _target(facts: Facts, driver: str | None, ccs: list[str]) -> PlanTarget:
    """The planner's view of the machine: ``driver`` "" or None means the driver is unknown or ignored."""
    os_name = (facts.system.os or "linux").lower()
    platform = os_name if os_name in ("linux", "windows", "darwin") else "linux"
    return PlanTarget(
        driver=driver or None,
        driver_unknown=not driver,
        capabilities=tuple(cc for cc in ccs if _CC.fullmatch(cc)),
        wsl=machine.uses_windows_driver(facts) and platform != "windows",
        platform=platform,
    )


def choose_build(facts: Facts, *, driver: str | None = None, ccs: list[str] | None = None) -> TorchBuild | None:
    """The best CUDA build for this machine: the installed release if one of its variants fits, else the newest that does.

    Which variant fits, and which of those is preferred, is the environment planner's rule
    (:func:`torchrig.knowledge.builds.why_not`, :func:`~torchrig.knowledge.builds.preference`), so ``torchrig env plan``
    and the doctor's fixes always agree. ``driver`` and ``ccs`` default to the facts (``driver=""`` ignores
    the driver); a release must support the Python torch runs in, where known.
    """
    driver = driver if driver is not None else machine.driver_version(facts)
    target = _target(facts, driver, ccs if ccs is not None else machine.capabilities(facts))
    python = machine.python_version(facts)
    installed = facts.torch.version
    current = knowledge.release(installed) if installed else None
    order = ([current] if current else []) + [r for r in knowledge.releases() if r != current]
    for rel in order:
        if python and not rel.supports_python(python):
            continue
        fitting = [v for v in preference(rel) if knowledge.variant_cuda(v) and not why_not(rel, v, target)]
        if fitting:
            chosen = fitting[0]
            floor = min((v for v in fitting if _cuda_of(v).major == _cuda_of(chosen).major), key=_cuda_of)
            torch, vision, audio = _versions(rel, installed)
            return TorchBuild(torch, chosen, vision, audio, cuda_floor=knowledge.variant_cuda(floor))
    return None


def _cuda_of(variant: str) -> Version:
    return Version(knowledge.variant_cuda(variant) or "0")


def cpu_build(facts: Facts) -> TorchBuild | None:
    """The CPU build of the installed release, else of the newest release that supports this Python."""
    python = machine.python_version(facts)
    installed = facts.torch.version
    current = knowledge.release(installed) if installed else None
    order = ([current] if current else []) + [r for r in knowledge.releases() if r != current]
    for rel in order:
        if not python or rel.supports_python(python):
            torch, vision, audio = _versions(rel, installed)
            return TorchBuild(torch, "cpu", vision, audio)
    return None


def current_build(facts: Facts) -> TorchBuild | None:
    """The installed torch as a build to reinstall (same version, same variant), where the facts say both."""
    variant = machine.torch_variant(facts)
    rel = knowledge.release(facts.torch.version) if facts.torch.version else None
    if variant is None or rel is None:
        return None
    torch, vision, audio = _versions(rel, facts.torch.version)
    return TorchBuild(torch, variant, vision, audio)


def _conda_version(pip_version: str) -> str:
    return pip_version[:-2] if pip_version.endswith(".*") else pip_version


def torch_install(
    facts: Facts, build: TorchBuild, ctx: CheckContext, *, companions: bool = True, reinstall: bool | None = None
) -> tuple[str, ...]:
    """Commands that (re)install torch, and the companions present, as ``build``, with torch's installer.

    ``reinstall`` (default: whether torch is installed) uninstalls first, because pip counts an
    installed 2.13.0+cu130 as satisfying ``torch==2.13.0`` and would keep the wrong variant.
    """
    names = ["torch"]
    specs = [f"torch=={build.torch}"]
    if companions:
        for name, version in (("torchvision", build.torchvision), ("torchaudio", build.torchaudio)):
            if version and facts.companion(name):
                names.append(name)
                specs.append(f"{name}=={version}")
    reinstall = bool(facts.torch.installed or facts.torch.version) if reinstall is None else reinstall
    installer = (facts.torch.installer or "pip").lower()
    if installer == "conda":
        where = ["-p", facts.system.conda_prefix] if facts.system.conda_prefix and facts.origin == "live" else []
        build_string = "cuda*" if build.cuda else "cpu*"
        pkgs = [f"pytorch={_conda_version(build.torch)}={build_string}"]
        pkgs += [f"{n}={_conda_version(s.split('==')[1])}" for n, s in zip(names[1:], specs[1:], strict=True)]
        if build.cuda:
            # conda-forge builds its own CUDA minors: ask for this one or a newer minor of the same major,
            # which the driver runs (minor-version compatibility) and which keeps the architectures.
            major = int(build.cuda.split(".")[0])
            pkgs.append(f"cuda-version>={build.cuda_floor or build.cuda},<{major + 1}")
        return (shlex.join(["conda", "install", "-y", *where, "-c", "conda-forge", *pkgs]),)
    # macOS wheels come from PyPI itself; everywhere else the variant's index decides the build.
    index = (
        []
        if (facts.system.os or "").lower() == "darwin"
        else ["--index-url", knowledge.index_url(build.variant, base=ctx.index_base)]
    )
    py = machine.python_command(facts)
    if installer == "uv":
        target = ["--python", py] if py != "python" else []
        steps = [shlex.join(["uv", "pip", "uninstall", *target, *names])] if reinstall else []
        steps.append(shlex.join(["uv", "pip", "install", *target, *specs, *index]))
        return tuple(steps)
    steps = [shlex.join([py, "-m", "pip", "uninstall", "-y", *names])] if reinstall else []
    steps.append(shlex.join([py, "-m", "pip", "install", *specs, *index]))
    return tuple(steps)


# R580 is a long-term support branch and the last to support Maxwell, Pascal and Volta (CUDA 12.9
# release notes); it runs every CUDA 13.x build through minor-version compatibility.
RECOMMENDED_BRANCH = 580


def driver_branch(cuda: str, *, windows: bool = False) -> int | None:
    """The driver branch to install for a CUDA release: R580, unless the release needs a newer one."""
    need = knowledge.min_driver(cuda, windows=windows)
    if need is None:
        return None
    return max(RECOMMENDED_BRANCH, need.major)


# R470 is the last driver branch that supports Kepler (compute capability 3.x): NVIDIA's Kepler support notice.
LAST_KEPLER_BRANCH = 470


def driver_install(facts: Facts, minimum: Version, branch: int | None) -> tuple[str, ...]:
    """How to get a driver at ``minimum`` or newer on this machine (WSL: the Windows driver; containers: the host)."""
    kepler = [cc for cc in machine.capabilities(facts) if cc.split(".")[0].isdigit() and int(cc.split(".")[0]) < 5]
    if kepler and minimum.major > LAST_KEPLER_BRANCH:
        return (
            f"No driver that runs this build supports a Kepler GPU (compute capability {kepler[0]}): "
            f"R{LAST_KEPLER_BRANCH} is the last branch for Kepler. Keep a {LAST_KEPLER_BRANCH} driver and use a "
            "PyTorch build it runs, or move to a newer GPU.",
        )
    want = f"{minimum} or newer" + (f" (the {branch} branch is recommended)" if branch else "")
    if machine.uses_windows_driver(facts):
        wsl = " (WSL uses the Windows driver; do not install a Linux driver inside WSL)" if facts.system.wsl else ""
        return (f"Update the Windows NVIDIA driver to {want}: https://www.nvidia.com/Download/index.aspx{wsl}",)
    if facts.system.container:
        return (
            f"On the host (a container uses the host's driver), install NVIDIA driver {want}, then restart the container",
        )
    if machine.is_ubuntu(facts) and branch:
        ccs = machine.capabilities(facts)
        # Blackwell needs the open kernel modules; Maxwell, Pascal and Volta cannot use them.
        open_modules = any(knowledge.parse_version(cc) >= Version("10.0") for cc in ccs)  # type: ignore[operator]
        package = f"nvidia-driver-{branch}" + ("-open" if open_modules else "")
        return (f"sudo apt-get update && sudo apt-get install -y {package}", "sudo reboot")
    return (
        f"Install NVIDIA driver {want} from your distribution or https://www.nvidia.com/Download/index.aspx, then reboot",
    )
