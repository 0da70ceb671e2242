"""Fixtures of the probe tests; the fakes themselves live in probe_fakes.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from probe_fakes import FakeTree


@pytest.fixture
def tree(tmp_path: Path) -> FakeTree:
    """An empty machine filesystem under a temporary directory."""
    return FakeTree(tmp_path / "machine")
