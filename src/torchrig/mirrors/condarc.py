""".condarc: point conda-forge at a mirror with ruamel.yaml's round-trip mode, keeping comments.

The layout torchrig writes (reference/mirrors.md, "torchrig default"):

    channels: [conda-forge, ...the user's other channels]   # `defaults` removed
    custom_channels:
      conda-forge: <mirror>/anaconda/cloud

Why ``custom_channels`` and not ``channel_alias``: an alias sends *every* named channel to the mirror,
so any channel it lacks 404s (tuna/issues#1327); ``custom_channels`` moves conda-forge only. Why no
``defaults``: Anaconda's channels need its terms of service since 2025-07 and most mirrors' copies of
them are partial. ``channel_alias`` and every other key are left exactly as they were.

ruamel.yaml parses the file and makes the edit; the bytes written come from line edits (see
``_splice``) whenever they parse back to exactly the ruamel result, because ruamel's own dump
re-spaces unrelated lines and drops a file of only comments.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from torchrig._core.errors import UserError

CHANNEL = "conda-forge"


@dataclass(frozen=True)
class CondaSettings:
    channels: tuple[str, ...] | None
    custom_conda_forge: str | None
    channel_alias: str | None
    mirrored_conda_forge: tuple[str, ...]


def _yaml(text: str) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the user's long lines
    mapping, offset = 2, 2  # conda's own writer: "channels:\n  - conda-forge"
    lines = text.splitlines()
    for i, line in enumerate(lines):
        dash = re.match(r"^( *)- ", line)
        if not dash:
            continue
        for prev in reversed(lines[:i]):
            if prev.strip() and not prev.lstrip().startswith("#"):
                owner = re.match(r"^( *)[^ #][^#]*:\s*(#.*)?$", prev)
                if owner:
                    offset = len(dash.group(1)) - len(owner.group(1))
                break
        break
    for line in lines:
        nested = re.match(r"^( +)[^ #-][^#]*:", line)
        if nested:
            mapping = len(nested.group(1))
            break
    yaml.indent(mapping=mapping, sequence=max(offset, 0) + 2, offset=max(offset, 0))
    return yaml


def _load(text: str, path: Path) -> Any:
    try:
        data = _yaml(text).load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path} is not valid YAML{where}; torchrig left it untouched.") from None
    if data is None:
        return CommentedMap()
    if not isinstance(data, dict):
        raise UserError(f"{path} must be a YAML mapping of conda settings; torchrig left it untouched.")
    return data


def read(text: str | None, path: Path) -> CondaSettings:
    data = _load(text or "", path)
    channels = data.get("channels")
    custom = data.get("custom_channels") or {}
    mirrored = data.get("mirrored_channels") or {}
    return CondaSettings(
        channels=tuple(str(c) for c in channels) if isinstance(channels, list) else None,
        custom_conda_forge=str(custom[CHANNEL]) if isinstance(custom, dict) and CHANNEL in custom else None,
        channel_alias=str(data["channel_alias"]) if data.get("channel_alias") else None,
        mirrored_conda_forge=tuple(str(u) for u in mirrored.get(CHANNEL, []) or [])
        if isinstance(mirrored, dict)
        else (),
    )


def set_conda_forge(text: str | None, base: str, path: Path) -> tuple[str, list[str]]:
    """The file's text with conda-forge served from ``base`` (under which /conda-forge lives)."""
    text = text or ""
    data = _load(text, path)
    warnings: list[str] = []
    changed = False

    channels = data.get("channels")
    if channels is None:
        seq = CommentedSeq([CHANNEL])
        data["channels"] = seq
        changed = True
    elif not isinstance(channels, list):
        raise UserError(f"{path}: `channels` must be a list; torchrig left the file untouched.")
    else:
        if "defaults" in channels:
            channels.remove("defaults")
            warnings.append(
                f"removed `defaults` from channels in {path}: Anaconda's channels need its terms of service "
                "and are not what the mirror serves; `restore` puts it back."
            )
            changed = True
        if CHANNEL not in channels:
            channels.insert(0, CHANNEL)
            changed = True
        for ch in channels:
            if isinstance(ch, str) and "://" in ch and ch.rstrip("/").endswith("/" + CHANNEL):
                warnings.append(f"{path} lists conda-forge by full URL ({ch}), which bypasses the mirror.")

    custom = data.get("custom_channels")
    if custom is None:
        data["custom_channels"] = CommentedMap([(CHANNEL, base)])
        changed = True
    elif not isinstance(custom, dict):
        raise UserError(f"{path}: `custom_channels` must be a mapping; torchrig left the file untouched.")
    elif custom.get(CHANNEL) != base:
        custom[CHANNEL] = base
        changed = True

    alias = data.get("channel_alias")
    if alias and "conda.anaconda.org" not in str(alias):
        warnings.append(
            f"{path} sets channel_alias = {alias}: every other named channel goes there, and 404s if that "
            "mirror lacks it."
        )
    mirrored = data.get("mirrored_channels")
    if isinstance(mirrored, dict) and mirrored.get(CHANNEL):
        warnings.append(
            f"{path} sets mirrored_channels for conda-forge, which mamba 2 uses instead of custom_channels."
        )

    if not changed:
        return text, warnings
    # Prefer line edits: ruamel's dump re-spaces unrelated lines (`key:   v`), drops `---` and a file
    # of only comments. Its dump is the fallback for layouts the line edits do not handle, and the
    # line-edited text is kept only if it parses to exactly what the ruamel edit produced.
    spliced = _splice(text, _load(text, path), base)
    if spliced is not None:
        try:
            if _plain(_yaml(spliced).load(spliced)) == _plain(data):
                return spliced, warnings
        except YAMLError:
            pass
    out = io.StringIO()
    _yaml(text).dump(data, out)
    return out.getvalue(), warnings


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _seq_prefix(text: str) -> str:
    """How this file writes a list item under a top-level key: "  - " (conda's style) or "- "."""
    match = re.search(r"^[^\s#][^#\n]*:[ \t]*\n((?:[ \t]*#.*\n)*)( *)- ", text, re.M)
    return (match.group(2) if match else "  ") + "- "


