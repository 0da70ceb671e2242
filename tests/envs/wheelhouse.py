"""A local wheel directory for creating environments offline in tests.

torchrig itself is built with ``pip wheel --no-build-isolation`` (no index needed); its dependencies
are repacked from the distributions installed in the test interpreter (their RECORD says which files
are theirs; pip regenerates console scripts from entry_points.txt, so bin/ is left out). torch is a
stand-in that holds no PyTorch: importing it raises an ImportError that says so, which is what the
doctor inside the new environment must report.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

STAND_IN = "this torch is a stand-in wheel built by torchrig's tests; it holds no PyTorch"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _write_wheel(out: Path, filename: str, dist_info: str, files: dict[str, bytes]) -> Path:
    target = out / filename
    records = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
            records.append(_record_line(path, data))
        records.append(f"{dist_info}/RECORD,,")
        zf.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return target


def repack(dist_name: str, out: Path) -> Path:
    """A wheel of an installed (non-editable) distribution, rebuilt from the files its RECORD lists."""
    dist = md.distribution(dist_name)
    tags = [ln.split(":", 1)[1].strip() for ln in (dist.read_text("WHEEL") or "").splitlines() if ln.startswith("Tag:")]
    parts3 = [t.split("-") for t in tags] or [["py3", "none", "any"]]
    # the compressed tag set of the filename: py2-none-any + py3-none-any -> py2.py3-none-any
    tag = "-".join(".".join(dict.fromkeys(p[i] for p in parts3)) for i in range(3))
    files: dict[str, bytes] = {}
    dist_info = ""
    for f in dist.files or []:
        parts = Path(str(f)).parts
        if (
            parts[0] == ".."
            or "__pycache__" in parts
            or f.name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
        ):
            continue
        if parts[0].endswith(".dist-info"):
            dist_info = parts[0]
        src = Path(f.locate())
        if src.is_file():
            files[str(f)] = src.read_bytes()
    name = _norm(dist.metadata["Name"])
    return _write_wheel(out, f"{name}-{dist.version}-{tag}.whl", dist_info, files)


def closure(root: str) -> list[str]:
    """``root``'s runtime dependencies, recursively, as installed here (extras and markers evaluated)."""
    seen: dict[str, None] = {}
    todo = [root]
    while todo:
        for line in md.requires(todo.pop()) or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            key = _norm(req.name)
            if key not in seen:
                seen[key] = None
                todo.append(req.name)
    return list(seen)


def fake_torch(out: Path, version: str = "2.13.0+cpu") -> Path:
    dist_info = f"torch-{version}.dist-info"
    files = {
        "torch/__init__.py": f"raise ImportError({STAND_IN!r})\n".encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\nSummary: {STAND_IN}\n".encode()
        ),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: torchrig-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    return _write_wheel(out, f"torch-{version}-py3-none-any.whl", dist_info, files)


def build(out: Path, repo: Path) -> Path:
    """torchrig, its dependencies, and the stand-in torch, all in ``out``.

    torchrig is built from a copy of the project next to ``out``: setuptools writes build/ and
    *.egg-info where it builds, and tests never write into the checkout.
    """
    out.mkdir(parents=True, exist_ok=True)
    source = out.parent / f"{out.name}-source"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(repo / name, source / name)
    shutil.copytree(repo / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    for name in closure("torchrig"):
        repack(name, out)
    fake_torch(out)
    return out
