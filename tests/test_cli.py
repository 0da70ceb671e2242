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


def test_ctrl_c_exits_130_without_a_traceback() -> None:
    import signal
    import time
    from pathlib import Path

    # `doctor --report -` blocks reading standard input: interrupt it there, once it is really waiting
    proc = subprocess.Popen(
        [sys.executable, "-m", "torchrig", "doctor", "--report", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wchan = f"/proc/{proc.pid}/wchan"
    deadline = time.monotonic() + 60
    while "pipe_read" not in Path(wchan).read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err


def test_no_arguments_prints_the_help_and_succeeds() -> None:
    proc = run()
    assert proc.returncode == 0, proc.stderr
    assert "Usage: torchrig" in proc.stdout and "doctor" in proc.stdout