def _splice(text: str, data: Any, base: str) -> str | None:
    """``text`` with the conda-forge layout made by line edits, or None for a layout it leaves to ruamel."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    inserts: dict[int, list[str]] = {}
    replace: dict[int, str] = {}
    append: list[str] = []
    item = _seq_prefix(text)

    channels = data.get("channels")
    if "channels" not in data:
        append += ["channels:\n", f"{item}{CHANNEL}\n"]
    elif not isinstance(channels, CommentedSeq) or not channels or channels.fa.flow_style():
        return None
    else:
        for i, name in enumerate(channels):
            if name == "defaults":
                line = channels.lc.item(i)[0]
                if not re.match(r"""^\s*-\s+['"]?defaults['"]?\s*(#.*)?$""", lines[line]):
                    return None
                replace[line] = ""
        if CHANNEL not in channels:
            line = channels.lc.item(0)[0]
            dash = re.match(r"^(\s*-\s+)", lines[line])
            if not dash:
                return None
            inserts.setdefault(line, []).append(f"{dash.group(1)}{CHANNEL}\n")

    custom = data.get("custom_channels")
    if "custom_channels" not in data:
        append += ["custom_channels:\n", f"{item[:-2] or '  '}{CHANNEL}: {base}\n"]
    elif not isinstance(custom, CommentedMap) or not custom or custom.fa.flow_style():
        return None
    elif CHANNEL in custom:
        if custom[CHANNEL] != base:
            line = custom.lc.value(CHANNEL)[0]
            entry = re.match(r"""^(\s*['"]?conda-forge['"]?\s*:\s*)(\S+)(.*)$""", lines[line], re.S)
            if not entry:
                return None
            replace[line] = f"{entry.group(1)}{base}{entry.group(3)}"
    else:
        first = next(iter(custom))
        line, col = custom.lc.key(first)
        inserts.setdefault(line, []).append(f"{' ' * col}{CHANNEL}: {base}\n")

    out: list[str] = []
    for i, line_text in enumerate(lines):
        out += inserts.get(i, [])
        out.append(replace.get(i, line_text))
    return "".join(out) + "".join(append)
