"""Where each tool keeps its settings, per scope, the way each tool itself finds them.

Scopes: ``user`` (your home), ``env`` (the active virtualenv or conda environment), ``project`` (the
current directory). A tool that has no file for a scope gets a UserError saying which scopes it has.
Every path comes from the environment at call time (HOME, XDG_*, VIRTUAL_ENV, CONDA_PREFIX), so
tests point them into a sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path

from torchrig._core import paths
from torchrig._core.errors import UserError
from torchrig.mirrors import hf_endpoint, torch_index

SCOPES: tuple[str, ...] = ("user", "env", "project")
# Which scopes each target can hold (see the module docstring of each writer).
SCOPES_OF: dict[str, tuple[str, ...]] = {
    "pip": ("user", "env"),
    "uv": ("user", "project"),
    "conda": ("user", "env"),
    "torch": ("user",),
    "hf": ("user", "env"),
}


home = paths.home
xdg_config_home = paths.config_home
xdg_config_dirs = paths.config_dirs


def active_env() -> Path | None:
    """The environment pip and conda act on: $VIRTUAL_ENV, else $CONDA_PREFIX."""
    prefix = os.environ.get("VIRTUAL_ENV") or os.environ.get("CONDA_PREFIX")
    return Path(prefix) if prefix else None


def pip_user_file() -> Path:
    return xdg_config_home() / "pip" / "pip.conf"


def uv_user_file() -> Path:
    return xdg_config_home() / "uv" / "uv.toml"


def condarc_user_file() -> Path:
    return home() / ".condarc"


def target_file(target: str, scope: str) -> Path:
    """The file ``torchrig mirror use --for target --scope scope`` edits."""
    if scope not in SCOPES_OF[target]:
        have = " or ".join(SCOPES_OF[target])
        raise UserError(f"{target} has no {scope}-scope setting torchrig can write; use --scope {have}.")
    if target == "pip":
        if scope == "user":
            return pip_user_file()
        env = active_env()
        if env is None:
            raise UserError(
                "--scope env needs an active virtualenv or conda environment (VIRTUAL_ENV or CONDA_PREFIX)."
            )
        return env / "pip.conf"
    if target == "uv":
        return uv_user_file() if scope == "user" else Path.cwd() / "uv.toml"
    if target == "conda":
        if scope == "user":
            return condarc_user_file()
        prefix = os.environ.get("CONDA_PREFIX")
        if not prefix:
            raise UserError("--scope env for conda needs an active conda environment (CONDA_PREFIX is not set).")
        return Path(prefix) / ".condarc"
    if target == "torch":
        return torch_index.config_file()
    # hf
    if scope == "user":
        return hf_endpoint.shell_rc_file()[0]
    prefix = os.environ.get("CONDA_PREFIX")
    if not prefix:
        raise UserError(
            "HF_ENDPOINT needs a conda environment for --scope env (a venv has no place for variables); "
            "use --scope user, or set it in your job script."
        )
    return hf_endpoint.conda_state_file(prefix)
