"""The real pip reads what torchrig wrote, and agrees with `show` about which file wins."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from torchrig.mirrors.show import resolve

TUNA = "https://pypi.tuna.tsinghua.edu.cn/simple"


def pip_index_url() -> str | None:
    """What `pip config list` says global.index-url is, run as a real pip in this environment."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"^global\.index-url='([^']*)'$", proc.stdout, re.M)
    return found.group(1) if found else None


@pytest.mark.slow
def test_pip_reads_the_file_torchrig_wrote_and_show_agrees(sandbox_home: Path, cli, monkeypatch) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    assert cli("mirror", "use", "tuna", "--for", "pip")[0] == 0
    assert pip_index_url() == TUNA == resolve(("pip",))[0].value

    # PIP_CONFIG_FILE naming an existing file makes pip skip the user file entirely
    other = sandbox_home / "cluster-pip.conf"
    other.write_text("[global]\ntimeout = 30\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(other))
    assert pip_index_url() is None
    view = resolve(("pip",))[0]
    assert view.value == "https://pypi.org/simple" and view.source == "default"
