"""Exit codes a shell sees: a reader that closes the pipe early, and Ctrl-C at any moment (docs/exit-codes.md).

Every case is a real ``torchrig`` process: a pipe whose reader has gone away, and SIGINT sent to the child.
"""

from __future__ import annotations

import os
import pty
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TORCHRIG = [sys.executable, "-m", "torchrig"]
OUTPUT_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for `yes | head -1`


def run_with_closed_stdout(*args: str) -> subprocess.CompletedProcess[str]:
    """Run torchrig with stdout a pipe whose reader is already gone, as after `| head -1` has its line."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [*TORCHRIG, *args], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, check=False
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("doctor", "--quick"),
        ("doctor", "--quick", "--json"),
        ("mirror", "list"),
        ("env", "plan", "--driver", "550.54", "--gpu", "A100"),
        ("--version",),
    ],
    ids=" ".join,
)
def test_a_closed_pipe_ends_quietly_with_141(args: tuple[str, ...], sandbox_home: Path) -> None:
    proc = run_with_closed_stdout(*args)
    assert proc.returncode == OUTPUT_CLOSED, proc.stderr
    assert proc.stderr == ""  # no traceback, no "Exception ignored ... BrokenPipeError"


def test_head_in_a_real_shell_pipeline_sees_the_first_line_and_no_noise(sandbox_home: Path) -> None:
    shell = shutil.which("bash")
    if shell is None:
        pytest.skip("needs bash for PIPESTATUS")
    command = shlex.join(TORCHRIG) + ' --help | head -2; echo "status=${PIPESTATUS[0]}"'
    proc = subprocess.run([shell, "-c", command], capture_output=True, text=True, timeout=120, check=False)
    *lines, status = proc.stdout.splitlines()
    assert "Usage: torchrig" in lines[-1] and len(lines) == 2
    assert status in ("status=0", f"status={OUTPUT_CLOSED}")  # 0 when the help fit in the pipe before head left
    assert proc.stderr == ""


def test_a_reader_that_leaves_after_all_was_written_keeps_the_command_s_own_code(sandbox_home: Path) -> None:
    # grep -q leaves at its first match, after torchrig's only line was written: nothing was lost
    shell = shutil.which("bash")
    if shell is None:
        pytest.skip("needs bash for pipefail")
    command = "set -o pipefail; " + shlex.join(TORCHRIG) + " --version | grep -q torchrig"
    proc = subprocess.run([shell, "-c", command], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and proc.stderr == ""


def _interrupt_after(module: str, *args: str) -> tuple[int, str]:
    """Send SIGINT to torchrig right after Python reports having imported ``module`` (-X importtime)."""
    proc = subprocess.Popen(
        [*TORCHRIG, *args],
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # importtime lines: "import time: self | cumulative | name", as each import ends
        seen.append(line)
        if line.startswith("import time:") and line.rsplit("|", 1)[-1].strip() == module:
            proc.send_signal(signal.SIGINT)
            break
    else:
        proc.wait()
        raise AssertionError(f"{module} was never imported: {''.join(seen[-5:])}")
    _out, rest = proc.communicate(timeout=60)
    errors = "".join(line for line in rest.splitlines(keepends=True) if not line.startswith("import time:"))
    return proc.returncode, errors


@pytest.mark.parametrize(
    "module",
    # from the first import inside the entry point to the command running; pathlib was imported by
    # `import torchrig` itself, before the entry point could catch anything. (Before that, a few
    # milliseconds of Python starting up and importing the entry point are Python's own.)
    ["pathlib", "torchrig.cli.early", "rich.console", "typer", "torchrig.cli.main"],
)
def test_ctrl_c_during_startup_exits_130_without_a_traceback(module: str, sandbox_home: Path) -> None:
    code, errors = _interrupt_after(module, "cache", "list")
    assert code == 130, errors
    assert "Traceback" not in errors and "KeyboardInterrupt" not in errors, errors


def test_ctrl_c_at_the_hf_endpoint_prompt_exits_130(sandbox_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELL", "/bin/bash")
    rc = sandbox_home / ".bashrc"
    rc.write_text("# ~/.bashrc\n")
    primary, terminal = pty.openpty()  # the prompt is only asked on a terminal
    proc = subprocess.Popen(
        [*TORCHRIG, "mirror", "use", "hf-mirror", "--for", "hf"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(terminal)
    try:
        wchan = Path(f"/proc/{proc.pid}/wchan")
        deadline = time.monotonic() + 60
        while "tty_read" not in wchan.read_text() and "wait_woken" not in wchan.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, "the prompt never waited for an answer"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
    assert "HF_ENDPOINT block" in err  # it was the prompt that was interrupted
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Aborted" not in err
    assert rc.read_text() == "# ~/.bashrc\n"  # nothing written
