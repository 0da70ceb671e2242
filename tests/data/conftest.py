"""Fixtures for the data runtime: a tiny real ImageFolder of JPEGs, a private cache directory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")


def make_jpegs(
    root: Path, classes: int = 3, per_class: int = 6, size: tuple[int, int] = (40, 48), seed: int = 0
) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / f"c{c}" / f"{k}.jpg", quality=90)
    return root


@pytest.fixture
def images(tmp_path: Path) -> Path:
    return make_jpegs(tmp_path / "images")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"  # created 0700 by the store


def run_py(
    code: str, *args: str, timeout: float = 120, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (a separate process, like an independently launched rank)."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
