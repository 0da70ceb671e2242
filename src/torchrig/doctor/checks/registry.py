"""The check registry: what a check is, where it sits in the causal chain, and what it explains.

A check is a pure function ``(Facts, CheckContext) -> list[Finding]``. Each check module ends with
one :func:`register` call that names the check, lists the codes it may emit, says in one line what
it checks, puts it on a :class:`Layer`, and names the codes its findings *explain* (consequences
that :func:`torchrig.doctor.checks.run_checks` folds into the root cause instead of listing them as
separate problems).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding


class Layer(enum.IntEnum):
    """Where a problem sits in the chain that ends in a training step; earlier layers break later ones.

    A GPU must be reachable (ACCESS) before a driver can serve it (DRIVER), CUDA initialises on
    top of the driver (CUDA_INIT), torch must be installed and importable (TORCH_INSTALL), its
    build must carry kernels for the GPU and match its companions (BUILD), the libraries it loads
    must be its own (LIBRARIES), and only then does the machine around training matter (RUNTIME:
    shared memory, peer-to-peer). Findings are shown in this order: root causes first.
    """

    ACCESS = 0
    DRIVER = 1
    CUDA_INIT = 2
    TORCH_INSTALL = 3
    BUILD = 4
    LIBRARIES = 5
    RUNTIME = 6


@dataclass(frozen=True)
class CheckContext:
    """What a check may know besides the facts: where PyTorch wheels come from (a mirror's base)."""

    index_base: str | None = None  # None: download.pytorch.org/whl (knowledge/torch_builds.toml)


CheckFn = Callable[[Facts, CheckContext], "list[Finding]"]


@dataclass(frozen=True)
class Check:
    name: str  # "driver-too-old": the module's subject
    codes: tuple[str, ...]  # every code its findings may carry
    summary: str  # one line: what it checks
    layer: Layer
    run: CheckFn
    explains: tuple[str, ...] = ()  # codes that are consequences of this check's findings


_REGISTRY: list[Check] = []


def register(check: Check) -> Check:
    """Add a check to the registry (once per module, at its bottom); registration order breaks ties."""
    if any(existing.name == check.name for existing in _REGISTRY):
        raise ValueError(f"a check named {check.name!r} is already registered")
    _REGISTRY.append(check)
    return check


def registered() -> tuple[Check, ...]:
    return tuple(_REGISTRY)
