"""Every command's --help names what its options take, in words: no Python type placeholders.

The list of commands comes from the command tree itself, so a command added later is checked too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import typer

from torchrig.cli.main import app


def _commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        found.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            if not sub.hidden:
                walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()
PLACEHOLDER = re.compile(r"<bool>|<str>|<int>|<float>|<list\[|<path>|range>|<text>", re.IGNORECASE)


def test_the_walk_finds_every_command_group_and_command() -> None:
    assert {("doctor",), ("selftest",), ("mirror", "use"), ("env", "create"), ("cache", "clear")} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "torchrig")
def test_help_has_no_type_placeholders(command: tuple[str, ...]) -> None:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}  # wide: a placeholder is never folded apart
    proc = subprocess.run(
        [sys.executable, "-m", "torchrig", *command, "--help"], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage: torchrig" in proc.stdout
    assert not PLACEHOLDER.findall(proc.stdout), proc.stdout


@pytest.mark.parametrize("command", [c for c in COMMANDS if c], ids=" ".join)
def test_timeout_is_seconds_wherever_it_exists(command: tuple[str, ...]) -> None:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torchrig", *command, "--help"], capture_output=True, text=True, timeout=120, env=env
    )
    takes = re.findall(r"^\W*--timeout\s+(\S+)", proc.stdout, re.MULTILINE)  # the option's own row
    assert set(takes) <= {"SECONDS"}, proc.stdout
