"""What the user asked for: an environment name, and optionally an ``environment.yml``.

``environment.yml`` is read the way conda reads it (``name``, ``channels``, ``dependencies`` with an
optional ``pip:`` list), and split into what torchrig decides (Python, and the PyTorch build, which
comes from the plan) and what it passes through (every other package). PyTorch is asked for at most
once: a file that wants both conda's ``pytorch`` and pip's ``torch`` is refused, because the two
overwrite each other's files in one environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from torchrig._core.errors import UserError, read_user_file

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_RESERVED = {"base", "root"}  # conda's own environment
# A conda MatchSpec ("pytorch=2.5.1=cuda*", "numpy >=1.26", "conda-forge::uv") is not PEP 508, so
# packaging cannot read it: its package name, and the leading version of an exact pin, build strings ignored.
_CONDA_SPEC = re.compile(r"^\s*(?:[\w.-]+::)?([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$")
_CONDA_EXACT = re.compile(r"^={1,2}\s*(\d+\.\d+(?:\.\d+)?)")

CONDA_TORCH = {"pytorch", "pytorch-gpu", "pytorch-cpu", "pytorch-cuda", "cuda-version"}
PIP_TORCH = {"torch"}
# built against one torch build each: they must come from the same index as torch, or a PyPI torchvision
# (built for PyPI's default CUDA) lands next to a cu126 torch
PIP_COMPANIONS = ("torchvision", "torchaudio")
_LIMIT = 1 << 20  # an environment.yml is a few hundred bytes


def check_name(name: str) -> str:
    """``name`` if it can name a conda environment and a directory, else a :class:`UserError`."""
    if not _NAME.match(name) or name in _RESERVED or name in {".", ".."}:
        raise UserError(
            f"{name!r} is not a valid environment name; use up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (and not base or root)."
        )
    return name


@dataclass(frozen=True)
class EnvFile:
    path: str
    name: str | None
    channels: tuple[str, ...]
    python: str | None  # "3.12" when the file pins one
    conda: tuple[str, ...]  # conda specs other than python, pip and the PyTorch family
    pip: tuple[str, ...]  # pip lines (requirements and options) other than torch
    torch: str | None  # a torch version the file asks for ("2.13", "2.13.0")
    torch_from: str | None  # "conda", "pip" or None when the file does not ask for PyTorch
    companions: tuple[str, ...] = ()  # pip torchvision / torchaudio lines: installed with torch, from its index

    @property
    def needs_conda(self) -> bool:
        return bool(self.conda) or self.torch_from == "conda"


def read_env_file(path: str | Path) -> EnvFile:
    """Parse ``environment.yml``; anything conda would not accept is a one-sentence :class:`UserError`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    p = Path(path)
    raw = read_user_file(p, limit=_LIMIT, what="an environment.yml")
    try:
        data = YAML(typ="safe", pure=True).load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{p} is not a text file, so it is not an environment.yml.") from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{p} does not parse as YAML{where}: {problem}.") from None
    return _interpret(p, data)


def _interpret(p: Path, data: Any) -> EnvFile:
    if not isinstance(data, dict):
        raise UserError(f"{p} is not an environment.yml: it must be a mapping with a dependencies list.")
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        raise UserError(f"{p}: dependencies must be a list of packages.")
    channels = data.get("channels") or []
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise UserError(f"{p}: channels must be a list of channel names.")
    if "pytorch" in channels:
        raise UserError(
            f"{p} uses the pytorch channel, which stopped at torch 2.5; remove it and torchrig installs the "
            "build from its plan."
        )
    python: str | None = None
    conda: list[str] = []
    pip: list[str] = []
    torch: str | None = None
    companions: list[str] = []
    sources: set[str] = set()
    for dep in deps:
        if isinstance(dep, dict) and set(dep) == {"pip"}:
            lines = dep["pip"] or []
            if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
                raise UserError(f"{p}: the pip: entry must be a list of requirements.")
            for line in lines:
                req = pip_requirement(line)
                name: str | None = canonicalize_name(req.name) if req is not None else None
                if req is not None and name in PIP_TORCH:
                    sources.add("pip")
                    torch = torch or pinned_version(req)
                elif req is not None and name in PIP_COMPANIONS:
                    companions.append(line.strip())
                else:
                    pip.append(line.strip())
            continue
        if not isinstance(dep, str):
            raise UserError(f"{p}: {dep!r} is not a package spec; dependencies are strings or a pip: list.")
        name, rest = _conda_spec(dep)
        if name is None:
            raise UserError(f"{p}: {dep!r} is not a package spec.")
        lname = name.lower()
        if lname == "python":
            python = _python(p, rest)
        elif lname == "pip":
            continue
        elif lname in CONDA_TORCH:
            sources.add("conda")
            if lname.startswith("pytorch"):
                exact = _CONDA_EXACT.match(rest)
                torch = torch or (exact.group(1) if exact else None)
        else:
            conda.append(dep.strip())
    if companions and "conda" in sources:
        raise UserError(
            f"{p} asks for conda's pytorch and pip's {_name_of(companions[0])}; install both from conda "
            "(list it next to pytorch), since a pip build is made for another torch."
        )
    if len(sources) > 1:
        raise UserError(
            f"{p} asks for PyTorch from both conda (pytorch) and pip (torch); keep one, since the two "
            "overwrite each other's files in one environment."
        )
    name = data.get("name")
    return EnvFile(
        path=str(p),
        name=name if isinstance(name, str) else None,
        channels=tuple(channels),
        python=python,
        conda=tuple(conda),
        pip=tuple(pip),
        torch=torch,
        torch_from=next(iter(sources), None),
        companions=tuple(companions),
    )


def pip_requirement(line: str) -> Requirement | None:
    """A pip line as a PEP 508 requirement; None for option lines (``--index-url``), paths and URLs."""
    text = line.strip()
    if not text or text.startswith("-"):
        return None
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def pinned_version(req: Requirement) -> str | None:
    """The torch release an exact pin asks for: ``torch==2.13.0`` -> "2.13.0", ``==2.13.*`` -> "2.13"."""
    for spec in req.specifier:
        if spec.operator == "==":
            version = spec.version.removesuffix(".*")
            if re.fullmatch(r"\d+\.\d+(\.\d+)?", version):
                return version
    return None


def _name_of(line: str) -> str:
    req = pip_requirement(line)
    return req.name if req is not None else line.strip()


def _conda_spec(spec: str) -> tuple[str | None, str]:
    """(package name, the rest) of a conda MatchSpec; (None, spec) when it names no package."""
    match = _CONDA_SPEC.match(spec.strip())
    if not match:
        return None, spec.strip()
    return match.group(1), match.group(2).strip()


def _python(p: Path, rest: str) -> str:
    match = re.match(r"^={1,2}\s*(\d+)\.(\d+)", rest)
    if not match:
        raise UserError(f"{p}: pin Python as python=3.12 (torchrig needs the version to choose the build).")
    return f"{match.group(1)}.{match.group(2)}"
