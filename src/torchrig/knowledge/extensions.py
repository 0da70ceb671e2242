"""Which compute capability an installed CUDA extension needs (``extensions.toml``).

>>> need_of("flash-attn", "2.7.4").min_cc
'8.0'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from torchrig.knowledge import load, parse_version


@dataclass(frozen=True)
class ExtensionNeed:
    package: str
    versions: str  # the specifier this row covers ("" = all)
    min_cc: str  # "8.0"
    why: str
    source: str
    alternative: str | None = None  # a requirement that runs on older GPUs: "flash-attn<2"
    alternative_min_cc: str | None = None


def normalize(name: str) -> str:
    """PEP 503 name: "Flash_Attn" -> "flash-attn"."""
    return re.sub(r"[-_.]+", "-", name).lower()


def needs() -> list[ExtensionNeed]:
    return [ExtensionNeed(**row) for row in load("extensions")["extension"]]


def need_of(package: str, version: str | None) -> ExtensionNeed | None:
    """The row for this package and installed version, or None if the extension is not in the table."""
    name = normalize(package)
    v = parse_version(version)
    for row in needs():
        if normalize(row.package) != name:
            continue
        try:
            spec = SpecifierSet(row.versions)
        except InvalidSpecifier:
            continue
        if not row.versions or (v is not None and spec.contains(v.public, prereleases=True)):
            return row
    return None


def cc_below(cc: str, minimum: str) -> bool:
    """ "7.5" below "8.0" -> True."""
    a, b = parse_version(cc), parse_version(minimum)
    return a is not None and b is not None and a < b
