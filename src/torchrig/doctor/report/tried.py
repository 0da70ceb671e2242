"""The install commands a report shows were already run: so a fix does not hand back the step that failed.

People paste the commands they tried next to the error ("I ran ``pip install torch --index-url
.../cu121`` and it still says False"). Read here are the command lines of the installers a fix would
print (pip, uv, conda/mamba, apt), with or without a shell prompt in front; prose is not read, and a
command is recorded as written (at most :data:`_LIMIT` of them, each cut at 300 characters).

:func:`torch_installs` reads those lines as PyTorch installs (which release, which wheel variant), so
:mod:`torchrig.doctor.checks.fixes` can see that the build it would print was already tried and give
the next step instead.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from torchrig._core.prefilter import Haystack

_LIMIT = 20
# What may stand before a command on a pasted line: "$ ", "# ", "(venv) user@host:~/x$ ", "PS C:\x> ",
# "C:\x>", ">>> !", a Jupyter "!" or "%".
_PROMPT = re.compile(
    r"^(?:\([^()\n]{1,60}\)[ \t]*)?"
    r"(?:[\w.-]+@[\w.-]+(?::[^$#\n]*)?[$#][ \t]*|PS [^>\n]{0,200}>[ \t]*|[A-Za-z]:\\[^>\n]{0,200}>[ \t]*"
    r"|[$#>%!][ \t]*|>>>[ \t]*!)?"
)
_INSTALLER = re.compile(
    r"^(?:sudo[ \t]+)?(?:"
    r"(?:python[\d.]*|py(?:[ \t]+-[\d.]+)?|[\w./\\:-]*python[\d.]*(?:\.exe)?)[ \t]+-m[ \t]+pip[ \t]+install"
    r"|pip[\d.]*(?:\.exe)?[ \t]+install|uv[ \t]+pip[ \t]+install|uv[ \t]+add"
    r"|(?:conda|mamba|micromamba)[ \t]+install|apt(?:-get)?[ \t]+install"
    r")\b",
    re.IGNORECASE,
)
_CANDIDATE = re.compile(
    r"\b(?:pip|uv|conda|mamba|micromamba|apt)(?:[\d.]*|-get)(?:\.exe)?[ \t]+(?:pip[ \t]+)?(?:install|add)\b", re.I
)
_VARIANT = re.compile(r"^(cu\d{2,3}|cpu|rocm\d+(?:\.\d+)*|xpu)$")
_INDEX_FLAGS = ("--index-url", "-i", "--extra-index-url", "--index", "--default-index", "-f", "--find-links")


def commands(text: str | Haystack) -> list[str]:
    """The installer command lines ``text`` shows, prompt removed, first seen first, without repeats.

    A regex over the whole text finds the few candidate lines (a report may be 16 MiB of anything);
    only those are looked at line by line.
    """
    haystack = text if isinstance(text, Haystack) else Haystack(text)
    text = haystack.text
    found: list[str] = []
    seen = -1
    for candidate in haystack.finditer(_CANDIDATE):
        begin = text.rfind("\n", 0, candidate.start()) + 1
        if begin == seen:
            continue
        seen = begin
        end = text.find("\n", candidate.end())
        raw = text[begin : end if end >= 0 else len(text)]
        line = _PROMPT.sub("", raw.strip().strip("`"), count=1).strip()
        if _INSTALLER.match(line):
            found.append(line[:300])
            if len(dict.fromkeys(found)) >= _LIMIT:
                break
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class TorchInstall:
    """A command that installs torch: the release pinned (None: unpinned) and the wheel variant (None: unknown)."""

    command: str
    version: str | None
    variant: str | None
    index: str | None = None  # the first --index-url / --extra-index-url / --find-links URL the command names


def torch_installs(lines: list[str]) -> list[TorchInstall]:
    """The pip/uv lines of ``lines`` that install torch, read for the release and the variant they ask for."""
    out = []
    for line in lines:
        try:
            argv = shlex.split(line, posix=True)
        except ValueError:
            argv = line.split()
        pin: str | None = None
        variant: str | None = None
        index: str | None = None
        is_torch = False
        for i, arg in enumerate(argv):
            if arg in _INDEX_FLAGS and i + 1 < len(argv):
                variant = variant or _variant_of_url(argv[i + 1])
                index = index or argv[i + 1]
            elif "=" in arg and arg.split("=", 1)[0] in _INDEX_FLAGS:
                variant = variant or _variant_of_url(arg.split("=", 1)[1])
                index = index or arg.split("=", 1)[1]
            elif not arg.startswith("-"):
                requirement = _requirement(arg)
                if requirement and canonicalize_name(requirement.name) == "torch":
                    is_torch = True
                    pin, local = _pin(requirement)
                    variant = local or variant
        if is_torch:
            out.append(TorchInstall(line, pin, variant, index))
    return out


def _requirement(arg: str) -> Requirement | None:
    try:
        return Requirement(arg)
    except InvalidRequirement:
        return None


def _pin(requirement: Requirement) -> tuple[str | None, str | None]:
    """``torch==2.1.0+cu118`` -> ("2.1.0", "cu118"); ``torch`` or ``torch>=2`` -> (None, None)."""
    pins = [spec.version for spec in requirement.specifier if spec.operator in ("==", "===")]
    if len(pins) != 1:
        return None, None
    public, _, local = pins[0].partition("+")
    return public, (local if _VARIANT.match(local) else None)


def _variant_of_url(url: str) -> str | None:
    """``https://download.pytorch.org/whl/cu121`` (or a mirror's ``.../whl/cu121/``) -> ``cu121``."""
    last = url.rstrip("/").rsplit("/", 1)[-1].lower()
    return last if _VARIANT.match(last) else None
