"""Helpers of the GPU lane (the fixtures are in conftest.py): why a machine cannot run it, and how the
lane starts the CLI: ``python -m torchrig`` under this interpreter with this checkout's ``src`` first on
``PYTHONPATH``, never a console script or a virtual environment (the GPU machine has neither)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"


@functools.cache
def no_gpu_reason() -> str | None:
    """Why this machine cannot run the lane, or None when it can."""
    try:
        import torch
    except ImportError as exc:
        return f"torch cannot be imported ({exc}): the GPU lane needs a CUDA build of torch"
    if not torch.version.cuda:
        return f"torch {torch.__version__} is not a CUDA build: the GPU lane needs one"
    if not torch.cuda.is_available():
        return f"CUDA is not available to torch {torch.__version__} (no NVIDIA GPU or driver here)"
    return None


def cli_env(home: Path, tmp: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for the CLI: ``src`` first on ``PYTHONPATH`` (absolute: rank processes may start
    elsewhere), a private ``HOME`` and, when given, a private ``TMPDIR`` (the selftest's work directory)."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(SRC) + (os.pathsep + path if path else "")
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        NO_COLOR="1",
        COLUMNS="200",
    )
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    env.update(extra)
    return env


def run_torchrig(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m torchrig ARGS``; a run past ``timeout`` raises subprocess.TimeoutExpired."""
    return subprocess.run(
        [sys.executable, "-m", "torchrig", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
    )


def tail(text: str, chars: int = 3000) -> str:
    return text if len(text) <= chars else "..." + text[-chars:]
