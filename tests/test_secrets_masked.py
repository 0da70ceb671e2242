"""Credentials never reach the screen or a JSON file: every command's output passes through the mask
(`torchrig._core.terminal`, `cli.console.emit_json`). Real CLI runs, credentials planted in real config files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PIP_SECRET = "s3cret-pip-pass"
TORCH_SECRET = "hunter2-torch-pass"


def torchrig(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torchrig", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | env,
    )


@pytest.fixture
def planted(sandbox_home: Path) -> dict[str, str]:
    pip_conf = sandbox_home / ".config" / "pip" / "pip.conf"
    pip_conf.parent.mkdir(parents=True)
    pip_conf.write_text(f"[global]\nindex-url = https://alice:{PIP_SECRET}@pypi.corp.example/simple\n")
    config = sandbox_home / ".config" / "torchrig" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[torch]\nindex = "https://bob:{TORCH_SECRET}@mirror.example/whl"\n')
    return {"PIP_CONFIG_FILE": str(pip_conf), "COLUMNS": "200"}


@pytest.mark.parametrize(
    "args",
    [
        ("mirror", "show"),
        ("mirror", "show", "--json"),
        ("env", "plan"),
        ("env", "plan", "--json"),
        ("env", "plan", "--driver", "580.95.05", "--cc", "8.6", "--json"),
    ],
)
def test_a_credential_in_a_config_file_is_masked_in_the_output(planted: dict[str, str], args: tuple[str, ...]) -> None:
    done = torchrig(*args, env=planted)
    assert done.returncode == 0, done.stderr
    shown = done.stdout + done.stderr
    assert PIP_SECRET not in shown and TORCH_SECRET not in shown
    assert "alice:****@pypi.corp.example" in shown or "bob:****@mirror.example" in shown


def test_env_install_prints_the_mirror_it_would_use_masked(planted: dict[str, str], tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "v")], check=True, timeout=120)
    python = str(tmp_path / "v" / "bin" / "python")  # no torch in it
    args = ("env", "install", "--torch", "2.13.0", "--backend", "cpu", "--interpreter", python, "--dry-run")
    done = torchrig(*args, env=planted)
    assert done.returncode == 0, done.stderr
    assert TORCH_SECRET not in done.stdout + done.stderr
    assert "bob:****@mirror.example" in done.stdout


def test_a_credential_split_by_a_table_cell_is_still_masked(sandbox_home: Path) -> None:
    mirrors = sandbox_home / ".config" / "torchrig" / "mirrors.toml"
    mirrors.parent.mkdir(parents=True)
    mirrors.write_text(
        '[mirror.corp]\ntitle = "Corp"\npypi = "https://alice:Corp-Pass-2026x@pypi.corp.example/simple/"\n'
    )
    done = torchrig("mirror", "list", "--for", "pip", env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    assert "alice:****@" in done.stdout  # the cell wraps after the mask, not before it
    assert "Corp-Pass" not in done.stdout and "2026x" not in done.stdout


def test_wrapped_prose_on_a_narrow_console_masks_before_it_wraps() -> None:
    import io

    from rich.table import Table

    from torchrig._core import terminal

    out = io.StringIO()
    c = terminal.console(out)
    c.width, c.soft_wrap = 30, False  # as on a terminal 30 columns wide
    secret = "https://bob:" + "x" * 40 + "@mirror.example/whl"
    terminal.indented(c, f"note: {secret} cannot be reached", 2)
    table = Table("url")
    table.add_row(secret)
    c.print(table)
    c.print(f"torchrig: {secret} is down")
    assert "xxxx" not in out.getvalue().replace("****", "")
    assert out.getvalue().count("bob:****@") == 3
