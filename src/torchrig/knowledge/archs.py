"""Whether compiled GPU code runs on a compute capability: the SASS / PTX compatibility rule, stated once.

>>> arch_covers("sm_80", "8.6"), arch_covers("sm_80", "9.0"), arch_covers("compute_80", "9.0")
(True, False, True)
>>> build_covers(["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"], "7.0")
False
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from torchrig.knowledge._tables import cc_tuple

# Integrated-GPU targets whose code runs only on exactly that capability (torch's DEVICE_REQUIREMENT in
# torch/cuda/__init__.py; see cuda_toolkits.toml [ptx].sass).
_ARCH = re.compile(r"(?:sm|compute)_\d{2,3}[af]?")  # "sm_86", "compute_90", "sm_90a", "sm_100f"
_EXACT_ONLY = {"53", "62", "72", "87"}


def arch_covers(arch: str, cc: str) -> bool:
    """Whether code compiled for ``arch`` ("sm_86", "compute_90") runs on compute capability ``cc``.

    SASS runs on the same major with an equal or higher minor (sm_86 runs on 8.9, sm_120 on 12.1),
    except integrated-GPU targets, which run only on themselves; sm_101 is treated as sm_110.
    PTX ("compute_XX") is JIT-compiled for any capability at or above XX. Sources: cuda_toolkits.toml
    ``[ptx]`` (the CUDA C++ Programming Guide's binary compatibility, ptxas's own help) and ``[renamed]``.
    """
    have = cc_tuple(cc)
    digits = arch.rsplit("_", maxsplit=1)[-1]
    if digits.endswith(("a", "f")):
        base = cc_tuple(digits[:-1])
        if digits.endswith("a"):  # arch-specific targets (sm_90a) run only on exactly that capability
            return have == base
        return have[0] == base[0] and have[1] >= base[1]  # family-specific (sm_100f): the same family
    if arch.startswith("compute_"):
        return have >= cc_tuple(digits)
    if digits in _EXACT_ONLY:
        return have == cc_tuple(digits)
    if digits == "101":
        digits = "110"
    built = cc_tuple(digits)
    if f"{have[0]}{have[1]}" in _EXACT_ONLY:
        return have == built
    return have[0] == built[0] and have[1] >= built[1]


def build_covers(archs: Iterable[str], cc: str) -> bool:
    """Whether a build with these architectures has kernels (SASS, or PTX to JIT) for capability ``cc``
    (an entry that is no architecture name, such as one a paste cut short, "sm_8", counts for nothing)."""
    return any(arch_covers(a, cc) for a in archs if _ARCH.fullmatch(a))
