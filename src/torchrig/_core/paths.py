"""Where torchrig keeps things, resolved in one place from the environment at call time.

    >>> config_dir()           # $XDG_CONFIG_HOME/torchrig, default ~/.config/torchrig
    PosixPath('/home/ada/.config/torchrig')
    >>> shm_dir()              # $TORCHRIG_SHM_DIR, default /dev/shm/torchrig-<uid>
    PosixPath('/dev/shm/torchrig-1000')

Every directory follows the XDG base-directory convention, so a user (or a test) moves them with the
usual variables: ``XDG_CONFIG_HOME`` (mirror catalog, ``config.toml``), ``XDG_STATE_HOME`` (the mirror
journal), ``XDG_CACHE_HOME`` (persistent data caches), ``XDG_DATA_HOME`` (environments torchrig makes,
or ``TORCHRIG_ENVS_DIR``). The shared-memory directory of ``torchrig.data`` moves with
``TORCHRIG_SHM_DIR``: every worker and rank of a job must see the same value, which an inherited
environment variable gives them.
"""

from __future__ import annotations

import os
from pathlib import Path

SHM_ROOT = Path("/dev/shm")


def home() -> Path:
    return Path(os.path.expanduser("~"))


def _xdg(variable: str, *default: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else home().joinpath(*default)


def config_home() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def config_dirs() -> list[Path]:
    """The system-wide configuration folders, most important last as pip reads them ($XDG_CONFIG_DIRS)."""
    return [Path(d) for d in (os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep) if d]


def state_home() -> Path:
    return _xdg("XDG_STATE_HOME", ".local", "state")


def cache_home() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache")


def data_home() -> Path:
    return _xdg("XDG_DATA_HOME", ".local", "share")


def config_dir() -> Path:
    """torchrig's own configuration: the mirror catalog additions (mirrors.toml) and config.toml."""
    return config_home() / "torchrig"


def state_dir() -> Path:
    """What torchrig remembers between runs: the journal of mirror changes."""
    return state_home() / "torchrig"


def cache_dir() -> Path:
    """Caches that may be deleted at any time: persistent data caches."""
    return cache_home() / "torchrig"


def envs_dir() -> Path:
    """Where venv and uv environments made by ``torchrig env create`` live."""
    explicit = os.environ.get("TORCHRIG_ENVS_DIR")
    return Path(explicit).expanduser() if explicit else data_home() / "torchrig" / "envs"


def shm_dir() -> Path:
    """The shared-memory directory for data caches: ``$TORCHRIG_SHM_DIR``, else ``/dev/shm/torchrig-<uid>``."""
    explicit = os.environ.get("TORCHRIG_SHM_DIR")
    return Path(explicit) if explicit else SHM_ROOT / f"torchrig-{os.geteuid()}"
