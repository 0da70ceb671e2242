"""Which NVIDIA driver runs a CUDA build, and which driver branches still support a GPU (``drivers.toml``).

>>> str(min_driver("12.6")), str(min_driver("12.6", minor_compat=False))
('525.60.13', '560.28.3')
>>> last_branch_for("3.7"), last_branch_for("6.1"), last_branch_for("8.9")
(470, 580, None)
>>> recommended_branch("11.8"), recommended_branch("11.8", ccs=["3.7"])
(580, 470)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.version import Version

from torchrig.knowledge._tables import cc_tuple, load, minor_of


class DriverVersion(Version):
    """A driver version that compares as a :class:`Version` and prints as NVIDIA writes it ("580.65.06").

    ``str(Version("580.65.06"))`` is "580.65.6", a version no download page or package lists.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._text = text.strip()

    def __str__(self) -> str:
        return self._text


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
    own = DriverVersion(row[col]) if col in row else None
    compat = table["minor_compat"].get(key.split(".")[0], {}).get(col) if minor_compat else None
    if compat is None:
        return own
    # compatibility only ever lowers the requirement (CUDA 11.0's own GA driver is below the 11.x floor)
    return min(DriverVersion(compat), own) if own is not None else DriverVersion(compat)


@dataclass(frozen=True)
class Architecture:
    """One GPU architecture's driver support, a ``[branch.*]`` row of ``drivers.toml``."""

    name: str  # "Kepler", "Pascal", "Blackwell"
    compute: tuple[str, ...]  # the capabilities NVIDIA's matrix lists for it: ("3.5", "3.7")
    first_cuda: str | None  # the first toolkit that builds for it
    last_cuda: str | None  # the last one ("12.x"), None while it is current
    last_branch: int | None  # the last driver branch that supports it (470), None while it is current


def architectures() -> tuple[Architecture, ...]:
    """Every architecture the driver matrix lists, oldest first."""
    out = []
    for key, row in load("drivers")["branch"].items():
        last = str(row.get("last", ""))
        out.append(
            Architecture(
                name=key.split("_")[0].capitalize(),
                compute=tuple(row["compute"]),
                first_cuda=row.get("first_cuda"),
                last_cuda=row.get("last_cuda"),
                last_branch=int(last[1:]) if last.startswith("R") else None,
            )
        )
    return tuple(out)


def architecture_of(cc: str) -> Architecture | None:
    """The architecture of compute capability ``cc`` as the driver matrix lists it (Jetson-only 6.2/7.2: None)."""
    want = cc_tuple(cc)
    return next((a for a in architectures() if any(cc_tuple(c) == want for c in a.compute)), None)


def last_branch_for(cc: str) -> int | None:
    """The last driver branch that supports a GPU of capability ``cc`` (Kepler: 470), None while it is supported."""
    arch = architecture_of(cc)
    return arch.last_branch if arch else None


def newest_compat_branch() -> int:
    """The minor-version-compatibility branch of the newest CUDA major: a driver of it runs every build in the tables."""
    table = load("drivers")["minor_compat"]
    newest = max(table, key=int)
    return int(str(table[newest]["linux"]).split(".")[0])


def oldest_last_branch(ccs: Iterable[str]) -> tuple[int, str] | None:
    """Of these GPUs, the one whose support ends first: (its last branch, its capability), or None if none has ended."""
    ended = [(branch, cc) for cc in ccs if (branch := last_branch_for(cc)) is not None]
    return min(ended) if ended else None


def recommended_branch(cuda: str | None = None, *, windows: bool = False, ccs: Iterable[str] = ()) -> int | None:
    """The driver branch to install: one that runs a CUDA ``cuda`` build and still supports every GPU in ``ccs``.

    That is the newest CUDA major's compatibility branch (R580 runs every CUDA 11, 12 and 13 build), or the
    build's own minimum where that is newer, but never past the last branch of a GPU here: Kepler stays on
    R470, Maxwell, Pascal and Volta on R580. None when no branch does both (the GPU's support ended before
    the build's driver), or the tables do not know ``cuda``.
    """
    branch = newest_compat_branch()
    if cuda is not None:
        need = min_driver(cuda, windows=windows)
        if need is None:
            return None
        branch = max(branch, need.major)
    else:
        need = None
    limit = oldest_last_branch(ccs)
    if limit is None:
        return branch
    if need is not None and need.major > limit[0]:
        return None
    return min(branch, limit[0])
