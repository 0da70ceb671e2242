"""Read, from PyPI's JSON API, which CPython versions each torch / torchvision / torchaudio release has wheels
for on each platform, when it was uploaded, and what its wheel metadata requires.

The source of ``python_platforms`` and the 2.14/2.15 rows in src/torchrig/knowledge/torch_builds.toml
(see notes/torch_builds.md, key [PYPI-J]). Run by hand, never by tests (it needs the network):

    python tools/pypi_wheel_pythons.py > src/torchrig/knowledge/notes/pypi_wheel_pythons.json

Only metadata is read: https://pypi.org/pypi/<name>/json (the release list),
https://pypi.org/pypi/<name>/<version>/json (every file with its tags and upload time), and for the
newest torch releases the wheel's own METADATA (the PEP 658 ``<wheel url>.metadata`` file PyPI serves
next to each wheel), whose Requires-Dist names the CUDA build PyPI ships. No wheel is downloaded.
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
import zipfile
from typing import Any

import httpx
from packaging.utils import parse_wheel_filename
from packaging.version import Version

# package -> releases whose wheel METADATA is read too (the Requires-Dist: CUDA pins, torch== pins)
METADATA_OF = {"torch": r"2\.1[3-9]\.\d+", "torchvision": r"0\.(2[89]|3\d)\.\d+", "torchaudio": r"2\.1[1-9]\.\d+"}
_CP = re.compile(r"cp(\d)(\d+)(t?)$")


_CLIENT = httpx.Client(headers={"User-Agent": "torchrig-knowledge-reader/1 (one-off)"}, timeout=60)


def _get(url: str, span: tuple[int, int] | None = None, accept: str | None = None) -> bytes:
    headers = {}
    if span is not None:
        headers["Range"] = f"bytes={span[0]}-{span[1]}"
    if accept is not None:
        headers["Accept"] = accept
    for attempt in range(3):
        try:
            response = _CLIENT.get(url, headers=headers, follow_redirects=True)
            response.raise_for_status()
            return response.content
        except httpx.TransportError:
            if attempt == 2:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def platform_of(tag: str) -> str | None:
    """A wheel platform tag -> linux-x86_64, linux-aarch64, macos-x86_64, macos-arm64, windows (None: other)."""
    if tag.endswith("x86_64") and ("linux" in tag):
        return "linux-x86_64"
    if tag.endswith("aarch64") and "linux" in tag:
        return "linux-aarch64"
    if tag.startswith("macosx"):
        if tag.endswith("arm64"):
            return "macos-arm64"
        if tag.endswith("x86_64") or tag.endswith("intel"):
            return "macos-x86_64"
        if tag.endswith("universal2"):
            return "macos-universal2"
        return None
    if tag == "win_amd64":
        return "windows"
    if tag == "any":
        return "any"
    return None


def python_of(tag: str) -> str | None:
    """ "cp313" -> "3.13", "cp313t" -> "3.13t" (free-threaded), "py3" -> None."""
    match = _CP.match(tag)
    return f"{match.group(1)}.{match.group(2)}{match.group(3)}" if match else None


def _sort_key(py: str) -> tuple[int, int, str]:
    major, minor = py.rstrip("t").split(".")
    return int(major), int(minor), py[-1] if py.endswith("t") else ""


class _RangeFile(io.RawIOBase):
    """A remote file read with HTTP range requests, so zipfile can read a wheel's METADATA without the wheel."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size, self.pos, self.fetched = url, size, 0, 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def read(self, n: int = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self.size, self.pos + n)
        if end <= self.pos:
            return b""
        data = _get(self.url, (self.pos, end - 1))
        self.fetched += len(data)
        self.pos += len(data)
        return data


def wheel_requires_dist(url: str, size: int) -> tuple[list[str], int]:
    """Requires-Dist of a wheel's .dist-info/METADATA, read by ranges (and how many bytes that took)."""
    remote = _RangeFile(url, size)
    with zipfile.ZipFile(remote) as wheel:  # type: ignore[arg-type]
        name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        text = wheel.read(name).decode()
    requires = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]
    return requires, remote.fetched


def read_package(name: str, metadata_of: re.Pattern[str]) -> dict[str, Any]:
    index = json.loads(_get(f"https://pypi.org/simple/{name}/", accept="application/vnd.pypi.simple.v1+json"))
    releases: dict[str, dict[str, Any]] = {}
    wheels: dict[tuple[str, str], dict[str, Any]] = {}  # (version, platform) -> one wheel file
    for file in index["files"]:
        if not file["filename"].endswith(".whl") or file.get("yanked"):
            continue
        _, version, _, tags = parse_wheel_filename(file["filename"])
        if version.is_prerelease or version.local:
            continue
        rel = releases.setdefault(str(version), {"first_upload": file["upload-time"], "pythons": {}})
        rel["first_upload"] = min(rel["first_upload"], file["upload-time"])
        if file.get("requires-python"):
            rel["requires_python"] = file["requires-python"]
        for tag in tags:
            plat, py = platform_of(tag.platform), python_of(tag.interpreter)
            if plat is None:
                rel.setdefault("other_platforms", set()).add(tag.platform)
                continue
            for p in ["macos-x86_64", "macos-arm64"] if plat == "macos-universal2" else [plat]:
                rel["pythons"].setdefault(p, set()).add(py or tag.interpreter)
                wheels.setdefault((str(version), p), file)
    out: dict[str, Any] = {}
    for version in sorted(releases, key=Version):
        rel = releases[version]
        rel["pythons"] = {
            p: sorted(pys, key=lambda s: _sort_key(s) if s[0].isdigit() else (0, 0, s))
            for p, pys in sorted(rel["pythons"].items())
        }
        if "other_platforms" in rel:
            rel["other_platforms"] = sorted(rel["other_platforms"])
        if metadata_of.fullmatch(version):
            meta: dict[str, list[str]] = {}
            for plat in ("linux-x86_64", "linux-aarch64", "windows", "macos-arm64", "any"):
                file = wheels.get((version, plat))
                if file is not None:
                    meta[plat], fetched = wheel_requires_dist(file["url"], file["size"])
                    print(f"{name} {version} {plat}: METADATA read with {fetched} bytes", file=sys.stderr)
            rel["wheel_requires_dist"] = meta
        out[version] = rel
    return out


def main() -> int:
    result: dict[str, Any] = {
        "source": "https://pypi.org/simple/<name>/ as JSON (PEP 691: every file with its python and platform tags, "
        "upload-time, requires-python); wheel_requires_dist: the wheel's .dist-info/METADATA, read with HTTP range "
        "requests (zip directory and that one member; PyPI serves no PEP 658 .metadata for these wheels)",
        "read": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    for name, metadata_of in METADATA_OF.items():
        result[name] = read_package(name, re.compile(metadata_of))
        print(f"{name}: {len(result[name])} releases", file=sys.stderr)
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
