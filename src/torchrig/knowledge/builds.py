"""Which PyTorch build fits a machine, and the exact commands that install it.

The rule, applied to one torch release (the newest known unless asked otherwise):

1. No NVIDIA GPU: the ``cpu`` build.
2. Otherwise a CUDA variant of that release fits when
   - the driver runs its CUDA version, counting minor-version compatibility (``knowledge.min_driver``;
     under WSL the driver is the Windows one, so the Windows column counts), and
   - its compiled architectures carry kernels for *every* GPU in the box (``knowledge.build_covers``);
   - on native Windows, it has Windows wheels at all.
3. Among the variants that fit, the release's default build (the one PyPI ships and most people run)
   wins; when it does not fit, the newest older variant that does; a variant newer than the default
   is taken only when nothing older fits, and otherwise shown as an option.
4. When nothing fits, the plan has no variant and says what would: the newest torch release that fits
   as the machine stands, or the driver to install.

Everything here is pure: the inputs are values (a :class:`Machine`, versions, a mirror base), the
output is a frozen :class:`Plan`; the probes and the CLI fill the inputs.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from torchrig import knowledge as k
from torchrig._core.errors import UserError
from torchrig.doctor.facts import Facts

_CC = re.compile(r"^(\d{1,2})\.(\d)$")
_TORCH = re.compile(r"^(\d+)\.(\d+)(\.\d+)?$")
_VARIANT = re.compile(r"^(cpu|cu\d{3})$")
_PLATFORMS = ("linux", "windows", "darwin")


@dataclass(frozen=True)
class Machine:
    """The machine a plan is for: this one (from probes) or another (from --driver / --cc)."""

    driver: str | None = None  # "580.95.05"; under WSL, the Windows driver nvidia-smi shows
    driver_unknown: bool = False  # planning for another machine without --driver: assume one new enough
    capabilities: tuple[str, ...] = ()  # one per GPU, "8.6"
    gpu_names: tuple[str, ...] = ()  # same order as capabilities, where known
    unidentified_gpus: int = 0  # NVIDIA GPUs seen (on the PCI bus) whose capability is unknown
    wsl: bool = False
    platform: str = "linux"  # "linux", "windows", "darwin"
    machine: str = "x86_64"
    looked: tuple[str, ...] = ()  # how the probes looked for GPUs and found none ("NVML: library not found")

    def __post_init__(self) -> None:
        for cc in self.capabilities:
            if not _CC.match(cc):
                raise UserError(f"{cc!r} is not a compute capability; give it as MAJOR.MINOR, e.g. 8.6.")
        if self.driver is not None and k.parse_version(self.driver) is None:
            raise UserError(f"{self.driver!r} is not a driver version; give it as nvidia-smi shows it, e.g. 580.95.05.")
        if self.platform not in _PLATFORMS:
            raise UserError(
                f"{self.platform!r} is not a platform torchrig plans for; use one of {', '.join(_PLATFORMS)}."
            )

    @property
    def has_gpu(self) -> bool:
        return bool(self.capabilities) or self.unidentified_gpus > 0

    def describe(self) -> str:
        parts = []
        if self.capabilities:
            named = [f"{n} ({cc})" if n else cc for n, cc in zip(self._names(), self.capabilities, strict=True)]
            parts.append(f"GPU{'s' if len(named) > 1 else ''} {', '.join(named)}")
        if self.unidentified_gpus:
            parts.append(f"{self.unidentified_gpus} NVIDIA GPU(s) of unknown compute capability")
        if not parts:
            parts.append("no NVIDIA GPU")
        if self.driver:
            driver = f"driver {self.driver}" + (" (Windows, under WSL)" if self.wsl else "")
        else:
            driver = "driver not given" if self.driver_unknown else "no NVIDIA driver"
        return f"{'; '.join(parts)}; {driver}"

    def _names(self) -> list[str]:
        names = list(self.gpu_names) + [""] * len(self.capabilities)
        return names[: len(self.capabilities)]


@dataclass(frozen=True)
class Rejected:
    variant: str
    why: str


@dataclass(frozen=True)
class Suggestion:
    """What would work instead: another torch release, another driver, or another Python."""

    text: str
    torch: str | None = None
    variant: str | None = None
    driver: str | None = None
    python: str | None = None


@dataclass(frozen=True)
class Commands:
    """Install commands as argv lists; ``to_dict`` gives them as shell lines."""

    pip: tuple[str, ...]
    uv: tuple[str, ...]
    conda: tuple[str, ...]

    def to_dict(self) -> dict[str, str]:
        return {"pip": shlex.join(self.pip), "uv": shlex.join(self.uv), "conda": shlex.join(self.conda)}


@dataclass(frozen=True)
class Plan:
    torch: str  # as asked: "2.13" or "2.13.0"
    python: str  # "3.12"
    machine: Machine
    variant: str | None  # "cu130", "cpu", or None when nothing fits
    reason: str
    rejected: tuple[Rejected, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    notes: tuple[str, ...] = ()
    index_base: str | None = None  # the configured PyTorch-wheel mirror, None = download.pytorch.org

    @property
    def requirement(self) -> str:
        """The pip requirement for torch: an exact version when one was asked, else the release's series."""
        return f"torch=={self.torch}" if self.torch.count(".") == 2 else f"torch=={self.torch}.*"

    @property
    def index_url(self) -> str | None:
        return k.index_url(self.variant, base=self.index_base) if self.variant else None

    @property
    def conda_specs(self) -> tuple[str, ...]:
        """conda-forge specs: ``pytorch`` forced to a CUDA (or CPU) build, with a ``cuda-version`` pin."""
        if self.variant is None:
            return ()
        series = self.torch if self.torch.count(".") == 2 else f"{self.torch}.*"
        cuda = k.variant_cuda(self.variant)
        if cuda is None:
            return (f"pytorch={series}=cpu*",)
        # conda-forge builds its own CUDA minors: this one or a newer minor of the same major, which the
        # driver runs through minor-version compatibility (the doctor's conda fixes pin the same way)
        major = int(cuda.split(".")[0])
        return (f"pytorch={series}=cuda*", f"cuda-version>={cuda},<{major + 1}")

    def commands(self, env_name: str = "torch") -> Commands | None:
        """The exact install commands for pip (into the active environment), uv, and conda (a new env)."""
        if self.variant is None or self.index_url is None:
            return None
        return Commands(
            pip=("pip", "install", self.requirement, "--index-url", self.index_url),
            uv=("uv", "pip", "install", self.requirement, "--index", self.index_url),
            conda=(
                "conda",
                "create",
                "-n",
                env_name,
                "--override-channels",
                "-c",
                "conda-forge",
                f"python={self.python}",
                *self.conda_specs,
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        commands = self.commands()
        return {
            "torch": self.torch,
            "python": self.python,
            "machine": {
                "driver": self.machine.driver,
                "compute_capabilities": list(self.machine.capabilities),
                "gpu_names": list(self.machine.gpu_names),
                "unidentified_gpus": self.machine.unidentified_gpus,
                "wsl": self.machine.wsl,
                "platform": self.machine.platform,
                "looked": list(self.machine.looked),
            },
            "variant": self.variant,
            "reason": self.reason,
            "rejected": [{"variant": r.variant, "why": r.why} for r in self.rejected],
            "suggestions": [{k_: v for k_, v in vars(s).items() if v is not None} for s in self.suggestions],
            "notes": list(self.notes),
            "index_url": self.index_url,
            "requirement": self.requirement,
            "commands": commands.to_dict() if commands else None,
        }


def plan(
    machine: Machine,
    *,
    torch: str | None = None,
    python: str,
    backend: str = "auto",
    index_base: str | None = None,
) -> Plan:
    """Choose the PyTorch build for ``machine`` (see the module docstring for the rule).

    ``torch`` is "2.13" or "2.13.0" (default: the newest release in the tables); ``backend`` is "auto"
    or a variant ("cpu", "cu126") the caller insists on; ``index_base`` is a PyTorch-wheel mirror.
    """
    torch = _check_torch(torch)
    python = _check_python(python)
    if backend != "auto" and not _VARIANT.match(backend):
        raise UserError(f"{backend!r} is not a backend; use auto, cpu, or a CUDA variant such as cu126.")
    release = k.release(torch)
    assert release is not None  # _check_torch made sure
    base = dict(torch=torch, python=python, machine=machine, index_base=index_base)
    ranked = preference(release)

    if not release.supports_python(python):
        return Plan(
            **base,
            variant=None,
            reason=f"torch {release.minor} has no wheels for Python {python} "
            f"(it supports {release.python_min} to {release.python_max}).",
            suggestions=_python_suggestions(machine, release, python),
        )

    if machine.platform == "darwin":
        return _finish(
            base, "cpu", "macOS has no CUDA: the cpu build (it uses the Apple GPU through MPS).", [], backend
        )

    verdicts = {v: why_not(release, v, machine, torch) for v in ranked}
    rejected = [Rejected(v, why) for v, why in verdicts.items() if why]

    if backend != "auto":
        return _forced(base, release, verdicts, backend, machine)

    if not machine.has_gpu:
        why = ([f"driver {machine.driver} is installed, but no GPU is visible"] if machine.driver else []) + list(
            machine.looked
        )
        reason = "no NVIDIA GPU was found" + (f" ({'; '.join(why)})" if why else "")
        return _finish(base, "cpu", reason + ": the cpu build.", [], backend)

    if machine.driver is None and not machine.driver_unknown:
        best = next((v for v in ranked if not _arch_gap(release, v, machine)), None)
        want = k.min_driver(k.variant_cuda(best) or "") if best else None
        suggestions = (
            [
                Suggestion(
                    f"install an NVIDIA driver >= {show_driver(want)} for {best}, then plan again",
                    driver=show_driver(want),
                    variant=best,
                )
            ]
            if best and want
            else []
        )
        return Plan(
            **base,
            variant=None,
            reason=f"{_gpu_count(machine)} found but no NVIDIA driver is loaded, so no CUDA build can run "
            "(use --backend cpu to install the cpu build meanwhile).",
            rejected=tuple(rejected),
            suggestions=tuple(suggestions),
            notes=_arch_notes(machine),
        )

    chosen = next((v for v in ranked if not verdicts[v]), None)
    if chosen is not None:
        newer = [
            Rejected(
                v,
                f"also fits, but it is newer than {release.default}, the build PyPI ships for torch "
                f"{release.minor}; ask for it with --backend {v}",
            )
            for v in ranked[ranked.index(chosen) + 1 :]
            if not verdicts[v] and _cuda(v) > _cuda(chosen)
        ]
        return _finish(base, chosen, _fit_reason(release, chosen, machine), rejected + newer, backend)

    return Plan(
        **base,
        variant=None,
        reason=f"no build of torch {release.minor} fits {machine.describe()}.",
        rejected=tuple(rejected),
        suggestions=tuple(_what_would_fit(machine, release, python, torch)),
        notes=_arch_notes(machine),
    )


def machine_from_facts(facts: Facts) -> Machine:
    """The :class:`Machine` the doctor's probes describe."""
    from torchrig.knowledge.gpu_models import capability_of

    # a GPU NVML named but gave no capability for (an old driver, a report) is looked up by model name
    known = [(g.name or "", g.compute_capability or capability_of(g.name)) for g in facts.gpus.devices]
    devices = [(name, cc) for name, cc in known if cc]
    unidentified = len(facts.gpus.devices) - len(devices)
    if not facts.gpus.devices:
        unidentified = len(facts.system.pci_gpus)
    os_name = (facts.system.os or "Linux").lower()
    looked = []
    if facts.driver.nvml_error:
        looked.append(f"NVML: {facts.driver.nvml_error}")
    if not facts.system.pci_gpus:
        looked.append("no NVIDIA device on the PCI bus")
    if not facts.driver.kernel_module:
        looked.append("no NVIDIA kernel module loaded")
    return Machine(
        driver=facts.driver.userspace or facts.driver.kernel_module,
        capabilities=tuple(cc for _, cc in devices if cc),
        gpu_names=tuple(name for name, _ in devices),
        unidentified_gpus=unidentified,
        wsl=bool(facts.system.wsl),
        platform=os_name if os_name in _PLATFORMS else "linux",
        machine=facts.system.machine or "x86_64",
        looked=tuple(looked) if not devices and not unidentified else (),
    )


# --- the rule ------------------------------------------------------------------------------


@functools.cache
def preference(release: k.TorchRelease) -> tuple[str, ...]:
    """The release's variants in order of preference: default, older ones newest first, then newer ones."""
    default = _cuda(release.default)
    older = sorted((v for v in release.variants if _cuda(v) <= default), key=_cuda, reverse=True)
    newer = sorted((v for v in release.variants if _cuda(v) > default), key=_cuda)
    return tuple(older + newer)


def why_not(release: k.TorchRelease, variant: str, machine: Machine, torch: str | None = None) -> str:
    """Why ``variant`` cannot run on ``machine`` ("" when it can); ``torch`` is an exact version, if one was asked."""
    first = dict(release.since).get(variant)
    if torch is not None and torch.count(".") == 2 and first and Version(torch) < Version(first):
        return f"torch {torch} has no {variant} build (it came with {first})"
    if machine.platform == "windows" and variant in release.linux_only:
        return f"torch {release.minor} has no Windows wheels for {variant}"
    if machine.driver is not None:
        cuda = k.variant_cuda(variant) or ""
        need = k.min_driver(cuda, windows=machine.wsl or machine.platform == "windows")
        have = k.parse_version(machine.driver)
        if need is not None and have is not None and have < need:
            return f"needs driver >= {show_driver(need)} for CUDA {cuda}, and this driver is {machine.driver}"
    return _arch_gap(release, variant, machine)


def _arch_gap(release: k.TorchRelease, variant: str, machine: Machine) -> str:
    archs = k.arch_list(release.minor, variant) or []
    missing = [cc for cc in dict.fromkeys(machine.capabilities) if not k.build_covers(archs, cc)]
    if not missing:
        return ""
    names = {cc: n for n, cc in zip(machine._names(), machine.capabilities, strict=True) if n}
    which = ", ".join(f"{cc} ({names[cc]})" if cc in names else cc for cc in missing)
    sm = ", ".join(a.removeprefix("sm_") for a in archs if a.startswith("sm_"))
    return f"has no kernels for compute capability {which}: torch {release.minor} {variant} is compiled for sm {sm}"


def _fit_reason(release: k.TorchRelease, variant: str, machine: Machine) -> str:
    cuda = k.variant_cuda(variant) or ""
    need = k.min_driver(cuda, windows=machine.wsl or machine.platform == "windows")
    gpus = ", ".join(dict.fromkeys(machine.capabilities))
    role = (
        f"torch {release.minor}'s default build"
        if variant == release.default
        else f"the best torch {release.minor} build that fits"
    )
    cover = f"has kernels for compute capability {gpus}" if gpus else "was chosen by the driver alone"
    if machine.driver is None:
        driver = f"it needs driver >= {show_driver(need)} (no driver was given)"
    else:
        driver = f"driver {machine.driver} runs CUDA {cuda} (needs >= {show_driver(need)})"
    return f"{variant} is {role}: {driver}, and the build {cover}."


def show_driver(version: Version | None) -> str:
    """A driver version as NVIDIA writes it: 575.51.3 -> "575.51.03" (packaging drops the zero)."""
    if version is None:
        return "?"
    head, *rest = version.release
    return ".".join([str(head), *(f"{part:02d}" for part in rest)])


def _finish(base: dict[str, Any], variant: str, reason: str, rejected: list[Rejected], backend: str) -> Plan:
    machine: Machine = base["machine"]
    notes = list(_arch_notes(machine))
    cuda = k.variant_cuda(variant)
    if cuda and machine.driver:
        own = k.min_driver(cuda, windows=machine.wsl or machine.platform == "windows", minor_compat=False)
        have = k.parse_version(machine.driver)
        if own is not None and have is not None and have < own:
            notes.append(
                f"driver {machine.driver} is older than CUDA {cuda}'s own ({show_driver(own)}): the build runs through "
                "minor-version compatibility, which excludes JIT of newer PTX."
            )
    if cuda and machine.unidentified_gpus and not machine.capabilities:
        notes.append("the GPUs' compute capability is unknown, so only the driver decided; give it with --cc.")
    if variant == "cpu" and machine.has_gpu and backend == "cpu":
        notes.append("the cpu build leaves the GPUs unused.")
    if machine.has_gpu and variant != "cpu":
        rejected = [*rejected, Rejected("cpu", "runs anywhere, but leaves the GPUs unused")]
    return Plan(**base, variant=variant, reason=reason, rejected=tuple(rejected), notes=tuple(notes))


def _forced(
    base: dict[str, Any],
    release: k.TorchRelease,
    verdicts: dict[str, str],
    backend: str,
    machine: Machine,
) -> Plan:
    if backend == "cpu":
        return _finish(base, "cpu", "the cpu build, as asked.", [], backend)
    if backend not in release.variants:
        shipped = [r.minor for r in k.releases() if backend in r.variants]
        where = f"; {backend} shipped with torch {', '.join(shipped)}" if shipped else ""
        return Plan(
            **base,
            variant=None,
            reason=f"torch {release.minor} has no {backend} build (it has {', '.join(release.variants)}){where}.",
            suggestions=tuple(
                Suggestion(f"torch {minor} has {backend}", torch=minor, variant=backend) for minor in shipped[:1]
            ),
        )
    if not machine.has_gpu:
        return Plan(**base, variant=None, reason=f"{backend} cannot run here: no NVIDIA GPU was found.")
    if machine.driver is None and not machine.driver_unknown:
        return Plan(**base, variant=None, reason=f"{backend} cannot run here: no NVIDIA driver is loaded.")
    why = verdicts[backend]
    if why:
        return Plan(
            **base,
            variant=None,
            reason=f"{backend} cannot run here: it {why}.",
            rejected=(Rejected(backend, why),),
            suggestions=tuple(_what_would_fit(machine, release, base["python"], base["torch"])),
        )
    return _finish(base, backend, f"{backend}, as asked: " + _fit_reason(release, backend, machine), [], backend)


# --- what would fit instead ----------------------------------------------------------------


def _what_would_fit(machine: Machine, release: k.TorchRelease, python: str, torch: str) -> list[Suggestion]:
    out: list[Suggestion] = []
    for variant in preference(release):  # a later patch release of the same series that has the build
        first = dict(release.since).get(variant)
        if first and torch.count(".") == 2 and Version(torch) < Version(first):
            if not why_not(release, variant, machine):
                out.append(
                    Suggestion(f"torch {first} with {variant} fits as the machine stands", torch=first, variant=variant)
                )
                break
    older = _newest_fitting_release(machine, python, below=release.minor)
    if older is not None:
        out.append(
            Suggestion(
                f"torch {older.torch} with {older.variant} fits as the machine stands",
                torch=older.torch,
                variant=older.variant,
            )
        )
    # the builds a new driver would unlock: those that exist for this version and carry every GPU's kernels
    driverless = dataclasses.replace(machine, driver=None, driver_unknown=True)
    arch_ok = [v for v in preference(release) if not why_not(release, v, driverless, torch)]
    if arch_ok and machine.driver is not None:  # (without a driver, only the architectures can be the problem)
        best = arch_ok[0]
        need = k.min_driver(k.variant_cuda(best) or "", windows=machine.wsl or machine.platform == "windows")
        lowest = min(arch_ok, key=lambda v: k.min_driver(k.variant_cuda(v) or "") or Version("0"))
        text = f"install NVIDIA driver >= {show_driver(need)} for torch {release.minor} {best}"
        low_need = k.min_driver(k.variant_cuda(lowest) or "", windows=machine.wsl or machine.platform == "windows")
        if low_need is not None and low_need != need:
            text += f" (>= {show_driver(low_need)} is enough for {lowest})"
        out.append(Suggestion(text, torch=release.minor, variant=best, driver=show_driver(need)))
    elif not arch_ok and len(set(machine.capabilities)) > 1:
        groups = {
            cc: next((v for v in preference(release) if k.build_covers(k.arch_list(release.minor, v) or [], cc)), None)
            for cc in dict.fromkeys(machine.capabilities)
        }
        if all(groups.values()):
            detail = "; ".join(f"{cc} needs {v}" for cc, v in groups.items())
            out.append(
                Suggestion(
                    f"no single build serves every GPU here ({detail}): make one environment per group and choose "
                    "its GPUs with CUDA_VISIBLE_DEVICES"
                )
            )
    return out


def _python_suggestions(machine: Machine, release: k.TorchRelease, python: str) -> tuple[Suggestion, ...]:
    out = []
    older = _newest_fitting_release(machine, python, below=None)
    if older is not None:
        out.append(
            Suggestion(
                f"torch {older.torch} supports Python {python} and fits with {older.variant}",
                torch=older.torch,
                variant=older.variant,
            )
        )
    out.append(Suggestion(f"use Python {release.python_max} with torch {release.minor}", python=release.python_max))
    return tuple(out)


@dataclass(frozen=True)
class _Fit:
    torch: str
    variant: str


def _newest_fitting_release(machine: Machine, python: str, *, below: str | None) -> _Fit | None:
    """The newest torch release (older than ``below``) that supports ``python`` and fits ``machine``."""
    for rel in _releases():
        if below is not None and Version(rel.minor) >= Version(below):
            continue
        if not rel.supports_python(python):
            continue
        if not machine.has_gpu:
            return _Fit(rel.minor, "cpu")
        if machine.driver is None and not machine.driver_unknown:
            return None
        fit = next((v for v in preference(rel) if not why_not(rel, v, machine)), None)
        if fit is not None:
            return _Fit(rel.minor, fit)
    return None


# --- small helpers -------------------------------------------------------------------------


@functools.cache
def _releases() -> tuple[k.TorchRelease, ...]:
    # the tables are package data, fixed for the life of the process
    return tuple(k.releases())


@functools.cache
def _cuda(variant: str) -> Version:
    return Version(k.variant_cuda(variant) or "0")


def _gpu_count(machine: Machine) -> str:
    n = len(machine.capabilities) + machine.unidentified_gpus
    return f"{n} NVIDIA GPU{'s' if n > 1 else ''}"


def _arch_notes(machine: Machine) -> tuple[str, ...]:
    if machine.machine not in ("x86_64", "amd64", "AMD64") and machine.capabilities:
        return (
            f"the architecture lists are those of the x86_64 wheels; {machine.machine} builds differ "
            "(e.g. aarch64 cu130 ships sm 80, 90, 100, 110, 120).",
        )
    return ()


def _check_torch(torch: str | None) -> str:
    if torch is None:
        return k.releases()[0].minor
    text = torch.strip()
    if "+" in text:
        raise UserError(
            f"give the torch version without a build tag ({text.split('+')[0]}); choose the build with --backend."
        )
    if not _TORCH.match(text):
        raise UserError(f"{torch!r} is not a torch version; give it as 2.13 or 2.13.0.")
    if k.release(text) is None:
        known = ", ".join(r.minor for r in k.releases()[:4])
        raise UserError(f"torch {text} is not in torchrig's tables (newest known: {known}).")
    return text


def _check_python(python: str) -> str:
    match = re.match(r"^(\d+)\.(\d+)", python.strip())
    if not match:
        raise UserError(f"{python!r} is not a Python version; give it as 3.12.")
    return f"{match.group(1)}.{match.group(2)}"


def capabilities(values: Sequence[str]) -> tuple[str, ...]:
    """Normalise --cc values ("86" or "8.6" or "sm_86") to "8.6"."""
    out = []
    for v in values:
        text = v.strip().removeprefix("sm_")
        if re.fullmatch(r"\d{2,3}", text):
            text = f"{text[:-1]}.{text[-1]}"
        out.append(text)
    return tuple(out)
