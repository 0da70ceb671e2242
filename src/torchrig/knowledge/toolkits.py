"""What each CUDA toolkit can compile for (``cuda_toolkits.toml``), and what that bounds when a build's list is unknown.

A build's own architecture list (``torch.cuda.get_arch_list()``, or a row of ``torch_builds.toml``)
is the answer when there is one. When there is none, the toolkit that made the build still bounds
it (``[rule].unknown_arch_list``, from NVIDIA's binary-compatibility rules): a CUDA 10.1 build
cannot contain SASS for anything newer than sm_75, so on an RTX 3090 (8.6) it runs only if it ships
PTX; on a GTX 680 (3.0) no CUDA 11 build runs at all, whatever its list::

    >>> possible_archs("10.1")
    ('sm_30', 'sm_75')
    >>> build_may_cover("10.1", "7.0"), build_may_cover("10.1", "8.6"), build_may_cover("11.8", "3.0")
    (True, None, False)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from packaging.version import Version

from torchrig.knowledge._tables import cc_tuple, load, minor_of
from torchrig.knowledge.archs import arch_covers


@dataclass(frozen=True)
class Toolkit:
    """One CUDA toolkit release's compile targets (a ``[toolkit."X.Y"]`` row)."""

    version: str  # "12.6"
    sm: tuple[str, ...]  # real targets nvcc accepts, forward-compatible kind: ("sm_50", ..., "sm_90")
    arch_specific: tuple[str, ...]  # "sm_90a": run on exactly that capability
    family_specific: tuple[str, ...]  # "sm_100f" (12.9+)
    deprecated: tuple[str, ...]  # accepted, announced for removal (where sourced)
    ptx_isa: str | None  # the highest PTX ISA its ptxas accepts (measured, 11.7+)
    evidence: str  # "measured" (NVIDIA's ptxas run) or "secondary" (LLVM / CMake / Ginkgo)

    @property
    def min_cc(self) -> str:
        return _cc_of(self.sm[0])

    @property
    def max_cc(self) -> str:
        return _cc_of(self.sm[-1])


def _cc_of(sm: str) -> str:
    major, minor = cc_tuple(sm)
    return f"{major}.{minor}"


@functools.cache
def toolkits() -> tuple[Toolkit, ...]:
    """Every toolkit in the table, oldest first."""
    rows = sorted(load("cuda_toolkits")["toolkit"].items(), key=lambda kv: Version(kv[0]))
    return tuple(
        Toolkit(
            version=version,
            sm=tuple(sorted(row["sm"], key=cc_tuple)),
            arch_specific=tuple(row.get("sm_arch_specific", ())),
            family_specific=tuple(row.get("sm_family_specific", ())),
            deprecated=tuple(row.get("deprecated", ())),
            ptx_isa=row.get("ptx_isa"),
            evidence=row["evidence"],
        )
        for version, row in rows
    )


def toolkit(cuda: str) -> Toolkit | None:
    """The toolkit of a CUDA version ("12.6", "12.6.3", torch.version.cuda), or None if the table lacks it."""
    key = minor_of(cuda)
    return next((t for t in toolkits() if t.version == key), None)


def possible_archs(cuda: str) -> tuple[str, str] | None:
    """The lowest and highest SASS target CUDA ``cuda``'s nvcc compiles for: "10.1" -> ("sm_30", "sm_75")."""
    tk = toolkit(cuda)
    return (tk.sm[0], tk.sm[-1]) if tk else None


def build_may_cover(torch_cuda: str, cc: str) -> bool | None:
    """Whether a build made with CUDA ``torch_cuda`` can have kernels for compute capability ``cc``, by its toolkit alone.

    - True: one of the toolkit's targets covers ``cc`` (SASS of the same major, minor at or below
      ``cc``'s), so a build of it may carry them; whether this one does is its own arch list.
    - None: no target of the toolkit covers ``cc``, which is newer than all of them: the build runs
      there only through PTX JIT, that is only if it ships PTX (or the toolkit is not in the table).
    - False: ``cc`` is older than the toolkit's lowest target: no build made with it runs there.

    The rule and its source: ``[rule]`` of ``cuda_toolkits.toml``.
    """
    tk = toolkit(torch_cuda)
    if tk is None:
        return None
    have = cc_tuple(cc)
    if have < cc_tuple(tk.sm[0]):
        return False
    if any(arch_covers(sm, cc) for sm in tk.sm):
        return True
    return None


def rule() -> str:
    """The general rule for a build whose architecture list is unknown, as the table states it."""
    text: str = load("cuda_toolkits")["rule"]["unknown_arch_list"]
    return text
