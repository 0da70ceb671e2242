"""Compatibility knowledge: data files next to this module, and the queries over them.

The tables are TOML files that name their sources and as-of dates (``drivers.toml``,
``torch_builds.toml``); this module only reads them. Checks and the environment planner ask
questions such as "which driver does a cu126 build need?" or "does this build carry kernels for
compute capability 7.0?", never look at the files themselves.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

from packaging.version import InvalidVersion, Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The parsed table ``knowledge/<name>.toml``."""
    with resources.files(__package__).joinpath(f"{name}.toml").open("rb") as fh:
        table: dict[str, Any] = tomllib.load(fh)
        return table


def parse_version(text: str | None) -> Version | None:
    """A lenient version parse: "580.95.05" -> 580.95.5, "2.13.0+cu130" -> 2.13.0+cu130, junk -> None."""
    if not text:
        return None
    try:
        return Version(text.strip())
    except InvalidVersion:
        match = re.match(r"\d+(\.\d+)*", text.strip())
        return Version(match.group(0)) if match else None


def minor_of(version: str) -> str | None:
    """ "2.13.0+cu130" -> "2.13"; "13.0.88" -> "13.0"."""
    v = parse_version(version)
    return f"{v.major}.{v.minor}" if v else None


# --- drivers -------------------------------------------------------------------------------


def min_driver(cuda: str, *, windows: bool = False, minor_compat: bool = True) -> Version | None:
    """The oldest driver that runs software built with CUDA ``cuda`` ("12.6", "13.0.3").

    With ``minor_compat`` (CUDA 11 and later) any driver of the major's compatibility branch runs
    every minor release, which is what matters for PyTorch wheels that bundle their CUDA runtime.
    """
    table = load("drivers")
    col = "windows" if windows else "linux"
    key = minor_of(cuda)
    if key is None:
        return None
    row = table["cuda"].get(key, {})
    own = Version(row[col]) if col in row else None
    compat = table["minor_compat"].get(key.split(".")[0], {}).get(col) if minor_compat else None
    if compat is None:
        return own
    # compatibility only ever lowers the requirement (CUDA 11.0's own GA driver is below the 11.x floor)
    return min(Version(compat), own) if own is not None else Version(compat)


# --- PyTorch builds ------------------------------------------------------------------------


@dataclass(frozen=True)
class TorchRelease:
    minor: str  # "2.13"
    variants: tuple[str, ...]  # ("cu126", "cu129", "cu130", "cu132")
    default: str  # the variant PyPI serves by default on Linux x86_64
    python_min: str
    python_max: str
    torchvision: str | None
    torchaudio: str | None
    linux_only: tuple[str, ...] = ()  # variants with no Windows wheels
    since: tuple[tuple[str, str], ...] = ()  # (variant, first patch release that has it), e.g. ("cu129", "2.12.1")

    def supports_python(self, python: str) -> bool:
        v = parse_version(python)
        if v is None:
            return False
        short = Version(f"{v.major}.{v.minor}")
        return Version(self.python_min) <= short <= Version(self.python_max)


def releases() -> list[TorchRelease]:
    """Every known torch minor release, newest first."""
    out = [
        TorchRelease(
            minor=minor,
            variants=tuple(row["variants"]),
            default=row["default"],
            python_min=row["python"][0],
            python_max=row["python"][1],
            torchvision=row.get("torchvision"),
            torchaudio=row.get("torchaudio"),
            linux_only=tuple(row.get("linux_only", ())),
            since=tuple(sorted(row.get("since", {}).items())),
        )
        for minor, row in load("torch_builds")["release"].items()
    ]
    return sorted(out, key=lambda r: Version(r.minor), reverse=True)


def release(torch_version: str) -> TorchRelease | None:
    """The release a torch version belongs to ("2.13.0+cu130" -> the 2.13 row), or None if unknown."""
    key = minor_of(torch_version)
    return next((r for r in releases() if r.minor == key), None)


def variant_of(torch_version: str, torch_cuda: str | None = None) -> str | None:
    """The wheel variant of an installed torch: from its local tag ("+cu130"), else from torch.version.cuda."""
    v = parse_version(torch_version)
    if v is not None and v.local:
        local = v.local.split(".")[0]
        if re.fullmatch(r"cu\d+|cpu|rocm[\d.]+|xpu", local):
            return local
    if torch_cuda:
        parsed = parse_version(torch_cuda)
        if parsed is not None:
            return f"cu{parsed.major}{parsed.minor}"
    return None


def variant_cuda(variant: str) -> str | None:
    """ "cu130" -> "13.0", "cu126" -> "12.6", "cu118" -> "11.8", "cpu" -> None."""
    match = re.fullmatch(r"cu(\d+)(\d)", variant)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def index_url(variant: str, *, base: str | None = None) -> str:
    """The PyTorch wheel index for a variant, on download.pytorch.org or a mirror's base."""
    root = (base or load("torch_builds")["meta"]["index_url"]).rstrip("/")
    return f"{root}/{variant}"


def arch_list(torch_version: str, variant: str) -> list[str] | None:
    """The compiled architectures of a build, as torch.cuda.get_arch_list() names them ("sm_75", ..., "compute_120")."""
    key = minor_of(torch_version)
    if key is None:
        return None
    for row in load("torch_builds")["arch"]:
        if row["variant"] != variant:
            continue
        lo, hi = row.get("releases", ["0", "999"])
        if Version(lo) <= Version(key) <= Version(hi):
            archs = [f"sm_{sm}" for sm in row["sm"]]
            if "ptx" in row:
                archs.append(f"compute_{row['ptx']}")
            return archs
    return None


# Integrated-GPU targets whose code runs only on exactly that capability (torch DEVICE_REQUIREMENT).
_EXACT_ONLY = {"53", "62", "72", "87"}


def _cc_tuple(cc: str) -> tuple[int, int]:
    """ "8.6" -> (8, 6); "86" / "sm_86" / "compute_86" -> (8, 6); "120" -> (12, 0)."""
    text = cc.rsplit("_", maxsplit=1)[-1]
    if "." in text:
        major, minor = text.split(".", 1)
        return int(major), int(minor)
    return int(text[:-1]), int(text[-1])


def arch_covers(arch: str, cc: str) -> bool:
    """Whether code compiled for ``arch`` ("sm_86", "compute_90") runs on compute capability ``cc``.

    SASS runs on the same major with an equal or higher minor (sm_86 runs on 8.9, sm_120 on 12.1),
    except integrated-GPU targets, which run only on themselves; sm_101 is treated as sm_110.
    PTX ("compute_XX") is JIT-compiled for any capability at or above XX.
    """
    have = _cc_tuple(cc)
    digits = arch.rsplit("_", maxsplit=1)[-1]
    if digits.endswith("a"):  # arch-specific targets (sm_90a) run only on exactly that capability
        return have == _cc_tuple(digits[:-1])
    if arch.startswith("compute_"):
        return have >= _cc_tuple(digits)
    if digits in _EXACT_ONLY:
        return have == _cc_tuple(digits)
    if digits == "101":
        digits = "110"
    built = _cc_tuple(digits)
    if f"{have[0]}{have[1]}" in _EXACT_ONLY:
        return have == built
    return have[0] == built[0] and have[1] >= built[1]


def build_covers(archs: list[str], cc: str) -> bool:
    """Whether a build with these architectures has kernels (SASS, or PTX to JIT) for capability ``cc``."""
    return any(arch_covers(a, cc) for a in archs)
