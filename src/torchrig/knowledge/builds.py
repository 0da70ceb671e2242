"""The one rule that picks a PyTorch build for a machine, used by ``torchrig env plan`` and the doctor's fixes.

The rule, applied to one torch release (unless asked otherwise, the newest whose builds the tables list in
full: a release known only in part, such as 2.15 whose only sourced build is PyPI's cu132, is planned for
when asked for by name or when it is the one installed):

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

Everything here is pure: the inputs are values (a :class:`Target`, versions, a mirror base), the
output is a frozen :class:`BuildPlan`. :func:`torchrig.doctor.target_of` makes the Target of a machine
the doctor has facts about (this one, or a report's); ``--driver``/``--cc`` describe another one.
:func:`best_build` walks the releases with the same rule for a fix ("which build should replace this
one"); :mod:`torchrig.knowledge.install` writes the commands for whichever build is chosen.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from shlex import join as shlex_join
from typing import Any, TypedDict

from packaging.version import Version

from torchrig import knowledge as k
from torchrig._core.errors import UserError
from torchrig.knowledge import install
from torchrig.knowledge.install import Build

_CC = re.compile(r"^(\d{1,2})\.(\d)$")
_TORCH = re.compile(r"^(\d+)\.(\d+)(\.\d+)?$")
_VARIANT = re.compile(r"^(cpu|cu\d{3})$")
PLATFORMS = ("linux", "windows", "darwin")


@dataclass(frozen=True)
class Target:
    """The machine a build is chosen for: this one (from the doctor's facts) or another (--driver / --cc)."""

    driver: str | None = None  # "580.95.05"; under WSL, the Windows driver nvidia-smi shows
    driver_unknown: bool = False  # planning for another target without --driver: assume one new enough
    capabilities: tuple[str, ...] = ()  # one per GPU, "8.6"
    gpu_names: tuple[str, ...] = ()  # same order as capabilities, where known
    unidentified_gpus: int = 0  # NVIDIA GPUs seen (on the PCI bus) whose capability is unknown
    wsl: bool = False
    platform: str = "linux"  # "linux", "windows", "darwin"
    cpu_arch: str = "x86_64"  # platform.target(): the architecture lists differ on aarch64
    looked: tuple[str, ...] = ()  # how the probes looked for GPUs and found none ("NVML: library not found")

    def __post_init__(self) -> None:
        for cc in self.capabilities:
            if not _CC.match(cc):
                raise UserError(f"{cc!r} is not a compute capability; give it as MAJOR.MINOR, e.g. 8.6.")
        if self.driver is not None and k.parse_version(self.driver) is None:
            raise UserError(f"{self.driver!r} is not a driver version; give it as nvidia-smi shows it, e.g. 580.95.05.")
        if self.platform not in PLATFORMS:
            raise UserError(
                f"{self.platform!r} is not a platform torchrig plans for; use one of {', '.join(PLATFORMS)}."
            )

    @property
    def wheel_platform(self) -> str | None:
        """The platform whose PyPI wheels the Python ranges are read for ("macos-arm64", "windows", ...)."""
        return k.python_platform(self.platform, self.cpu_arch)

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
    """Install commands as argv lists (written by :mod:`torchrig.knowledge.install`); ``to_dict`` gives shell lines."""

    pip: tuple[str, ...]
    uv: tuple[str, ...]
    conda: tuple[str, ...]

    def to_dict(self) -> dict[str, str]:
        return {"pip": shlex_join(self.pip), "uv": shlex_join(self.uv), "conda": shlex_join(self.conda)}


@dataclass(frozen=True)
class BuildPlan:
    """Which build of one torch release fits a :class:`Target`, why, what was rejected, and what else would."""

    SCHEMA = "torchrig.env.plan/1"  # the JSON this plan prints as (env plan --json)

    torch: str  # as asked: "2.13" or "2.13.0"
    python: str  # "3.12"
    target: Target
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
    def build(self) -> Build | None:
        """The chosen build (torch only: a plan installs no companions), with its conda CUDA floor."""
        if self.variant is None:
            return None
        series = self.torch if self.torch.count(".") == 2 else f"{self.torch}.*"
        return Build(series, self.variant)

    @property
    def conda_specs(self) -> tuple[str, ...]:
        """conda-forge specs: ``pytorch`` forced to a CUDA (or CPU) build, with a ``cuda-version`` pin."""
        return install.conda_specs(self.build) if self.build else ()

    def commands(self, env_name: str = "torch") -> Commands | None:
        """The exact install commands for pip (into the active environment), uv, and conda (a new env)."""
        build = self.build
        if build is None:
            return None
        return Commands(
            pip=install.pip_install(build, pip=("pip",), index_base=self.index_base),
            uv=install.uv_install(build, index_base=self.index_base),
            conda=install.conda_create(build, name=env_name, python=self.python),
        )

    def to_dict(self) -> dict[str, Any]:
        commands = self.commands()
        return {
            "schema": self.SCHEMA,
            "torch": self.torch,
            "python": self.python,
            "machine": {  # the JSON keeps the user's word for it
                "driver": self.target.driver,
                "compute_capabilities": list(self.target.capabilities),
                "gpu_names": list(self.target.gpu_names),
                "unidentified_gpus": self.target.unidentified_gpus,
                "wsl": self.target.wsl,
                "platform": self.target.platform,
                "looked": list(self.target.looked),
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


class _PlanBase(TypedDict):
    """The :class:`BuildPlan` fields every outcome of :func:`plan` shares."""

    torch: str
    python: str
    target: Target
    index_base: str | None


def plan(
    target: Target,
    *,
    torch: str | None = None,
    python: str,
    backend: str = "auto",
    index_base: str | None = None,
) -> BuildPlan:
    """Choose the PyTorch build for ``target`` (see the module docstring for the rule).

    ``torch`` is "2.14" or "2.14.0" (default: the newest release whose builds the tables list in full); ``backend`` is "auto"
    or a variant ("cpu", "cu126") the caller insists on; ``index_base`` is a PyTorch-wheel mirror.
    """
    torch = _check_torch(torch)
    python = _check_python(python)
    if backend != "auto" and not _VARIANT.match(backend):
        raise UserError(f"{backend!r} is not a backend; use auto, cpu, or a CUDA variant such as cu126.")
    release = k.release(torch)
    assert release is not None  # _check_torch made sure
    base: _PlanBase = {"torch": torch, "python": python, "target": target, "index_base": index_base}
    ranked = preference(release)

    if not release.supports_python(python, target.wheel_platform):
        span = _python_range(release, target)
        where = "" if span.platform == "linux-x86_64" else f"{span.where} "  # Linux x86_64: the plan's default
        return BuildPlan(
            **base,
            variant=None,
            reason=f"torch {release.minor} has no {where}wheels for Python {python} "
            f"(it has them for {span.low} to {span.high}).",
            suggestions=_python_suggestions(target, release, python),
        )

    if target.platform == "darwin":
        return _finish(
            base, "cpu", "macOS has no CUDA: the cpu build (it uses the Apple GPU through MPS).", [], backend
        )

    verdicts = {v: why_not(release, v, target, torch) for v in ranked}
    rejected = [Rejected(v, why) for v, why in verdicts.items() if why]

    if backend != "auto":
        return _forced(base, release, verdicts, backend, target)

    if not target.has_gpu:
        why = ([f"driver {target.driver} is installed, but no GPU is visible"] if target.driver else []) + list(
            target.looked
        )
        reason = "no NVIDIA GPU was found" + (f" ({'; '.join(why)})" if why else "")
        return _finish(base, "cpu", reason + ": the cpu build.", [], backend)

    if target.driver is None and not target.driver_unknown:
        best = next((v for v in ranked if not _arch_gap(release, v, target)), None)
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
        return BuildPlan(
            **base,
            variant=None,
            reason=f"{_gpu_count(target)} found but no NVIDIA driver is loaded, so no CUDA build can run "
            "(use --backend cpu to install the cpu build meanwhile).",
            rejected=tuple(rejected),
            suggestions=tuple(suggestions),
            notes=_arch_notes(target),
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
        return _finish(base, chosen, _fit_reason(release, chosen, target), rejected + newer, backend)

    return BuildPlan(
        **base,
        variant=None,
        reason=f"no build of torch {release.minor} fits {target.describe()}.",
        rejected=tuple(rejected),
        suggestions=tuple(_what_would_fit(target, release, python, torch)),
        notes=_arch_notes(target),
    )


# --- the rule ------------------------------------------------------------------------------


@functools.cache
def preference(release: k.TorchRelease) -> tuple[str, ...]:
    """The release's variants in order of preference: default, older ones newest first, then newer ones.

    A release with no PyPI wheel (0.4) has no default: its variants go newest first.
    """
    default = _cuda(release.default) if release.default else max(map(_cuda, release.variants))
    older = sorted((v for v in release.variants if _cuda(v) <= default), key=_cuda, reverse=True)
    newer = sorted((v for v in release.variants if _cuda(v) > default), key=_cuda)
    return tuple(older + newer)


def why_not(release: k.TorchRelease, variant: str, target: Target, torch: str | None = None) -> str:
    """Why ``variant`` cannot run on ``target`` ("" when it can); ``torch`` is an exact version, if one was asked."""
    if torch is not None and not release.ships(variant, torch):
        first, final = dict(release.since).get(variant), dict(release.last).get(variant)
        when = f"it came with {first}" if first and Version(torch) < Version(first) else f"the last was {final}"
        return f"torch {torch} has no {variant} build ({when})"
    if target.platform == "windows" and variant not in release.on_windows():
        return f"torch {release.minor} has no Windows wheels for {variant}"
    if target.driver is not None:
        cuda = k.variant_cuda(variant) or ""
        need = k.min_driver(cuda, windows=target.wsl or target.platform == "windows")
        have = k.parse_version(target.driver)
        if need is not None and have is not None and have < need:
            return f"needs driver >= {show_driver(need)} for CUDA {cuda}, and this driver is {target.driver}"
    return _arch_gap(release, variant, target)


def _arch_gap(release: k.TorchRelease, variant: str, target: Target) -> str:
    """Why ``variant`` lacks kernels for a GPU here ("" when it has them for all); a build is only chosen on a known list."""
    verdicts = {cc: k.coverage(release.minor, variant, cc) for cc in dict.fromkeys(target.capabilities)}
    missing = [cc for cc, cov in verdicts.items() if cov.covered is not True]
    if not missing:
        return ""
    names = {cc: n for n, cc in zip(target._names(), target.capabilities, strict=True) if n}
    which = ", ".join(f"{cc} ({names[cc]})" if cc in names else cc for cc in missing)
    archs = k.arch_list(release.minor, variant)
    if archs is None:
        unknown = next(verdicts[cc] for cc in missing)
        if unknown.covered is False:  # its CUDA toolkit rules it out
            return f"has no kernels for compute capability {which}: {unknown.why}"
        return f"may lack kernels for compute capability {which}: which architectures torch {release.minor} {variant} is compiled for is not known"
    sm = ", ".join(a.removeprefix("sm_") for a in archs if a.startswith("sm_"))
    return f"has no kernels for compute capability {which}: torch {release.minor} {variant} is compiled for sm {sm}"


def _fit_reason(release: k.TorchRelease, variant: str, target: Target) -> str:
    cuda = k.variant_cuda(variant) or ""
    need = k.min_driver(cuda, windows=target.wsl or target.platform == "windows")
    gpus = ", ".join(dict.fromkeys(target.capabilities))
    role = (
        f"torch {release.minor}'s default build"
        if variant == release.default
        else f"the best torch {release.minor} build that fits"
    )
    cover = f"has kernels for compute capability {gpus}" if gpus else "was chosen by the driver alone"
    if target.driver is None:
        driver = f"it needs driver >= {show_driver(need)} (no driver was given)"
    else:
        driver = f"driver {target.driver} runs CUDA {cuda} (needs >= {show_driver(need)})"
    return f"{variant} is {role}: {driver}, and the build {cover}."


def show_driver(version: Version | None) -> str:
    """A driver version as NVIDIA writes it: 575.51.3 -> "575.51.03" (packaging drops the zero)."""
    if version is None:
        return "?"
    head, *rest = version.release
    return ".".join([str(head), *(f"{part:02d}" for part in rest)])


def _finish(base: _PlanBase, variant: str, reason: str, rejected: list[Rejected], backend: str) -> BuildPlan:
    target: Target = base["target"]
    notes = list(_arch_notes(target))
    cuda = k.variant_cuda(variant)
    if cuda and target.driver:
        own = k.min_driver(cuda, windows=target.wsl or target.platform == "windows", minor_compat=False)
        have = k.parse_version(target.driver)
        if own is not None and have is not None and have < own:
            notes.append(
                f"driver {target.driver} is older than CUDA {cuda}'s own ({show_driver(own)}): the build runs through "
                "minor-version compatibility, which excludes JIT of newer PTX."
            )
    if cuda and target.unidentified_gpus and not target.capabilities:
        notes.append("the GPUs' compute capability is unknown, so only the driver decided; give it with --cc.")
    if variant == "cpu" and target.has_gpu and backend == "cpu":
        notes.append("the cpu build leaves the GPUs unused.")
    if target.has_gpu and variant != "cpu":
        rejected = [*rejected, Rejected("cpu", "runs anywhere, but leaves the GPUs unused")]
    return BuildPlan(**base, variant=variant, reason=reason, rejected=tuple(rejected), notes=tuple(notes))


def _forced(
    base: _PlanBase,
    release: k.TorchRelease,
    verdicts: dict[str, str],
    backend: str,
    target: Target,
) -> BuildPlan:
    if backend == "cpu":
        return _finish(base, "cpu", "the cpu build, as asked.", [], backend)
    if backend not in release.variants:
        shipped = [r.minor for r in k.releases() if backend in r.variants]
        where = f"; {backend} shipped with torch {', '.join(shipped)}" if shipped else ""
        has = (
            f"torchrig's tables know only {', '.join(release.variants)} of torch {release.minor} (its other builds "
            f"are not sourced), so whether it has {backend} is not known"
            if release.variants_partial
            else f"torch {release.minor} has no {backend} build (it has {', '.join(release.variants)})"
        )
        return BuildPlan(
            **base,
            variant=None,
            reason=f"{has}{where}.",
            suggestions=tuple(
                Suggestion(f"torch {minor} has {backend}", torch=minor, variant=backend) for minor in shipped[:1]
            ),
        )
    if not target.has_gpu:
        return BuildPlan(**base, variant=None, reason=f"{backend} cannot run here: no NVIDIA GPU was found.")
    if target.driver is None and not target.driver_unknown:
        return BuildPlan(**base, variant=None, reason=f"{backend} cannot run here: no NVIDIA driver is loaded.")
    why = verdicts[backend]
    if why:
        return BuildPlan(
            **base,
            variant=None,
            reason=f"{backend} cannot run here: it {why}.",
            rejected=(Rejected(backend, why),),
            suggestions=tuple(_what_would_fit(target, release, base["python"], base["torch"])),
        )
    return _finish(base, backend, f"{backend}, as asked: " + _fit_reason(release, backend, target), [], backend)


# --- what would fit instead ----------------------------------------------------------------


def _what_would_fit(target: Target, release: k.TorchRelease, python: str, torch: str) -> list[Suggestion]:
    out: list[Suggestion] = []
    for variant in preference(release):  # a later patch release of the same series that has the build
        first = dict(release.since).get(variant)
        if (
            first
            and torch.count(".") == 2
            and Version(torch) < Version(first)
            and not why_not(release, variant, target)
        ):
            out.append(
                Suggestion(f"torch {first} with {variant} fits as the machine stands", torch=first, variant=variant)
            )
            break
    older = _newest_fitting_release(target, python, below=release.minor)
    if older is not None:
        out.append(
            Suggestion(
                f"torch {older.torch} with {older.variant} fits as the machine stands",
                torch=older.torch,
                variant=older.variant,
            )
        )
    # the builds a new driver would unlock: those that exist for this version and carry every GPU's kernels
    driverless = dataclasses.replace(target, driver=None, driver_unknown=True)
    arch_ok = [v for v in preference(release) if not why_not(release, v, driverless, torch)]
    if arch_ok and target.driver is not None:  # (without a driver, only the architectures can be the problem)
        best = arch_ok[0]
        need = k.min_driver(k.variant_cuda(best) or "", windows=target.wsl or target.platform == "windows")
        lowest = min(arch_ok, key=lambda v: k.min_driver(k.variant_cuda(v) or "") or Version("0"))
        text = f"install NVIDIA driver >= {show_driver(need)} for torch {release.minor} {best}"
        low_need = k.min_driver(k.variant_cuda(lowest) or "", windows=target.wsl or target.platform == "windows")
        if low_need is not None and low_need != need:
            text += f" (>= {show_driver(low_need)} is enough for {lowest})"
        out.append(Suggestion(text, torch=release.minor, variant=best, driver=show_driver(need)))
    elif not arch_ok and len(set(target.capabilities)) > 1:
        groups = {
            cc: next((v for v in preference(release) if k.coverage(release.minor, v, cc).covered), None)
            for cc in dict.fromkeys(target.capabilities)
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


def _python_suggestions(target: Target, release: k.TorchRelease, python: str) -> tuple[Suggestion, ...]:
    out = []
    older = _newest_fitting_release(target, python, below=None)
    if older is not None:
        out.append(
            Suggestion(
                f"torch {older.torch} supports Python {python} and fits with {older.variant}",
                torch=older.torch,
                variant=older.variant,
            )
        )
    high = _python_range(release, target).high
    out.append(Suggestion(f"use Python {high} with torch {release.minor}", python=high))
    return tuple(out)


def _python_range(release: k.TorchRelease, target: Target) -> k.PythonRange:
    """The release's Python range on the target's platform (Linux x86_64's where PyPI has none for it)."""
    found = release.python_range(target.wheel_platform) or release.python_range()
    assert found is not None
    return found


@dataclass(frozen=True)
class _Fit:
    torch: str
    variant: str


def _newest_fitting_release(target: Target, python: str, *, below: str | None) -> _Fit | None:
    """The newest torch release (older than ``below``) that supports ``python`` and fits ``target``."""
    for rel in _releases():
        if below is not None and Version(rel.minor) >= Version(below):
            continue
        if not rel.supports_python(python, target.wheel_platform):
            continue
        if not target.has_gpu:
            return _Fit(rel.minor, "cpu")
        if target.driver is None and not target.driver_unknown:
            return None
        fit = next((v for v in preference(rel) if not why_not(rel, v, target)), None)
        if fit is not None:
            return _Fit(rel.minor, fit)
    return None


# --- small helpers -------------------------------------------------------------------------


@functools.cache
def _releases() -> tuple[k.TorchRelease, ...]:
    """The releases a plan or fix may move to, newest first: those whose builds the tables list in full.

    A release known only in part (``variants_partial``: 2.15, of which only PyPI's cu132 is sourced) is
    left to those who ask for it or have it installed; the tables are package data, fixed for the process.
    """
    return tuple(r for r in k.releases() if not r.variants_partial)


@functools.cache
def _cuda(variant: str) -> Version:
    return Version(k.variant_cuda(variant) or "0")


def _gpu_count(target: Target) -> str:
    n = len(target.capabilities) + target.unidentified_gpus
    return f"{n} NVIDIA GPU{'s' if n > 1 else ''}"


def _arch_notes(target: Target) -> tuple[str, ...]:
    if target.cpu_arch not in ("x86_64", "amd64", "AMD64") and target.capabilities:
        return (
            f"the architecture lists are those of the x86_64 wheels; {target.cpu_arch} builds differ "
            "(e.g. aarch64 cu130 ships sm 80, 90, 100, 110, 120).",
        )
    return ()


def _check_torch(torch: str | None) -> str:
    if torch is None:
        return _releases()[0].minor
    text = torch.strip()
    if "+" in text:
        raise UserError(
            f"give the torch version without a build tag ({text.split('+')[0]}); choose the build with --backend."
        )
    if not _TORCH.match(text):
        raise UserError(f"{torch!r} is not a torch version; give it as 2.13 or 2.13.0.")
    release = k.release(text)
    if release is None:
        known = ", ".join(r.minor for r in k.releases()[:4])
        raise UserError(f"torch {text} is not in torchrig's tables (newest known: {known}).")
    patches = k.named_patches(release)
    if text.count(".") == 2 and patches is not None and text not in patches:
        # an install line for a release nobody made would fail only when it runs; the minor alone
        # (torch==2.13.*) gets whichever patch the index has
        raise UserError(
            f"torchrig knows no torch {text}: PyPI had {', '.join(patches)} of torch {release.minor} as of "
            f"{k.releases_as_of()}; give --torch {release.minor} to plan for the newest {release.minor} release."
        )
    return text


def _check_python(python: str) -> str:
    match = re.match(r"^(\d+)\.(\d+)", python.strip())
    if not match:
        raise UserError(f"{python!r} is not a Python version; give it as 3.12.")
    return f"{match.group(1)}.{match.group(2)}"


def is_capability(text: str) -> bool:
    """Whether ``text`` is a compute capability as a Target takes it ("8.6", "12.0")."""
    return bool(_CC.match(text))


def capabilities(values: Sequence[str]) -> tuple[str, ...]:
    """Normalise --cc values ("86" or "8.6" or "sm_86") to "8.6"."""
    out = []
    for v in values:
        text = v.strip().removeprefix("sm_")
        if re.fullmatch(r"\d{2,3}", text):
            text = f"{text[:-1]}.{text[-1]}"
        out.append(text)
    return tuple(out)


# --- the same rule across releases, for a fix ---------------------------------------------


def best_build(target: Target, *, python: str | None = None, installed: str | None = None) -> Build | None:
    """The CUDA build for ``target``: the installed release if one of its variants fits, else the newest that does.

    Which variant fits, and which of those is preferred, is :func:`why_not` and :func:`preference`, the
    rule of :func:`plan`, so ``torchrig env plan`` and the doctor's fixes always agree. A release must
    support ``python`` ("3.12") where it is known. When the driver is not known (a report that does not
    show it), the variant with the lowest driver minimum wins: it runs on the most machines.
    """
    current = k.release(installed) if installed else None
    order = ([current] if current else []) + [r for r in _releases() if r != current]
    for rel in order:
        if python and not rel.supports_python(python, target.wheel_platform):
            continue
        fitting = [v for v in preference(rel) if k.variant_cuda(v) and not why_not(rel, v, target)]
        if fitting and target.driver is None:
            # the driver is unknown: the build that runs on the widest range of drivers (the lowest minimum),
            # not the release's default, which may need a driver the machine does not have
            windows = target.wsl or target.platform == "windows"
            fitting.sort(
                key=lambda v: (k.min_driver(k.variant_cuda(v) or "", windows=windows) or Version("0"), _cuda(v))
            )
        if fitting:
            chosen = fitting[0]
            floor = min((v for v in fitting if _cuda(v).major == _cuda(chosen).major), key=_cuda)
            return install.paired_build(rel, chosen, installed, cuda_floor=k.variant_cuda(floor))
    return None


def cpu_build(*, python: str | None = None, installed: str | None = None, platform: str | None = None) -> Build | None:
    """The CPU build of the installed release, else of the newest release that supports ``python`` on ``platform``
    (a wheel platform, "macos-arm64"; None: Linux x86_64's ranges)."""
    current = k.release(installed) if installed else None
    order = ([current] if current else []) + [r for r in _releases() if r != current]
    for rel in order:
        if not python or rel.supports_python(python, platform):
            return install.paired_build(rel, "cpu", installed)
    return None


def same_build(installed: str, variant: str) -> Build | None:
    """The installed torch as a build to reinstall (same version, same variant), where its release is known."""
    rel = k.release(installed)
    return install.paired_build(rel, variant, installed) if rel is not None else None
