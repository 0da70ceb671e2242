"""A timed-out command takes its whole process tree with it (env create runs pip under `conda run`)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from torchrig._core.seams.runner import SubprocessRunner

# The child starts a grandchild (as `conda run` starts pip), waits until it is running, then hangs.
_CHILD = """
import subprocess, sys, time, pathlib
pid_file, late_file = sys.argv[1], sys.argv[2]
grandchild = (
    "import os, sys, time, pathlib\\n"
    "pathlib.Path(sys.argv[1] + '.tmp').write_text(str(os.getpid()))\\n"
    "os.replace(sys.argv[1] + '.tmp', sys.argv[1])\\n"
    "time.sleep(30)\\n"
    "pathlib.Path(sys.argv[2]).write_text('still writing')\\n"
)
subprocess.Popen([sys.executable, "-c", grandchild, pid_file, late_file])
while not pathlib.Path(pid_file).exists():
    time.sleep(0.02)
print("grandchild started", flush=True)
time.sleep(30)
"""


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for its new parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.slow
def test_a_timeout_kills_the_grandchild_too(tmp_path: Path) -> None:
    pid_file, late_file = tmp_path / "grandchild.pid", tmp_path / "late"
    result = SubprocessRunner().run([sys.executable, "-c", _CHILD, str(pid_file), str(late_file)], timeout=3)
    assert result.error == "timed out after 3 s" and result.returncode is None
    assert "grandchild started" in result.stdout
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the grandchild outlived the timeout"
    assert not late_file.exists()


@pytest.mark.slow
def test_ctrl_c_kills_the_grandchild_and_is_raised_again(tmp_path: Path) -> None:
    pid_file, late_file = tmp_path / "grandchild.pid", tmp_path / "late"

    def press_ctrl_c() -> None:
        deadline = time.monotonic() + 20
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)  # what the terminal sends, interrupting the runner's wait

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    with pytest.raises(KeyboardInterrupt):
        SubprocessRunner().run([sys.executable, "-c", _CHILD, str(pid_file), str(late_file)], timeout=25)
    presser.join()
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the grandchild outlived Ctrl-C"
