"""End-to-end doctor tests build machines with the probe tests' fakes (tests/doctor/probe/probe_fakes.py)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

# probe_fakes is a plain module next to the probe tests (no packages under tests/); make it importable
# when this folder runs on its own, too.
_PROBE_TESTS = str(Path(__file__).resolve().parents[1] / "probe")
if _PROBE_TESTS not in sys.path:
    sys.path.insert(0, _PROBE_TESTS)

from probe_fakes import FakeTree  # noqa: E402


@pytest.fixture
def tree(tmp_path: Path) -> FakeTree:
    """An empty machine filesystem under a temporary directory."""
    return FakeTree(tmp_path / "machine")


@pytest.fixture(autouse=True)
def box_python(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every box runs Python 3.11.9.

    The system probe reads the Python version from the running interpreter (``platform``), not through a
    seam; pinning it keeps the torch releases these boxes carry inside their supported Python range
    whatever Python runs the tests.
    """
    monkeypatch.setattr(platform, "python_version", lambda: "3.11.9")
    return "3.11.9"
