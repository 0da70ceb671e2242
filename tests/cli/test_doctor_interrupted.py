"""A live doctor that is interrupted ends the torch probe's child too (it runs in its own process group)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a real doctor process and a real hung child


def _hung_torch(tmp_path: Path) -> tuple[Path, Path]:
    """A package named torch whose import writes its pid and then hangs, like a wedged CUDA import."""
    site = tmp_path / "site"
    (site / "torch").mkdir(parents=True)
    pid_file = tmp_path / "child.pid"
    (site / "torch" / "__init__.py").write_text(
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(600)\n"
    )
    return site, pid_file


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_the_hung_torch_import_dies_with_the_doctor(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    site, pid_file = _hung_torch(tmp_path)
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    doctor = subprocess.Popen(
        [sys.executable, "-m", "torchrig", "doctor", "--timeout", "300"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and doctor.poll() is None, "the torch probe never started"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _alive(child)
        doctor.send_signal(sig)
        _out, err = doctor.communicate(timeout=30)
        # the exit code of a Ctrl-C depends on where it lands (typer or Python); the child must die either way
        assert doctor.returncode == code if sig == signal.SIGTERM else doctor.returncode != 0, err
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the torch probe's child outlived the doctor"
    finally:
        if doctor.poll() is None:
            os.killpg(doctor.pid, signal.SIGKILL)
        if pid_file.exists() and pid_file.read_text() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
