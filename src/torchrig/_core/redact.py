"""Masking what must not be pasted publicly: credentials in URLs, secrets in the environment, home directories.

``torchrig doctor --json`` and ``--markdown`` are made to be pasted into public issues, and what they show
comes from the user's machine (environment variables, index URLs from pip's configuration, command lines
a log shows). These pure functions mask, in any text or JSON-like data:

- the credentials of a URL, as pip shows them: ``https://user:pass@host`` -> ``https://user:****@host``,
  a lone token ``https://token@host`` -> ``https://****@host``;
- the value of a variable whose name says it is a secret (:func:`is_secret_name`: ``HF_TOKEN``,
  ``*_TOKEN``, ``*_KEY``, ``*PASSWORD*``, ``*SECRET*``), wherever it is assigned (``NAME=value``,
  ``NAME: value``, ``os.environ["NAME"] = "value"``) or given as an option (``--token value``), and tokens
  that say what they are (``hf_...``, ``ghp_...``);
- on request (:class:`HomeDirs`), home directories (``/home/NAME``, ``/Users/NAME``, ``C:\\Users\\NAME``)
  as ``~``, and the user names found in them as ``<user>`` wherever else they stand as a word.

    >>> secrets("pip install --index-url https://alice:s3cret@pypi.corp/simple torch HF_TOKEN=hf_abc")
    'pip install --index-url https://alice:****@pypi.corp/simple torch HF_TOKEN=****'

Masking is idempotent, and text with nothing to mask comes back unchanged (the same object).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["MASK", "HomeDirs", "data", "is_secret_name", "secrets", "url_credentials", "user_names"]

MASK = "****"

_URL_USERINFO = re.compile(
    # scheme://user:password@ or scheme://token@ ; a password may hold "@" (unencoded): up to the last one
    # the scheme is at most 32 characters and cannot start inside another word: a long dotted run
    # (a.b.c.d...) before "://" would otherwise be tried from each of its characters, quadratically
    r"(?P<scheme>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://)(?P<user>[^\s:/@'\"`<>]+)"
    r"(?::(?P<password>[^\s/'\"`<>]*))?@"
)
_SECRET_SUFFIXES = ("TOKEN", "_KEY", "APIKEY")
_SECRET_PARTS = ("PASSWORD", "PASSWD", "SECRET")
_VALUE = r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s'\"`;,)\]}]+)"
_ASSIGNMENT = re.compile(
    # NAME=value, export NAME="value", NAME: value, os.environ["NAME"] = "value", $env:NAME = "value";
    # NAME as is_secret_name says (only such names are matched, so no other assignment hides one)
    r"(?P<name>(?<![A-Za-z0-9_])(?:[A-Za-z0-9_]*(?:TOKEN|_KEY|APIKEY)|[A-Za-z0-9_]*(?:PASSWORD|PASSWD|SECRET)[A-Za-z0-9_]*))"
    r"(?![A-Za-z0-9_])(?P<sep>['\"]?\]?[ \t]*[=:][ \t]*)" + _VALUE,
    re.IGNORECASE,
)
_OPTION = re.compile(
    r"(?P<name>--[A-Za-z0-9-]*(?:token|password|passwd|secret|api-key))(?P<sep>[ \t]+|=)" + _VALUE, re.I
)
_KNOWN_TOKEN = re.compile(r"\b(?:hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b")


def is_secret_name(name: str) -> bool:
    """Whether a variable called ``name`` holds a secret: ``HF_TOKEN``, ``*_TOKEN``, ``*_KEY``, ``*PASSWORD*``, ``*SECRET*``."""
    upper = name.upper()
    return upper.endswith(_SECRET_SUFFIXES) or any(part in upper for part in _SECRET_PARTS)


def url_credentials(text: str) -> str:
    """``text`` with the user information of every URL masked, as pip shows index URLs."""
    if "://" not in text or "@" not in text:
        return text
    return _URL_USERINFO.sub(_mask_userinfo, text)


def _mask_userinfo(match: re.Match[str]) -> str:
    if match.group("password") is None:
        return f"{match.group('scheme')}{MASK}@"
    return f"{match.group('scheme')}{match.group('user')}:{MASK}@"


def secrets(text: str) -> str:
    """``text`` with URL credentials, the values of secret variables and options, and known tokens masked."""
    text = url_credentials(text)
    if "=" in text or ":" in text:
        text = _ASSIGNMENT.sub(_mask_value, text)
    if "--" in text:
        text = _OPTION.sub(_mask_value, text)
    if "_" in text:
        text = _KNOWN_TOKEN.sub(MASK, text)
    return text


def _mask_value(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[0] in "\"'" and len(value) > 1 else ""
    return f"{match.group('name')}{match.group('sep')}{quote}{MASK}{quote}"


# --- home directories ------------------------------------------------------------------------------

_HOME = re.compile(
    r"(?:/home/|/Users/)(?P<name>[^/\\\s\"':;,<>$%`|*?]+)"
    # a Windows user name may hold spaces ("C:\Users\Ann Lee\..."): then it must end at a separator
    r"|\b[A-Za-z]:[\\/](?i:users)[\\/](?:(?P<spaced>[^\\/\n\"':;,<>$%`|*?]+)(?=[\\/])|(?P<word>[^\\/\s\"':;,<>$%`|*?]+))"
)
# Not anyone's name: shared folders of macOS and Windows, and the generic accounts of images and CI, whose
# home directories are still shown as ~ but whose names are not masked elsewhere (they are common words).
_NOT_PERSONAL = {"shared", "public", "default", "all users", "default user"}
# Account names that are also words of the reports themselves (Jetson's default user is "nvidia"; "dev",
# "cuda", "gpu", "docker" name paths and tools): only their home directory is masked, not every mention.
_GENERIC = {
    "user", "ubuntu", "admin", "root", "runner", "jovyan", "vscode", "coder", "ec2-user", "colab", "guest",
    "nvidia", "jetson", "dev", "cuda", "gpu", "docker", "python", "conda", "torch", "pytorch", "data", "home",
    "test", "train", "ml", "ai", "lab", "work", "shared", "opt", "local", "linux", "debian", "centos",
}  # fmt: skip


@dataclass(frozen=True)
class HomeDirs:
    """The users whose home directories and names are masked (``--redact-paths``)."""

    names: tuple[str, ...]

    def apply(self, text: str) -> str:
        """``/home/NAME/x`` -> ``~/x`` (``/Users/NAME``, ``C:\\Users\\NAME`` too); NAME alone -> ``<user>``."""
        for name in self.names:
            if name.lower() not in text.lower():
                continue
            escaped = re.escape(name)
            end = r"(?![A-Za-z0-9_.-])"
            text = re.sub(rf"(?:/home/|/Users/|\b[A-Za-z]:[\\/](?i:users)[\\/]){escaped}{end}", "~", text)
            if name.lower() not in _GENERIC and len(name) >= 3:
                text = re.sub(rf"(?<![A-Za-z0-9_.-]){escaped}{end}", "<user>", text, flags=re.IGNORECASE)
        return text


def user_names(texts: Iterable[str]) -> HomeDirs:
    """The user names that the home directories in ``texts`` show, longest first (so "ann" cannot cut "anna")."""
    names: dict[str, None] = {}
    for text in texts:
        for match in _HOME.finditer(text):
            name = match.group("name") or match.group("spaced") or match.group("word")
            if name.lower() not in _NOT_PERSONAL and name not in ("~", "."):
                names.setdefault(name)
    return HomeDirs(tuple(sorted(names, key=lambda n: (-len(n), n))))


def strings(value: Any) -> Iterable[str]:
    """Every string in JSON-like ``value`` (dicts, lists, tuples), keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def data(value: Any, homes: HomeDirs | None = None) -> Any:
    """JSON-like ``value`` with :func:`secrets` (and ``homes``) masked in every string, and the value of
    every key that names a secret (``{"HF_TOKEN": "hf_..."}``) replaced by :data:`MASK`."""
    if isinstance(value, str):
        masked = secrets(value)
        return homes.apply(masked) if homes is not None else masked
    if isinstance(value, dict):
        return {
            data(key, homes): MASK
            if isinstance(key, str) and is_secret_name(key) and isinstance(item, str) and item
            else data(item, homes)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [data(item, homes) for item in value]
    if isinstance(value, tuple):
        return tuple(data(item, homes) for item in value)
    return value
