"""uv.toml: make the mirror uv's default index with tomlkit, keeping comments and other settings.

uv ignores pip.conf and PIP_INDEX_URL entirely (astral-sh/uv#1404), so it needs its own setting:

    [[index]]
    url = "https://pypi.tuna.tsinghua.edu.cn/simple"
    default = true

An existing ``default = true`` index is re-pointed rather than a second one added (chsrc wrote
duplicates on every re-run, its PR #186); other ``[[index]]`` tables (a PyTorch index marked
``explicit``) are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from torchrig._core.errors import UserError


@dataclass(frozen=True)
class UvSettings:
    default_index: str | None  # [[index]] with default = true
    index_url: str | None  # the deprecated top-level index-url


def _parse(text: str, path: Path, *, pyproject: bool = False) -> Any:
    try:
        doc = tomlkit.parse(text)
    except (TOMLKitError, ValueError) as exc:
        raise UserError(f"{path} is not valid TOML ({exc}); torchrig left it untouched.") from None
    if pyproject:
        return doc.get("tool", {}).get("uv", {})
    return doc


def read(text: str | None, path: Path, *, pyproject: bool = False) -> UvSettings:
    doc = _parse(text or "", path, pyproject=pyproject)
    default = None
    for table in doc.get("index", []) or []:
        if isinstance(table, dict) and table.get("default") is True and table.get("url"):
            default = str(table["url"])
    legacy = doc.get("index-url")
    return UvSettings(default, str(legacy) if legacy else None)


def set_default_index(text: str | None, url: str, path: Path) -> tuple[str, list[str]]:
    text = text or ""
    doc = _parse(text, path)
    warnings: list[str] = []
    indexes = doc.get("index")
    if indexes is not None and not isinstance(indexes, list):
        raise UserError(f"{path}: `index` must be an array of tables ([[index]]); torchrig left it untouched.")
    indexes = indexes or []
    defaults = [t for t in indexes if t.get("default") is True]
    same = [t for t in indexes if t.get("url") == url]
    changed = False
    if defaults:
        if defaults[0].get("url") != url:
            defaults[0]["url"] = url
            changed = True
    elif same:
        same[0]["default"] = True
        changed = True
    else:
        table = tomlkit.table()
        table.add("url", url)
        table.add("default", True)
        if text.strip():
            table.trivia.indent = "\n"  # a blank line before the new [[index]], as a person would write it
        if "index" in doc:
            doc["index"].append(table)
        else:
            aot = tomlkit.aot()
            aot.append(table)
            doc.append("index", aot)
        changed = True
    if doc.get("index-url"):
        warnings.append(
            f"{path} also sets the deprecated index-url = {doc['index-url']}; remove it so the [[index]] "
            "default is the only one."
        )
    if not changed:
        return text, warnings
    out = tomlkit.dumps(doc)
    return out, warnings
