"""The exact commands a fix prints: which PyTorch build fits this machine, and how to install it or a driver.

The choice of build is knowledge's rule (:func:`torchrig.knowledge.builds.best_build`, the rule of
``torchrig env plan``) applied to the machine's :func:`~torchrig.doctor.target.target_of`; the command
lines are written by :mod:`torchrig.knowledge.install`. What this module adds is what only the facts
know: which installer torch came from, which interpreter runs it, which conda prefix holds it.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import CheckContext
from torchrig.doctor.facts import Facts
from torchrig.doctor.report import tried
from torchrig.doctor.target import target_of
from torchrig.knowledge import builds, install
from torchrig.knowledge.install import Build

__all__ = ["Build", "choose_build", "cpu_build", "current_build", "driver_branch", "driver_install", "torch_install"]


def choose_build(
    facts: Facts, *, driver: str | None = None, ccs: list[str] | None = None, newest: bool = False
) -> Build | None:
    """The best CUDA build for this machine: the installed release if one of its variants fits, else the newest.

    ``driver`` and ``ccs`` default to the facts (``driver=""`` ignores the driver); ``newest`` skips the
    installed release (for a fault its arch list does not show, such as its CUDA's NVRTC).
    """
    return builds.best_build(
        target_of(facts, driver=driver, ccs=ccs),
        python=queries.python_version(facts),
        installed=None if newest else facts.torch.version,
    )


def cpu_build(facts: Facts) -> Build | None:
    """The CPU build of the installed release, else of the newest release that supports this Python."""
    return builds.cpu_build(
        python=queries.python_version(facts),
        installed=facts.torch.version,
        platform=knowledge.python_platform(facts.system.os, facts.system.machine),
    )


def current_build(facts: Facts) -> Build | None:
    """The installed torch as a build to reinstall (same version, same variant), where the facts say both."""
    variant = queries.torch_variant(facts)
    if variant is None or not facts.torch.version:
        return None
    return builds.same_build(facts.torch.version, variant)


def torch_install(
    facts: Facts,
    build: Build,
    ctx: CheckContext,
    *,
    companions: bool = True,
    reinstall: bool | None = None,
    as_set: bool = False,
) -> tuple[str, ...]:
    """Commands that (re)install torch, and the companions present, as ``build``, with torch's installer.

    ``reinstall`` (default: whether torch is installed) uninstalls first, because pip counts an
    installed 2.13.0+cu130 as satisfying ``torch==2.13.0`` and would keep the wrong variant. ``as_set``
    installs torchvision and torchaudio with it whether or not the report shows them (a build replaced because
    of where it came from: the companions came from the same place).
    """
    present = [name for name in install.COMPANIONS if as_set or (companions and facts.companion(name))]
    note = _driver_note(facts, build) + _companion_note(facts, build, present if companions else install.COMPANIONS)
    reinstall = bool(facts.torch.installed or facts.torch.version) if reinstall is None else reinstall
    installer = (facts.torch.installer or "pip").lower()
    if installer == "conda":
        prefix = facts.system.conda_prefix if facts.origin == "live" else None
        return (*note, shlex.join(install.conda_install(build, companions=present, prefix=prefix)))
    platform = (facts.system.os or "linux").lower()
    py = queries.python_command(facts)
    if installer == "uv":
        python = py if py != "python" else None
        steps = [install.uv_uninstall(build, python=python, companions=present)] if reinstall else []
        steps.append(
            install.uv_install(build, python=python, companions=present, index_base=ctx.index_base, platform=platform)
        )
        return (*note, *(queries.shell_join(facts, step) for step in steps))
    pip = (py, "-m", "pip")
    again = _already_tried(facts, build)
    steps = [install.pip_uninstall(build, pip=pip, companions=present)] if reinstall or again else []
    line = install.pip_install(build, pip=pip, companions=present, index_base=ctx.index_base, platform=platform)
    at = line.index("install") + 1
    steps.append((*line[:at], "--no-cache-dir", *line[at:]) if again else line)
    if again:
        still = f"torch is still {facts.torch.version}" if facts.torch.version else "the problem stayed"
        note += (
            f"# the report shows a like install already ran ({again}) and {still}: pip keeps an installed torch that "
            'satisfies the request ("Requirement already satisfied"), reuses a cached wheel, or installed into '
            "another Python than the one running the program; so uninstall first, install without the cache, then "
            "check which torch that Python imports",
        )
        steps.append((py, "-c", "import torch; print(torch.__version__, torch.version.cuda, torch.__file__)"))
    return (*note, *(queries.shell_join(facts, step) for step in steps))


def _already_tried(facts: Facts, build: Build) -> str | None:
    """A command of the report that already asked for this build, or for a CUDA build that did not land.

    Either it asked for the same variant (and the same release, or none pinned), or it asked for a
    variant other than the one the report's torch has: the install ran and did not take effect.
    """
    have = queries.torch_variant(facts)
    for attempt in tried.torch_installs(facts.tried):
        same = attempt.variant == build.variant and (attempt.version is None or _pins(build.torch, attempt.version))
        missed = attempt.variant is not None and have is not None and attempt.variant != have
        if same or missed:
            return attempt.command
    return None


def _pins(pin: str, version: str) -> bool:
    """Whether ``torch==pin`` (``2.13.0`` or ``2.13.*``) is satisfied by ``version``."""
    try:
        return Version(version) in SpecifierSet(f"=={pin}")
    except (InvalidVersion, InvalidSpecifier):
        return False


def _companion_note(facts: Facts, build: Build, known: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A report that does not list torchvision/torchaudio: they must still move with torch, so say their pins."""
    if facts.origin != "report" or facts.companions:
        return ()
    pins = [
        f"{name}=={build.version_of(name)}"
        for name in install.COMPANIONS
        if name not in known and build.version_of(name)
    ]
    if not pins:
        return ()
    return (f"# if torchvision or torchaudio is installed, change it with torch, to the matching {' and '.join(pins)}",)


def _driver_note(facts: Facts, build: Build) -> tuple[str, ...]:
    """When the driver is unknown, what the chosen build needs of it (a fix must not assume the driver)."""
    if not build.cuda or queries.driver_version(facts):
        return ()
    need = knowledge.min_driver(build.cuda, windows=queries.uses_windows_driver(facts))
    if need is None:
        return ()
    where = "the report does not show the driver" if facts.origin == "report" else "no driver was found"
    return (f"# {build.variant} needs NVIDIA driver {builds.show_driver(need)} or newer ({where})",)


def driver_branch(cuda: str | None, *, windows: bool = False, ccs: Sequence[str] = ()) -> int | None:
    """The driver branch to install for a CUDA release (or any, for None) on GPUs of capabilities ``ccs``.

    Knowledge's rule (:func:`torchrig.knowledge.recommended_branch`): the newest CUDA major's
    compatibility branch (R580), or the release's own minimum where newer, never past the last branch
    of a GPU here (Kepler: R470; Maxwell, Pascal, Volta: R580). None when no branch does both.
    """
    return knowledge.recommended_branch(cuda, windows=windows, ccs=ccs)


def driver_install(facts: Facts, minimum: Version, branch: int | None) -> tuple[str, ...]:
    """How to get a driver at ``minimum`` or newer on this machine (WSL: the Windows driver; containers: the host)."""
    ended = knowledge.oldest_last_branch(queries.capabilities(facts))
    if ended and minimum.major > ended[0]:
        last, cc = ended
        arch = knowledge.architecture_of(cc)
        family = arch.name if arch else f"compute capability {cc}"
        return (
            f"No driver that runs this build supports a {family} GPU (compute capability {cc}): "
            f"R{last} is the last branch for {family}. Keep a {last} driver and use a PyTorch build it runs, "
            "or move to a newer GPU.",
        )
    want = f"{minimum} or newer" + (f" (the {branch} branch is recommended)" if branch else "")
    if queries.uses_windows_driver(facts):
        wsl = " (WSL uses the Windows driver; do not install a Linux driver inside WSL)" if facts.system.wsl else ""
        return (f"Update the Windows NVIDIA driver to {want}: https://www.nvidia.com/Download/index.aspx{wsl}",)
    if facts.system.container:
        return (
            f"On the host (a container uses the host's driver), install NVIDIA driver {want}, then restart the container",
        )
    if queries.is_ubuntu(facts) and branch:
        ccs = queries.capabilities(facts)
        # Blackwell needs the open kernel modules; Maxwell, Pascal and Volta cannot use them.
        open_modules = any(knowledge.parse_version(cc) >= Version("10.0") for cc in ccs)  # type: ignore[operator]
        package = f"nvidia-driver-{branch}" + ("-open" if open_modules else "")
        return (f"sudo apt-get update && sudo apt-get install -y {package}", "sudo reboot")
    return (
        f"Install NVIDIA driver {want} from your distribution or https://www.nvidia.com/Download/index.aspx, then reboot",
    )
