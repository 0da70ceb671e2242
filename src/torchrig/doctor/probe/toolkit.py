"""The CUDA toolkit that would build extensions, found as ``torch.utils.cpp_extension`` finds it, and any other.

PyTorch's rule (``_find_cuda_home`` in torch 2.13): ``CUDA_HOME``, else ``CUDA_PATH``, else the
parent of the directory holding ``nvcc`` on ``PATH``, else ``/usr/local/cuda`` if it exists. A
conda ``cudatoolkit``/``cuda-nvcc`` is found when the environment's ``bin`` is on ``PATH`` and then
reported as found by "conda". The version comes from ``version.json``/``version.txt``, else from
``nvcc --version`` (not in quick mode), else from ``CUDA_VERSION`` in ``include/cuda.h``.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING

from torchrig.doctor.facts import ToolkitFacts, ToolkitInstall

if TYPE_CHECKING:
    from torchrig.doctor.probe import Host

_NVCC_RELEASE = re.compile(r"release\s+(\d+\.\d+),\s*V(\d+(?:\.\d+)+)")
_VERSION_TXT = re.compile(r"CUDA Version\s+(\d+(?:\.\d+)+)")
_CUDA_H = re.compile(r"#define\s+CUDA_VERSION\s+(\d+)")
# Where toolkits live besides CUDA_HOME: NVIDIA's installers, distro packages, HPC modules.
_OTHER_PLACES = (
    "/usr/local/cuda",
    "/usr/local/cuda-*",
    "/opt/cuda",
    "/opt/cuda-*",
    "/opt/nvidia/cuda*",
    "/usr/lib/cuda",
)


def parse_nvcc_version(text: str) -> str | None:
    """ "Cuda compilation tools, release 13.0, V13.0.88" -> "13.0.88"."""
    match = _NVCC_RELEASE.search(text)
    return match.group(2) if match else None


def probe(host: Host, quick: bool) -> ToolkitFacts:
    facts = ToolkitFacts()
    home, found_by, nvcc_on_path = _cuda_home(host)
    if home is not None:
        source = "env" if found_by in ("CUDA_HOME", "CUDA_PATH") else "PATH" if nvcc_on_path else "filesystem"
        facts.set("cuda_home", home, source)
        facts.set("found_by", found_by, source)
        # with CUDA_HOME set, the extension builder runs $CUDA_HOME/bin/nvcc, whatever PATH says
        nvcc = nvcc_on_path if found_by in ("nvcc on PATH", "conda") else _nvcc_in(host, home)
        if nvcc:
            facts.set("nvcc", nvcc, "PATH" if nvcc == nvcc_on_path else "filesystem")
        facts.set("headers", _has_headers(host, home), "filesystem")
        version, source = _version(host, home, nvcc, quick)
        if version:
            facts.set("version", version, source)
        elif not host.root.path(home).is_dir():
            facts.errors.append(f"{found_by} points to {home}, which does not exist")
    facts.others = _others(host, home)
    if facts.others:
        facts.sources["others"] = "filesystem"
    return facts


def _cuda_home(host: Host) -> tuple[str | None, str | None, str | None]:
    nvcc = _which_nvcc(host)
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if host.env.get(var):
            return host.env[var], var, nvcc
    if nvcc is not None:
        home = os.path.dirname(os.path.dirname(nvcc))
        conda = (host.env.get("CONDA_PREFIX") or "").rstrip("/")
        in_conda = bool(conda) and (home == conda or home.startswith(conda + "/"))
        return home, "conda" if in_conda else "nvcc on PATH", nvcc
    if host.root.exists("/usr/local/cuda"):
        return "/usr/local/cuda", "/usr/local/cuda", None
    return None, None, None


def _which_nvcc(host: Host) -> str | None:
    for directory in host.env.get("PATH", "").split(os.pathsep):
        if directory:
            candidate = f"{directory.rstrip('/')}/nvcc"
            path = host.root.path(candidate)
            if path.is_file() and os.access(path, os.X_OK):
                return candidate
    return None


def _has_headers(host: Host, home: str) -> bool:
    """Whether the extension builder's include path ($CUDA_HOME/include) holds the CUDA runtime headers."""
    base = home.rstrip("/")
    return any(
        host.root.path(f"{base}/{where}/cuda_runtime.h").is_file()
        for where in ("include", "targets/x86_64-linux/include", "targets/sbsa-linux/include")
    )


def _nvcc_in(host: Host, home: str) -> str | None:
    candidate = f"{home.rstrip('/')}/bin/nvcc"
    return candidate if host.root.path(candidate).is_file() else None


def _version(host: Host, home: str, nvcc: str | None, quick: bool) -> tuple[str | None, str]:
    base = home.rstrip("/")
    text = host.root.read_text(f"{base}/version.json")
    if text:
        try:
            version = json.loads(text)["cuda"]["version"]
            return str(version), "version.json"
        except (ValueError, KeyError, TypeError):
            pass
    text = host.root.read_text(f"{base}/version.txt")
    match = _VERSION_TXT.search(text or "")
    if match:
        return match.group(1), "version.txt"
    if nvcc and not quick:
        result = host.runner.run([nvcc, "--version"], timeout=host.command_timeout, env=host.env)
        version = parse_nvcc_version(result.stdout)
        if version:
            return version, "nvcc --version"
    for header in (f"{base}/include/cuda.h", f"{base}/targets/x86_64-linux/include/cuda.h"):
        match = _CUDA_H.search(host.root.read_text(header) or "")
        if match:
            value = int(match.group(1))
            return f"{value // 1000}.{value % 1000 // 10}", "cuda.h"
    return None, ""


def _others(host: Host, home: str | None) -> list[ToolkitInstall]:
    """Every toolkit on disk other than ``home`` (symlinks such as /usr/local/cuda -> cuda-13.0 count once)."""
    chosen = _real(host, home) if home else None
    seen = {chosen} if chosen else set()
    others = []
    places = [p for pattern in _OTHER_PLACES for p in (host.root.glob(pattern) if "*" in pattern else [pattern])]
    conda = host.env.get("CONDA_PREFIX")
    if conda:
        places.append(conda)
    for place in places:
        has_nvcc = host.root.path(f"{place}/bin/nvcc").is_file()
        if not has_nvcc and not host.root.path(f"{place}/version.json").is_file():
            continue
        real = _real(host, place)
        if real in seen:
            continue
        seen.add(real)
        version, _ = _version(host, place, None, quick=True)  # files only: one nvcc run is enough
        others.append(ToolkitInstall(path=place, version=version))
    return others


def _real(host: Host, machine_path: str) -> str:
    """The host path with symlinks resolved inside the root."""
    base = os.path.realpath(host.root.path("/"))
    real = os.path.realpath(host.root.path(machine_path))
    return "/" + os.path.relpath(real, base) if real.startswith(base) else real
