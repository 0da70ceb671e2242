"""The command itself: version, help, and how it fails."""

from __future__ import annotations

import subprocess
import sys

import torchrig


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "torchrig", *args], capture_output=True, text=True, timeout=120)


def test_version_is_the_installed_distribution_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"torchrig {torchrig.__version__}"
    assert torchrig.__version__ != "0+unknown"


def test_unknown_command_is_a_usage_error_without_traceback() -> None:
    proc = run("no-such-command")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
