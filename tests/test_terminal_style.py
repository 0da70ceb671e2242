"""How torchrig's output looks where people read it: a real pseudo-terminal 60 columns wide, and a pipe.

On a terminal, prose wraps at word boundaries under its indent and a command stays on one line (so it
can be copied); piped, nothing is wrapped. These run the real CLI in a pty whose window size is set.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

REPORT = Path(__file__).parent / "corpus" / "pytorch-30071-driver-410-cu101.txt"
COMMAND = "python -m pip install torch==1.3.1 --index-url https://download.pytorch.org/whl/cu100"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TTY_COMPATIBLE", "FORCE_COLOR")}
    env["NO_COLOR"] = "1"
    return env


def in_terminal(*args: str, columns: int) -> str:
    """What ``torchrig ARGS`` shows in a terminal window ``columns`` wide (stdout and stderr, as seen)."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "torchrig", *args], stdin=child, stdout=child, stderr=child, env=_env()
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=120) in (0, 1)
    return _ANSI.sub("", b"".join(chunks).decode().replace("\r\n", "\n"))  # NO_COLOR keeps bold and dim


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _cells(line: str) -> int:
    return len(line)


@pytest.mark.parametrize("columns", [60, 120])
def test_a_report_in_a_terminal_wraps_prose_at_words_and_keeps_commands_whole(columns: int) -> None:
    shown = in_terminal("doctor", "--report", str(REPORT), columns=columns)
    lines = shown.splitlines()
    # the install command is one line, whatever the width
    assert any(line.strip() == COMMAND for line in lines), shown
    # every other line fits the window, and no word was cut: each line break falls between words
    start = lines.index("  fix:") + 1
    commands = set(lines[start : lines.index("", start)])
    prose = [line for line in lines if line not in commands]
    assert all(_cells(line) <= columns for line in prose), [line for line in prose if _cells(line) > columns]
    joined = " ".join(line.strip() for line in prose)
    assert "A CUDA 10.1 build needs driver 418.39 or newer" in joined
    assert "torch.cuda.is_available() is False" in joined
    # continuation lines of a finding's detail keep its indent
    detail = next(i for i, line in enumerate(lines) if line.startswith("  A CUDA 10.1 build needs"))
    assert lines[detail + 1].startswith("  ") and not lines[detail + 1].startswith("   ")


def test_a_narrow_terminal_lists_the_facts_instead_of_slicing_a_table() -> None:
    narrow = in_terminal("doctor", "--report", str(REPORT), columns=60)
    assert "┏" not in narrow and "user-space library: 410.48 (report)" in narrow
    wide = in_terminal("doctor", "--report", str(REPORT), columns=120)
    assert "┏" in wide


def test_piped_output_keeps_every_line_whole_whatever_columns_says() -> None:
    env = _env() | {"COLUMNS": "60"}
    done = subprocess.run(
        [sys.executable, "-m", "torchrig", "doctor", "--report", str(REPORT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert any(
        line.startswith("  A CUDA 10.1 build needs driver 418.39 or newer") and line.endswith("older CUDA.")
        for line in lines
    ), done.stdout
    assert f"    {COMMAND}" in lines


MAKE_CACHE = """
import numpy as np
from torchrig.data import CachedDataset
class Images:
    def __len__(self): return 8
    def __getitem__(self, i): return np.full((3, 8, 8), i, dtype=np.uint8), i
ds = CachedDataset(Images(), name="imagenet-val-224-resized-center-crop", persist=True)
for i in range(8): ds[i]
"""


def test_cache_list_on_a_narrow_terminal_keeps_the_name_and_directory_whole(sandbox_home: Path) -> None:
    subprocess.run([sys.executable, "-c", MAKE_CACHE], check=True, env=_env(), timeout=120)
    narrow = in_terminal("cache", "list", columns=60).splitlines()
    name = next(line for line in narrow if line.startswith("imagenet-val-224-resized-center-crop-"))
    assert len(name) > 60  # one line for the terminal to fold, never cut by us
    directory = sandbox_home / ".cache" / "torchrig" / "data"
    assert f"  directory {directory}" in narrow
    details = [line for line in narrow if line.startswith("  ") and "directory" not in line]
    assert details and all(len(line) <= 60 for line in details)
    assert any(re.search(r"\bhits \d+", line) for line in details)  # a header and its value stay together
    wide = in_terminal("cache", "list", columns=200).splitlines()
    assert wide[0].split() == ["name", "state", "size", "items", "fits", "hits", "misses", "directory"]
    assert wide[1].startswith(name) and wide[1].rstrip().endswith(str(directory))
