"""Which compute capabilities an installed CUDA extension runs on (``extensions.toml``).

>>> need_of("flash-attn", "2.7.4").min_cc
'8.0'
>>> need_of("bitsandbytes", "0.48.2", cuda="12.6").min_cc, need_of("bitsandbytes", "0.48.2", cuda="13.0").min_cc
('6.0', '7.5')
>>> [n.package for n in message_in("RuntimeError: FlashAttention only supports Ampere GPUs or newer.")][:2]
['flash-attn', 'flash-attn']
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from torchrig.knowledge import load, parse_version
from torchrig.knowledge._tables import cc_tuple


@dataclass(frozen=True)
class ExtensionNeed:
    """One row: the compute capabilities a package's builds (of some versions, some CUDA) run on."""

    package: str
    versions: str  # the specifier this row covers ("" = all)
    min_cc: str  # "8.0"
    why: str
    source: str
    alternative: str | None = None  # a requirement that runs on older GPUs: "flash-attn<2"
    alternative_min_cc: str | None = None
    feature: str | None = None  # a part of the package ("fp8", "V1 engine"); None: the package as a whole
    cuda: str | None = None  # a specifier on the CUDA version the build was made for ("<12.8"); None: any
    max_cc: str | None = None  # the newest capability it runs on, where its builds ship no PTX
    message: str | None = None  # what it prints on a GPU it does not support (a log signature)
    on_use: str | None = None  # installed with torch, it fails only when this runs ("torch.compile"): not a fault


def normalize(name: str) -> str:
    """PEP 503 name: "Flash_Attn" -> "flash-attn"."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _rows() -> tuple[ExtensionNeed, ...]:
    return tuple(ExtensionNeed(**row) for row in load("extensions")["extension"])


def needs() -> list[ExtensionNeed]:
    """Every row of the table, in its order."""
    return list(_rows())


def _contains(spec: str, version: str | None) -> bool | None:
    """Whether ``version`` is in ``spec`` ("" holds everything); None when it cannot be told."""
    if not spec:
        return True
    v = parse_version(version)
    if v is None:
        return None
    try:
        return SpecifierSet(spec).contains(v.public, prereleases=True)
    except InvalidSpecifier:
        return False


def need_of(
    package: str, version: str | None, cuda: str | None = None, feature: str | None = None
) -> ExtensionNeed | None:
    """The row for this package (or one of its features), installed version and build CUDA; None if not in the table.

    The first matching row wins. Rows for particular CUDA builds match only a known ``cuda``; when it is
    not known and they disagree, the answer is what holds for every one of them: the lowest minimum,
    and no maximum unless all have the same.
    """
    name = normalize(package)
    matching = [
        row
        for row in _rows()
        if normalize(row.package) == name and row.feature == feature and _contains(row.versions, version)
    ]
    if cuda is not None:
        return next((row for row in matching if _contains(row.cuda or "", cuda)), None)
    uncertain = [row for row in matching if row.cuda]
    plain = next((row for row in matching if not row.cuda), None)
    if not uncertain:
        return plain
    loosest = min(uncertain, key=lambda row: cc_tuple(row.min_cc))
    if len({row.max_cc for row in uncertain}) > 1:
        loosest = dataclasses.replace(loosest, max_cc=None)
    return loosest


def cc_below(cc: str, minimum: str) -> bool:
    """ "7.5" below "8.0" -> True."""
    a, b = parse_version(cc), parse_version(minimum)
    return a is not None and b is not None and a < b


@functools.cache
def messages() -> dict[str, tuple[ExtensionNeed, ...]]:
    """Each package's own "GPU too old" text, with the rows that print it (for turning log lines into evidence)."""
    out: dict[str, list[ExtensionNeed]] = {}
    for row in _rows():
        if row.message:
            out.setdefault(row.message, []).append(row)
    return {text: tuple(rows) for text, rows in out.items()}


def message_in(text: str) -> tuple[ExtensionNeed, ...]:
    """The rows whose "GPU too old" message appears in ``text`` (a log line, a traceback)."""
    return tuple(row for message, rows in messages().items() if message in text for row in rows)
