"""Compute capability from a GPU's model name (``gpu_models.toml``), for reports that give names only.

``collect_env`` lists GPUs as ``nvidia-smi -L`` prints them; the checks need the compute capability to
compare it with a build's architectures::

    >>> capability_of("NVIDIA GeForce RTX 5090 D")
    '12.0'
    >>> capability_of("Some Future GPU") is None
    True
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from torchrig.knowledge import load


@dataclass(frozen=True)
class Model:
    pattern: re.Pattern[str]
    capability: str  # "8.6"
    examples: tuple[str, ...]


@functools.cache
def models() -> tuple[Model, ...]:
    """The rows of the table, in the order they are tried."""
    return tuple(
        Model(re.compile(row["pattern"], re.IGNORECASE), row["cc"], tuple(row["examples"]))
        for row in load("gpu_models")["model"]
    )


def capability_of(name: str | None) -> str | None:
    """The compute capability of the GPU model called ``name``, or None for a model the table lacks."""
    if not name:
        return None
    return next((m.capability for m in models() if m.pattern.search(name)), None)
