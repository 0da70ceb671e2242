"""Reading the tables, and the version and compute-capability spellings every query shares."""

from __future__ import annotations

import functools
import re
import sys
from importlib import resources
from typing import Any

from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The parsed table ``knowledge/<name>.toml``."""
    with resources.files(__package__).joinpath(f"{name}.toml").open("rb") as fh:
        table: dict[str, Any] = tomllib.load(fh)
        return table


def parse_version(text: str | None) -> Version | None:
    """A lenient version parse: "580.95.05" -> 580.95.5, "2.13.0+cu130" -> 2.13.0+cu130, junk -> None."""
    if not text:
        return None
    try:
        return Version(text.strip())
    except ValueError:  # InvalidVersion, or a number longer than int() converts (Python's 4300 digits)
        match = re.match(r"\d+(\.\d+)*", text.strip())
        try:
            return Version(match.group(0)) if match else None
        except ValueError:
            return None


def minor_of(version: str) -> str | None:
    """ "2.13.0+cu130" -> "2.13"; "13.0.88" -> "13.0"; a nightly "2.8.0.dev20250501+cu128" -> "2.8"."""
    v = parse_version(version)
    return f"{v.major}.{v.minor}" if v else None


def cc_tuple(cc: str) -> tuple[int, int]:
    """ "8.6" -> (8, 6); "86" / "sm_86" / "compute_86" -> (8, 6); "120" -> (12, 0)."""
    text = cc.rsplit("_", maxsplit=1)[-1]
    if "." in text:
        major, minor = text.split(".", 1)
        return int(major), int(minor)
    return int(text[:-1]), int(text[-1])


def cc_text(cc: tuple[int, int]) -> str:
    """(8, 6) -> "8.6"."""
    return f"{cc[0]}.{cc[1]}"
