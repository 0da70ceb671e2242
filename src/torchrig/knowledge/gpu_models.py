"""Compute capability from a GPU's model name (``gpu_models.toml``), for reports that only name the GPU.

>>> capability_of("Tesla V100-SXM2-32GB")
'7.0'
"""

from __future__ import annotations

import functools
import re

from torchrig.knowledge import load


@functools.cache
def _models() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(row["pattern"], re.IGNORECASE), row["cc"]) for row in load("gpu_models")["model"])


def capability_of(name: str | None) -> str | None:
    """ "NVIDIA GeForce RTX 4090" -> "8.9"; an unknown name -> None."""
    if not name:
        return None
    return next((cc for pattern, cc in _models() if pattern.search(name)), None)
