"""Installed Python packages, found the way the import system would find them, without importing any.

The scan walks ``sys.path`` in order and lists each directory once (``*.dist-info``/``*.egg-info``
names and package directories), so the first distribution found for a name is the one ``import``
would use, and a second one on a later entry is a shadowed copy. Paths on ``sys.path`` are host
paths; they are read through the host's :class:`~torchrig._core.seams.root.Root`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.metadata import PathDistribution
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchrig.doctor.probe import Host


@dataclass(frozen=True)
class Installed:
    """A distribution found on sys.path: its metadata, and where it lives on the host."""

    machine_path: str  # .../site-packages/torch-2.13.0+cpu.dist-info
    dist: PathDistribution

    @property
    def version(self) -> str | None:
        return self.dist.version

    @property
    def site_dir(self) -> str:
        return str(Path(self.machine_path).parent)


def normalise(name: str) -> str:
    """PEP 503: "Flash_Attn" and "flash-attn" are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def search_path(host: Host) -> list[str]:
    """``sys.path`` as directories: "" is the working directory, duplicates dropped, order kept."""
    seen: list[str] = []
    for entry in host.sys_path:
        directory = entry or host.cwd
        if directory and not directory.startswith("/") and host.cwd:
            directory = f"{host.cwd.rstrip('/')}/{directory}"  # PYTHONPATH=src is relative to where python started
        if directory and directory not in seen:
            seen.append(directory)
    return seen


def metadata_dirs(host: Host) -> dict[str, list[str]]:
    """Normalised project name -> host paths of its ``.dist-info``/``.egg-info``, first on sys.path first."""
    found: dict[str, list[str]] = {}
    for directory in search_path(host):
        for entry in host.root.listdir(directory):
            if entry.endswith((".dist-info", ".egg-info")):
                stem = entry.rsplit(".", 1)[0]
                found.setdefault(normalise(stem.split("-", 1)[0]), []).append(f"{directory.rstrip('/')}/{entry}")
    return found


def find_distribution(host: Host, name: str, dirs: dict[str, list[str]] | None = None) -> Installed | None:
    """The distribution ``import`` would see first, read through the host's root."""
    paths = (dirs if dirs is not None else metadata_dirs(host)).get(normalise(name))
    if not paths:
        return None
    return Installed(paths[0], PathDistribution(host.root.path(paths[0])))


def package_dirs(host: Host, module: str) -> list[str]:
    """Every directory on sys.path holding a regular package ``module`` (what ``import module`` could pick)."""
    copies = []
    for directory in search_path(host):
        candidate = f"{directory.rstrip('/')}/{module}"
        if host.root.path(candidate + "/__init__.py").is_file():
            copies.append(candidate)
    return copies


def conda_prefix_of(host: Host, site_dir: str) -> str | None:
    """The conda environment holding ``site_dir`` (.../lib/python3.X/site-packages), if it is one."""
    path = Path(site_dir)
    for parent in list(path.parents)[:4]:
        if host.root.path(str(parent) + "/conda-meta").is_dir():
            return str(parent)
    return None


def conda_records(host: Host, prefix: str) -> set[str]:
    """Names of the packages conda installed into ``prefix`` (conda-meta/<name>-<version>-<build>.json)."""
    names = set()
    for entry in host.root.listdir(prefix.rstrip("/") + "/conda-meta"):
        if entry.endswith(".json") and entry.count("-") >= 2:
            names.add(entry[: -len(".json")].rsplit("-", 2)[0])
    return names


def installer(host: Host, found: Installed, conda_names: tuple[str, ...] = ()) -> str | None:
    """Who installed ``dist``: the INSTALLER file ("pip", "uv", "conda"), or conda's own records.

    "conda+pip" when conda's records hold the package but another tool's files are the ones in use:
    both believe they own it, and the next ``conda update`` or ``pip install`` breaks the other.
    """
    dist = found.dist
    written = (dist.read_text("INSTALLER") or "").strip() or None
    prefix = conda_prefix_of(host, found.site_dir)
    in_conda = False
    if prefix is not None:
        name = normalise(dist.metadata["Name"] or "")
        in_conda = bool(conda_records(host, prefix) & {name, *conda_names})
    if in_conda and written not in (None, "conda"):
        return f"conda+{written}"
    if in_conda:
        return "conda"
    if written is None and _direct_url_editable(dist):
        return "editable"
    return written


def _direct_url_editable(dist: PathDistribution) -> bool:
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        return bool(json.loads(text).get("dir_info", {}).get("editable"))
    except (ValueError, AttributeError):
        return False


def location(host: Host, found: Installed, name: str) -> str:
    """The package directory of ``found`` (its first top-level module), else the directory it is installed in."""
    site = found.site_dir
    top_level = (found.dist.read_text("top_level.txt") or "").split()
    # a single top-level module is the package; several (nvidia-ml-py ships example.py and pynvml.py) name none
    for module in [name.replace("-", "_"), *(top_level if len(top_level) == 1 else [])]:
        candidate = f"{site}/{module}"
        if host.root.path(candidate).is_dir() or host.root.path(candidate + ".py").is_file():
            return candidate
    return site
