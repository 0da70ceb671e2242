"""pip.conf: set ``[global] index-url`` in place with ConfigUpdater, keeping every comment and key.

pip's facts this follows (pip docs, "Configuration"):

- ``[install]`` beats ``[global]``, and ``index_url`` is the same key as ``index-url``;
- pip reads an inline ``# ...`` as part of the value, so we never write one;
- ``trusted-host`` turns off certificate checks for a host: we add it only for a plain-http mirror the
  user allowed with ``--allow-insecure``, never for https.
"""

from __future__ import annotations

import configparser
from configparser import ParsingError
from dataclasses import dataclass
from pathlib import Path

from configupdater import ConfigUpdater, Section

from torchrig._core.errors import UserError
from torchrig.mirrors.catalog import host_of, is_plain_http

_INDEX_KEYS = ("index-url", "index_url")
_TRUSTED_KEYS = ("trusted-host", "trusted_host")


@dataclass(frozen=True)
class PipSettings:
    """What one pip.conf says about indexes (None: the file does not say)."""

    index_url: str | None  # [global]
    install_index_url: str | None  # [install], which beats [global]
    trusted_hosts: tuple[str, ...]


def _parse(text: str, path: Path) -> ConfigUpdater:
    updater = ConfigUpdater()
    try:
        updater.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise UserError(f"{path} is not a valid pip config file ({_why(exc)}); torchrig left it untouched.") from None
    return updater


def _why(exc: configparser.Error) -> str:
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return f"line {exc.lineno} comes before any [section]"
    if isinstance(exc, configparser.DuplicateSectionError):
        return f"[{exc.section}] appears twice, again at line {exc.lineno}"
    if isinstance(exc, configparser.DuplicateOptionError):
        return f"{exc.option} appears twice in [{exc.section}], again at line {exc.lineno}"
    if isinstance(exc, ParsingError) and exc.errors:
        return f"line {exc.errors[0][0]} is neither a [section], a key = value nor a comment"
    return type(exc).__name__


def _get(section: Section, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if key in section:
            value = section[key].value
            return None if value is None else str(value).strip()
    return None


def read(text: str | None, path: Path) -> PipSettings:
    if not text:
        return PipSettings(None, None, ())
    up = _parse(text, path)
    index = _get(up["global"], _INDEX_KEYS) if up.has_section("global") else None
    install = _get(up["install"], _INDEX_KEYS) if up.has_section("install") else None
    hosts: list[str] = []
    for name in ("global", "install"):
        if up.has_section(name):
            value = _get(up[name], _TRUSTED_KEYS)
            if value:
                hosts += value.split()
    return PipSettings(index, install, tuple(hosts))


def set_index(text: str | None, url: str, path: Path) -> tuple[str, list[str]]:
    """The file's text with ``[global] index-url = url``, and warnings about what still overrides it."""
    text = text or ""
    up = _parse(text, path)
    warnings: list[str] = []
    if not up.has_section("global"):
        if up.sections():
            # [global] first, as pip's docs show it, so it reads as the file's default
            up[up.sections()[0]].add_before.section("global")
        else:
            up.add_section("global")
    section = up["global"]
    existing = next((k for k in _INDEX_KEYS if k in section), None)
    if existing is None:
        options = section.options()
        if options:
            # right after the section's last key, not after the blank line that ends the section
            section[options[-1]].add_after.option("index-url", url)
        else:
            section.set("index-url", url)
    elif _get(section, (existing,)) != url:
        section[existing].value = url
    if up.has_section("install") and _get(up["install"], _INDEX_KEYS) not in (None, url):
        warnings.append(
            f"{path} also sets [install] index-url = {_get(up['install'], _INDEX_KEYS)}, which beats [global] "
            "for pip install; remove it to use the mirror."
        )
    host = host_of(url)
    if is_plain_http(url):
        trusted = _get(section, _TRUSTED_KEYS)
        hosts = trusted.split() if trusted else []
        if host not in hosts:
            key = next((k for k in _TRUSTED_KEYS if k in section), "trusted-host")
            section.set(key, " ".join([*hosts, host]))
    else:
        for name in ("global", "install"):
            if up.has_section(name) and host in (_get(up[name], _TRUSTED_KEYS) or "").split():
                warnings.append(
                    f"{path} lists {host} under trusted-host, which turns off certificate checks for an https "
                    "mirror; remove it."
                )
    out = str(up)
    if text and out == text:
        return text, warnings
    if out and not out.endswith("\n"):
        out += "\n"
    return out, warnings
