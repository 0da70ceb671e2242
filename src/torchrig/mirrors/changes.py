"""Planning a switch: which file each target's setting lives in, and its bytes before and after.

``plan_use`` reads files and computes edits but writes nothing; :class:`~torchrig.mirrors.journal.Journal`
applies a plan. That split is what makes ``--dry-run`` honest: the diff it prints is the exact plan a
real run would write.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from torchrig._core.atomic import file_in_the_way, file_mode, read_bytes, read_only
from torchrig._core.errors import UserError
from torchrig.mirrors import condarc, hf_endpoint, pip_conf, torch_index, uv_toml
from torchrig.mirrors.catalog import Mirror, validate_url
from torchrig.mirrors.journal import FileChange
from torchrig.mirrors.locations import target_file


@dataclass(frozen=True)
class ChangePlan:
    changes: tuple[FileChange, ...]  # only the ones that change bytes
    unchanged: tuple[tuple[str, Path], ...]  # (target, file) already set as asked
    warnings: tuple[str, ...]
    needs_approval: tuple[Path, ...] = ()  # files outside tool configs (a shell rc) the user must approve

    @property
    def read_only(self) -> tuple[Path, ...]:
        """Files to change that their owner made read-only (``chmod 444``): written only with ``--force``."""
        return tuple(c.path for c in self.changes if c.before is not None and read_only(c.mode))

    def without(self, paths: Sequence[Path]) -> ChangePlan:
        keep = tuple(c for c in self.changes if c.path not in paths)
        return ChangePlan(keep, self.unchanged, self.warnings, tuple(p for p in self.needs_approval if p not in paths))


def _text(path: Path, data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; torchrig left it untouched.") from None


def _edit(target: str, path: Path, text: str | None, url: str) -> tuple[str, list[str]]:
    after, warnings = _edit_text(target, path, text, url)
    if text and "\r\n" in text:
        after = re.sub(r"(?<!\r)\n", "\r\n", after)  # a file written on Windows keeps CRLF on new lines too
    return after, warnings


def _edit_text(target: str, path: Path, text: str | None, url: str) -> tuple[str, list[str]]:
    if target == "pip":
        return pip_conf.set_index(text, url, path)
    if target == "uv":
        return uv_toml.set_default_index(text, url, path)
    if target == "conda":
        return condarc.set_conda_forge(text, url, path)
    if target == "torch":
        return torch_index.set_index(text, url, path)
    if path.name == "state" and path.parent.name == "conda-meta":
        return hf_endpoint.set_conda_var(text, url, path), []
    return hf_endpoint.set_block(text, url, hf_endpoint.shell_rc_file()[1]), []


def plan_use(choices: Mapping[str, Mirror], scope: str, *, allow_insecure: bool = False) -> ChangePlan:
    """The edits that point each target in ``choices`` at its mirror, for ``scope``."""
    changes: list[FileChange] = []
    unchanged: list[tuple[str, Path]] = []
    warnings: list[str] = []
    approval: list[Path] = []
    for target, mirror in choices.items():
        url = mirror.url_for(target)
        if url is None:
            raise UserError(f"{mirror.name} does not serve {target}; `torchrig mirror list` shows which mirrors do.")
        validate_url(url, allow_insecure=allow_insecure, what=f"{mirror.name}'s {target} URL")
        if target == "torch" and mirror.pytorch_format != "simple":
            raise UserError(
                f"{mirror.name}'s PyTorch wheels are one flat page (pip -f), which cannot serve as an index for "
                "torchrig env; choose a mirror with a PEP 503 index (`torchrig mirror list`)."
            )
        path = target_file(target, scope)
        blocker = file_in_the_way(path)
        if blocker is not None:
            raise UserError(
                f"{blocker} is a file, but {target}'s settings go in {path} inside a folder of that name; "
                "move the file aside and run the command again (torchrig changed nothing)."
            )
        try:
            before = read_bytes(path)
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror or exc}; torchrig changed nothing.") from None
        after_text, notes = _edit(target, path, _text(path, before), url)
        warnings += notes
        after = after_text.encode("utf-8")
        if after == before:
            unchanged.append((target, path))
            continue
        changes.append(FileChange(target, path, before, after, file_mode(path)))
        if target == "hf" and scope == "user":
            approval.append(path)
    return ChangePlan(tuple(changes), tuple(unchanged), tuple(warnings), tuple(approval))


def unified_diff(change: FileChange) -> str:
    """The change as a unified diff (what ``--dry-run`` prints), /dev/null for an absent side."""
    old = (change.before or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    new = (change.after or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    a = str(change.path) if change.before is not None else "/dev/null"
    b = str(change.path) if change.after is not None else "/dev/null"
    lines = list(difflib.unified_diff(old, new, fromfile=a, tofile=b))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
