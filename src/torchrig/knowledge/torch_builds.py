"""PyTorch releases 0.4 to 2.15 (``torch_builds.toml``): their wheel variants, compiled architectures and companions.

>>> rel = release("2.8.0.dev20250501+cu128")  # a nightly maps to its minor
>>> rel.minor, rel.default, variant_of("2.8.0.dev20250501+cu128")
('2.8', 'cu128', 'cu128')
>>> arch_list("2.5.1", "cu118")
['sm_37', 'sm_50', 'sm_60', 'sm_70', 'sm_75', 'sm_80', 'sm_86', 'sm_90']
>>> coverage("1.9.0+cu113", "cu113", "3.0").covered  # no row, but CUDA 11.3 cannot target Kepler 3.0
False
>>> release("2.5.1").python_range("macos")  # PyPI's macOS wheels of 2.5 stop at 3.12, its Linux ones at 3.13
PythonRange(low='3.9', high='3.12', platform='macos')
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from torchrig.knowledge._tables import cc_tuple, load, minor_of, parse_version
from torchrig.knowledge.archs import arch_covers, build_covers
from torchrig.knowledge.toolkits import build_may_cover, possible_archs

PLATFORMS = ("linux-x86_64", "linux-aarch64")  # the platforms [[arch]] rows are given for
# The platforms PyPI's torch wheels are told apart by, for the Python ranges ("macos" = either macOS one).
WHEEL_PLATFORMS = ("linux-x86_64", "linux-aarch64", "macos-arm64", "macos-x86_64", "windows")
_PLATFORM_NAMES = {
    "linux-x86_64": "Linux x86_64",
    "linux-aarch64": "Linux aarch64",
    "macos-arm64": "macOS arm64",
    "macos-x86_64": "macOS x86_64",
    "macos": "macOS",
    "windows": "Windows",
    "any": "any platform's",
}


def platform_name(platform: str) -> str:
    """ "macos-arm64" -> "macOS arm64", for a sentence."""
    return _PLATFORM_NAMES.get(platform, platform)


def python_platform(system: str | None, machine: str | None) -> str | None:
    """The wheel platform of a machine, as the Python ranges name it; None where the OS is unknown.

    >>> python_platform("Darwin", "arm64"), python_platform("darwin", None), python_platform("Windows", "AMD64")
    ('macos-arm64', 'macos', 'windows')
    """
    os_name = (system or "").lower()
    cpu = (machine or "").lower()
    if os_name in ("darwin", "macos", "mac os x", "osx"):
        return {"arm64": "macos-arm64", "aarch64": "macos-arm64", "x86_64": "macos-x86_64"}.get(cpu, "macos")
    if os_name in ("windows", "win32", "nt"):
        return "windows"
    if os_name == "linux":
        if cpu in ("aarch64", "arm64"):
            return "linux-aarch64"
        if cpu in ("x86_64", "amd64"):
            return "linux-x86_64"
    return None


def _minor_key(python: str) -> Version:
    return Version(python)


@dataclass(frozen=True)
class PythonRange:
    """The CPython versions with PyPI wheels of a release on a platform: ``low`` to ``high`` inclusive."""

    low: str
    high: str
    platform: str  # the platform the range is for: "linux-x86_64", "macos-arm64", "macos", ...

    def __contains__(self, python: object) -> bool:
        v = parse_version(str(python))
        if v is None:
            return False
        return Version(self.low) <= Version(f"{v.major}.{v.minor}") <= Version(self.high)

    @property
    def span(self) -> str:
        """ "3.9-3.12" (one version: "3.8")."""
        return self.low if self.low == self.high else f"{self.low}-{self.high}"

    @property
    def where(self) -> str:
        """ "macOS arm64", for a sentence."""
        return platform_name(self.platform)


def _pairs(table: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((table or {}).items()))


@dataclass(frozen=True)
class TorchRelease:
    """One minor release: a ``[release."X.Y"]`` row."""

    minor: str  # "2.13"
    variants: tuple[str, ...]  # CUDA wheel variants for Linux x86_64: ("cu126", "cu129", "cu130", "cu132")
    default: str | None  # the variant PyPI serves by default on Linux x86_64 (0.4: none, no PyPI wheel)
    python_min: str
    python_max: str
    torchvision: str | None
    torchaudio: str | None
    linux_only: tuple[str, ...] = ()  # variants with no Windows wheels
    since: tuple[tuple[str, str], ...] = ()  # (variant, first patch release that has it), e.g. ("cu129", "2.12.1")
    last: tuple[tuple[str, str], ...] = ()  # (variant, last patch release that has it), e.g. ("cu80", "1.0.0")
    windows_variants: tuple[str, ...] | None = None  # where Windows is known to differ from `variants`
    rocm: tuple[str, ...] = ()  # ROCm wheel variants (Linux x86_64): ("rocm7.1", "rocm7.2")
    aarch64: tuple[str, ...] = ()  # CUDA variants of the Linux aarch64 (sbsa) wheels
    aarch64_since: tuple[tuple[str, str], ...] = ()
    aarch64_default: str | None = None  # the CUDA variant PyPI's Linux aarch64 wheel pulls (2.11+)
    macos: tuple[str, ...] = ()  # CPU architectures with macOS wheels on PyPI: ("arm64",)
    python_since: tuple[tuple[str, str], ...] = ()  # (Python, first patch release with wheels for it)
    torchvision_pins: tuple[tuple[str, str], ...] = ()  # (torch patch, torchvision) where the minor is ambiguous
    torchaudio_pins: tuple[tuple[str, str], ...] = ()
    torchaudio_forward_compatible: bool = False  # torchaudio 2.11 supports this and every later torch
    released: str | None = None  # "2026-07", the month of X.Y.0
    patches: tuple[str, ...] = ()  # every X.Y.Z on PyPI ("2.12.0", "2.12.1"); empty where unknown (before 1.13)
    branch_cut: str | None = None  # "2026-06-10", approximately: nightlies moved past X.Y then
    # (platform, (min, max)) where PyPI's wheels for a platform cover other Pythons than Linux x86_64's
    python_on: tuple[tuple[str, tuple[str, str]], ...] = ()
    no_pypi: tuple[str, ...] = ()  # platforms ("windows", "linux-aarch64") with no wheel of this release on PyPI
    variants_partial: bool = False  # `variants` holds only the sourced ones: others may exist

    def python_range(self, platform: str | None = None) -> PythonRange | None:
        """The Pythons PyPI has wheels of this release for, on ``platform`` (None: Linux x86_64, the table's own).

        "macos" (the CPU unknown) spans both macOS architectures the release has wheels for, "any" every
        platform. None where PyPI has no wheel of this release for that platform at all (then the range is
        unknown, not empty).
        """
        own = dict(self.python_on)
        if platform is None or platform == "linux-x86_64":
            return PythonRange(self.python_min, self.python_max, "linux-x86_64")
        if platform in ("macos", "any"):
            # "any": every platform PyPI has wheels of this release for, together (the widest range)
            names = [f"macos-{arch}" for arch in self.macos] if platform == "macos" else list(WHEEL_PLATFORMS)
            ranges = [r for name in names if (r := self.python_range(name)) is not None]
            if not ranges:
                return None
            low = min((r.low for r in ranges), key=_minor_key)
            high = max((r.high for r in ranges), key=_minor_key)
            return PythonRange(low, high, platform)
        if platform in self.no_pypi or (platform.startswith("macos-") and platform[6:] not in self.macos):
            return None
        low, high = own.get(platform, (self.python_min, self.python_max))
        return PythonRange(low, high, platform)

    def supports_python(self, python: str, platform: str | None = None) -> bool:
        """Whether PyPI has wheels of this release for ``python`` on ``platform``.

        Where the platform is unknown, or PyPI has none of its wheels, the Linux x86_64 range answers
        (the widest, and the one the tables have for every release).
        """
        found = self.python_range(platform) or self.python_range()
        assert found is not None
        return python in found

    def pypi_variant(self, platform: str) -> str | None:
        """The build ``pip install torch`` (or ``uv add torch``) takes from PyPI on ``platform``: "cpu" or "cu130".

        None where PyPI has no wheel of this release there, or the table does not say. Sources:
        uv's guide "Using uv with PyTorch" (docs.astral.sh/uv/guides/integration/pytorch): "PyPI, which hosts
        CPU-only wheels for Windows and macOS, and GPU-accelerated wheels on Linux", and pytorch.org's Start Locally
        gives every Windows CUDA install an ``--index-url``; Linux x86_64: the ``default`` column; Linux aarch64:
        CPU-only until CUDA wheels reached PyPI in 2.11 (``aarch64_default``; pytorch/pytorch#160162 "until pytorch
        2.8, the pypi wheel ... only has CPU version pytorch on aarch64", #168065 on 2.9). Jetson is no PyPI
        platform: NVIDIA builds its torch wheels per JetPack release ("Installing PyTorch for Jetson Platform").
        """
        if platform in self.no_pypi:
            return None
        if platform == "windows" or platform.startswith("macos"):
            return "cpu"
        if platform == "linux-x86_64":
            return self.default
        if platform == "linux-aarch64":
            has_wheels = self.python_range("linux-aarch64") is not None
            return self.aarch64_default or ("cpu" if has_wheels else None)
        return None

    def on_windows(self) -> tuple[str, ...]:
        """The CUDA variants with Windows wheels (where unknown: those not marked Linux-only)."""
        if self.windows_variants is not None:
            return self.windows_variants
        return tuple(v for v in self.variants if v not in self.linux_only)

    def ships(self, variant: str, torch_version: str | None = None) -> bool:
        """Whether this release has ``variant`` (Linux x86_64), in the exact patch release ``torch_version`` if given.

        Where only some variants are sourced (``variants_partial``), an unlisted CUDA variant is not
        counted as absent.
        """
        if variant not in self.variants and variant not in self.rocm:
            return self.variants_partial and variant.startswith("cu")
        v = parse_version(torch_version) if torch_version else None
        if v is None or torch_version is None or torch_version.count(".") < 2:
            return True
        first, final = dict(self.since).get(variant), dict(self.last).get(variant)
        public = Version(v.base_version)
        return (first is None or public >= Version(first)) and (final is None or public <= Version(final))


def _release(minor: str, row: dict[str, Any]) -> TorchRelease:
    return TorchRelease(
        minor=minor,
        variants=tuple(row["variants"]),
        default=row.get("default"),
        python_min=row["python"][0],
        python_max=row["python"][1],
        torchvision=row.get("torchvision"),
        torchaudio=row.get("torchaudio"),
        linux_only=tuple(row.get("linux_only", ())),
        since=_pairs(row.get("since")),
        last=_pairs(row.get("last")),
        windows_variants=tuple(row["windows_variants"]) if "windows_variants" in row else None,
        rocm=tuple(row.get("rocm", ())),
        aarch64=tuple(row.get("aarch64", ())),
        aarch64_since=_pairs(row.get("aarch64_since")),
        aarch64_default=row.get("aarch64_default"),
        macos=tuple(row["macos"].split("+")) if "macos" in row else (),
        python_since=_pairs(row.get("python_since")),
        torchvision_pins=_pairs(row.get("torchvision_pins")),
        torchaudio_pins=_pairs(row.get("torchaudio_pins")),
        torchaudio_forward_compatible=bool(row.get("torchaudio_forward_compatible", False)),
        released=row.get("released"),
        patches=tuple(row.get("patches", ())),
        branch_cut=row.get("branch_cut"),
        python_on=tuple(sorted((p, (r[0], r[1])) for p, r in row.get("python_on", {}).items())),
        no_pypi=tuple(row.get("no_pypi", ())),
        variants_partial=bool(row.get("variants_partial", False)),
    )


@functools.cache
def _all_releases() -> tuple[TorchRelease, ...]:
    out = [_release(minor, row) for minor, row in load("torch_builds")["release"].items()]
    return tuple(sorted(out, key=lambda r: Version(r.minor), reverse=True))


def releases_as_of() -> str:
    """The month the release table was last read from its sources ("2026-12")."""
    return str(load("torch_builds")["meta"]["as_of"])


def releases() -> list[TorchRelease]:
    """Every known torch minor release, newest first."""
    return list(_all_releases())


def release(torch_version: str) -> TorchRelease | None:
    """The release a torch version belongs to ("2.13.0+cu130", a nightly "2.8.0.dev20250501+cu128"), or None."""
    key = minor_of(torch_version)
    return next((r for r in _all_releases() if r.minor == key), None)


def named_patches(release: TorchRelease) -> tuple[str, ...] | None:
    """Every patch release of ``release`` (X.Y.0, X.Y.1, ...), or None where the table does not list them.

    The list is PyPI's (``patches``), read on the table's as-of date, plus any patch another key names;
    releases before 1.13 have none, and then which patches exist is unknown.
    """
    if not release.patches:
        return None
    named = set(release.patches)
    for pairs in (release.since, release.last, release.aarch64_since, release.python_since):
        named.update(patch for _key, patch in pairs)
    named.update(patch for patch, _pin in (*release.torchvision_pins, *release.torchaudio_pins))
    ours = (p for p in named if minor_of(p) == release.minor)
    return tuple(sorted(ours, key=Version))


def is_nightly(torch_version: str) -> bool:
    """Whether a torch version is a nightly ("2.8.0.dev20250501+cu128") rather than a release (candidate)."""
    v = parse_version(torch_version)
    return bool(v is not None and v.is_devrelease)


def variant_of(torch_version: str, torch_cuda: str | None = None) -> str | None:
    """The wheel variant of an installed torch: from its local tag ("+cu130"), else from torch.version.cuda."""
    v = parse_version(torch_version)
    if v is not None and v.local:
        if re.fullmatch(r"rocm[\d.]+", v.local):  # "+rocm6.2.4": the dots are part of the variant
            return v.local
        head = v.local.split(".")[0]
        if re.fullmatch(r"cu\d+|cpu|xpu", head):
            return head
    if torch_cuda:
        parsed = parse_version(torch_cuda)
        if parsed is not None:
            return f"cu{parsed.major}{parsed.minor}"
    return None


def variant_cuda(variant: str) -> str | None:
    """ "cu130" -> "13.0", "cu126" -> "12.6", "cu80" -> "8.0", "cpu" -> None."""
    match = re.fullmatch(r"cu(\d+)(\d)", variant)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def index_url(variant: str, *, base: str | None = None) -> str:
    """The PyTorch wheel index for a variant, on download.pytorch.org or a mirror's base."""
    root = (base or load("torch_builds")["meta"]["index_url"]).rstrip("/")
    return f"{root}/{variant}"


def wheel_platform(machine: str | None) -> str:
    """The platform whose [[arch]] rows apply on a CPU architecture: "aarch64" -> "linux-aarch64"."""
    return "linux-aarch64" if (machine or "").lower() in ("aarch64", "arm64") else "linux-x86_64"


# --- compiled architectures ----------------------------------------------------------------


@dataclass(frozen=True)
class ArchRow:
    """One ``[[arch]]`` row: what TORCH_CUDA_ARCH_LIST a variant's wheels were built with, for a range of releases."""

    variant: str
    platform: str
    releases: tuple[str, str]  # inclusive range of minors
    sm: tuple[str, ...]  # "75", "80", ... (empty when unsourced)
    ptx: str | None  # the one architecture also shipped as PTX
    ptx_unverified: bool  # whether the released wheels ship PTX is not known
    unsourced: bool  # no source was found: the list is unknown
    src: str

    @property
    def archs(self) -> list[str]:
        """As torch.cuda.get_arch_list() names them: ["sm_75", ..., "compute_120"]."""
        return [f"sm_{sm}" for sm in self.sm] + ([f"compute_{self.ptx}"] if self.ptx else [])


def _arch_row(row: dict[str, Any]) -> ArchRow:
    lo, hi = row.get("releases", ["0", "999"])
    return ArchRow(
        variant=row["variant"],
        platform=row.get("platform", "linux-x86_64"),
        releases=(lo, hi),
        sm=tuple(row.get("sm", ())),
        ptx=row.get("ptx"),
        ptx_unverified=bool(row.get("ptx_unverified", False)),
        unsourced=bool(row.get("unsourced", False)),
        src=row.get("src", ""),
    )


@functools.cache
def _arch_rows() -> tuple[ArchRow, ...]:
    return tuple(_arch_row(row) for row in load("torch_builds")["arch"])


def arch_row(torch_version: str, variant: str, platform: str = "linux-x86_64") -> ArchRow | None:
    """The [[arch]] row for a build (the first that matches), unsourced ones included."""
    key = minor_of(torch_version)
    if key is None:
        return None
    for row in _arch_rows():
        lo, hi = row.releases
        if row.variant == variant and row.platform == platform and Version(lo) <= Version(key) <= Version(hi):
            return row
    return None


def arch_list(torch_version: str, variant: str, platform: str = "linux-x86_64") -> list[str] | None:
    """The compiled architectures of a build, as torch.cuda.get_arch_list() names them ("sm_75", ..., "compute_120").

    None when the tables do not know them (no row, or a row without a source): :func:`coverage`
    then falls back on what the build's CUDA toolkit makes possible.
    """
    row = arch_row(torch_version, variant, platform)
    return row.archs if row is not None and not row.unsourced else None


def rocm_arch_list(torch_version: str, variant: str) -> list[str] | None:
    """The gfx targets of a ROCm build ("gfx90a", "gfx1100", ...), or None where no source gives them."""
    key = minor_of(torch_version)
    if key is None:
        return None
    for row in load("torch_builds")["rocm_arch"]:
        lo, hi = row["releases"]
        if row["variant"] == variant and Version(lo) <= Version(key) <= Version(hi):
            return None if row.get("unsourced") else list(row["gfx"])
    return None


# --- does a build run on a GPU -------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """Whether a build has kernels for a compute capability, how sure that is, and why (one sentence)."""

    covered: bool | None  # True: kernels (SASS, or PTX to JIT); False: certainly none; None: cannot tell
    why: str
    archs: tuple[str, ...] = ()  # the build's list, where the tables have it
    doubtful: bool = False  # with covered None: as far as the tables know it has none, but that is not certain


def coverage(torch_version: str, variant: str, cc: str, platform: str = "linux-x86_64") -> Coverage:
    """Whether torch ``torch_version`` built as ``variant`` runs on compute capability ``cc``.

    The build's [[arch]] row answers where there is one. Where there is none (or its source is
    missing), the build's CUDA toolkit bounds it (:func:`torchrig.knowledge.toolkits.build_may_cover`):
    a GPU older than every target the toolkit has cannot run it; one newer than every target can only
    through PTX. A nightly is judged by its release's row, but only as a likelihood: nightlies ship
    PTX that release builds strip (pytorch#145792, #188925), and their lists change between nightlies.
    """
    row = arch_row(torch_version, variant, platform)
    minor = minor_of(torch_version) or torch_version
    name = f"torch {minor} {variant}"
    if row is not None and not row.unsourced:
        archs = tuple(row.archs)
        listed = ", ".join(_cc_name(a) for a in row.sm)
        if build_covers(archs, cc):
            ptx_only = _ptx_only_beyond_its_toolkit(archs, variant, cc)
            if ptx_only:
                return Coverage(None, f"{name} {ptx_only}", archs, doubtful=True)
            return Coverage(True, f"{name} is compiled for sm {listed}, which covers compute capability {cc}", archs)
        newer = cc_tuple(cc) > max(cc_tuple(sm) for sm in row.sm)
        if newer and row.ptx_unverified:
            return Coverage(
                None,
                f"{name} has SASS up to sm {_cc_name(row.sm[-1])}; compute capability {cc} needs PTX, and whether "
                "the released wheels ship it is not verified",
                archs,
                doubtful=True,
            )
        cuda = variant_cuda(variant)
        if is_nightly(torch_version) and not (cuda and build_may_cover(cuda, cc) is False):
            return Coverage(
                None,
                f"the torch {minor} release's {variant} build is compiled for sm {listed}, without compute "
                f"capability {cc}; nightly builds' lists can differ",
                archs,
                doubtful=True,
            )
        ptx = f" and PTX for {_cc_name(row.ptx)}" if row.ptx else ", no PTX"
        return Coverage(
            False, f"{name} is compiled for sm {listed}{ptx}: nothing runs on compute capability {cc}", archs
        )
    cuda = variant_cuda(variant)
    bounds = possible_archs(cuda) if cuda else None
    if cuda is None or bounds is None:
        return Coverage(None, f"torchrig's tables do not know which architectures {name} is compiled for")
    lo, hi = (_cc_name(b.removeprefix("sm_")) for b in bounds)
    may = build_may_cover(cuda, cc)
    if may is False:
        return Coverage(
            False, f"CUDA {cuda} compiles for compute capability {lo} to {hi}: no build made with it runs on {cc}"
        )
    if may is None:
        return Coverage(
            None,
            f"CUDA {cuda} compiles SASS for compute capability {hi} at most, so {name} runs on {cc} only through "
            "PTX, and whether it ships PTX is not in torchrig's tables",
            doubtful=True,
        )
    return Coverage(None, f"torchrig's tables do not know which architectures {name} is compiled for")


def _ptx_only_beyond_its_toolkit(archs: tuple[str, ...], variant: str, cc: str) -> str | None:
    """Why a build reaches ``cc`` only by JIT-compiling old PTX, from a CUDA release that predates the GPU; None otherwise.

    PTX forward compatibility (CUDA C++ Programming Guide, "Binary Compatibility") covers the build's own kernels,
    but not the CUDA libraries it bundles (cuDNN, cuBLAS), whose releases list the architectures they support; a
    CUDA release that cannot even compile for the GPU predates it, and so do its libraries. torch's own check
    (_check_cubins) warns that such a build is not compatible, and the reports that follow fail in cuDNN or cuBLAS
    (RTX 30 cards under CUDA 10 builds: pytorch#45021).
    """
    cuda = variant_cuda(variant)
    sass = any(arch_covers(a, cc) for a in archs if a.startswith("sm_"))
    if sass or cuda is None or build_may_cover(cuda, cc) is not None:
        return None
    ptx = " ".join(a for a in archs if a.startswith("compute_"))
    bounds = possible_archs(cuda)
    top = f" (it compiles for {_cc_name(bounds[1].removeprefix('sm_'))} at most)" if bounds else ""
    return (
        f"runs on compute capability {cc} only by JIT-compiling its PTX ({ptx}): CUDA {cuda}, which built it, "
        f"predates this GPU{top}, and so do the cuDNN and cuBLAS it bundles"
    )


def every_variant_covers(torch_version: str, cc: str, platform: str = "linux-x86_64") -> bool | None:
    """Whether every CUDA wheel of ``torch_version`` (its release's variants that ship that patch) runs on ``cc``.

    For a torch whose variant a report does not show: True means torch's build is not what lacks kernels
    for ``cc``, whichever wheel it is. False: some variant has none; None: a variant the tables cannot judge.
    """
    found = release(torch_version)
    if found is None or is_nightly(torch_version) or found.variants_partial:
        return None
    # aarch64: every variant of the release (one its patch lacks can only make the answer more cautious)
    variants = found.aarch64 if platform == "linux-aarch64" else found.variants
    variants = tuple(x for x in variants if platform == "linux-aarch64" or found.ships(x, torch_version))
    if not variants:
        return None
    verdicts = [coverage(torch_version, variant, cc, platform).covered for variant in variants]
    if all(verdicts):
        return True
    return False if False in verdicts else None


def no_variant_covers(torch_version: str, cc: str, platform: str = "linux-x86_64") -> Coverage | None:
    """Where no CUDA wheel of ``torch_version`` runs on ``cc``: a verdict that holds whichever build a report shows.

    PyTorch publishes each release's CUDA builds as a fixed set of variants (its release matrix, RELEASE.md); where
    the tables say that every one of them certainly lacks ``cc`` (no SASS of its major, no PTX to JIT), torch of that
    release cannot run on the GPU, be it CUDA (any variant), CPU or ROCm. None where some variant runs on it, or the
    tables cannot judge one (a nightly, a release whose variants are not all known).
    """
    found = release(torch_version)
    if found is None or is_nightly(torch_version) or found.variants_partial:
        return None
    variants = found.aarch64 if platform == "linux-aarch64" else found.variants
    variants = tuple(x for x in variants if platform == "linux-aarch64" or found.ships(x, torch_version))
    if not variants or any(coverage(torch_version, v, cc, platform).covered is not False for v in variants):
        return None
    minor = minor_of(torch_version) or torch_version
    return Coverage(
        False,
        f"no CUDA build of torch {minor} ({', '.join(variants)}) has kernels for compute capability {cc}, whichever "
        "of them is installed",
    )


RECENT_MONTHS = 24  # the releases a program installed today may still pin: two years before the newest


def recent_builds_without(cc: str, platform: str = "linux-x86_64") -> list[str]:
    """The CUDA builds ("torch 2.14 cu130") of the releases of the last :data:`RECENT_MONTHS` months before the newest
    release that certainly have no kernels for ``cc``, newest first; [] where every one of them runs on it.

    Where that list is not empty, an installer of those years can put a torch on the machine that does not run on
    the GPU: torch 2.8+'s CUDA 12.8/12.9 and every CUDA 13 build dropped Maxwell, Pascal and Volta (their release
    notes), and no build before 2.7's cu128 has Blackwell's sm_120.
    """
    dated = [r for r in releases() if r.released]
    if not dated:
        return []
    newest = max(_month(r.released or "") for r in dated)
    out: list[str] = []
    for found in dated:
        if newest - _month(found.released or "") > RECENT_MONTHS or is_nightly(found.minor):
            continue
        version = found.patches[-1] if found.patches else f"{found.minor}.0"
        variants = found.aarch64 if platform == "linux-aarch64" else found.variants
        out += [
            f"torch {found.minor} {variant}"
            for variant in variants
            if variant.startswith("cu") and coverage(version, variant, cc, platform).covered is False
        ]
    return out


def _month(released: str) -> int:
    """ "2026-07" -> months since year 0."""
    year, _, month = released.partition("-")
    return int(year) * 12 + int(month or 1)


def _cc_name(sm: str) -> str:
    """ "86" -> "8.6"."""
    major, minor = cc_tuple(sm)
    return f"{major}.{minor}"
