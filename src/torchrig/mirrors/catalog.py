"""The mirror catalog: torchrig's data file plus the user's own entries, and URL validation.

    >>> cat = load_catalog()
    >>> cat.get("tuna").url_for("pip")
    'https://pypi.tuna.tsinghua.edu.cn/simple'
    >>> [m.name for m in cat.serving("torch")]
    ['pytorch', 'sjtu', 'nju', 'aliyun']

The shipped table is ``catalog.toml`` next to this module (sources and as-of dates inside). Users add
or override entries in ``$XDG_CONFIG_HOME/torchrig/mirrors.toml`` with the same keys. Every URL from
either file passes :func:`validate_url` before anything uses it.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from torchrig._core.errors import UserError
from torchrig._core.paths import config_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# A target is what the user switches (one tool's setting); a service is what a mirror carries.
TARGETS: tuple[str, ...] = ("pip", "uv", "conda", "torch", "hf")
SERVICE_OF: dict[str, str] = {"pip": "pypi", "uv": "pypi", "conda": "conda_forge", "torch": "pytorch", "hf": "hf"}
SERVICES: tuple[str, ...] = ("pypi", "conda_forge", "pytorch", "hf")
SERVICE_TITLES: dict[str, str] = {
    "pypi": "PyPI",
    "conda_forge": "conda-forge",
    "pytorch": "PyTorch wheels",
    "hf": "Hugging Face",
}

_KEYS = {
    "title",
    "operator",
    "upstream",
    "source",
    "as_of",
    "notes",
    "redirector",
    "redirect_hosts",
    "pypi",
    "conda_forge",
    "anaconda_defaults",
    "pytorch",
    "pytorch_format",
    "hf",
}
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
# RFC 3986 characters minus the ones a config file or a shell would read specially (quotes,
# backslash, whitespace, backtick, `$`, `;`): a URL that passes can sit in any of the files we write.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?\[\]@!&()*+,=%]+")


def validate_url(url: str, *, allow_insecure: bool = False, what: str = "the mirror URL") -> str:
    """``url`` if it is a plain http(s) URL safe to write into a config file; otherwise a UserError.

    HTTPS only unless ``allow_insecure``. No whitespace, quotes, ``$``, backticks or fragments, so the
    value can never end a line, start a comment or be read as shell syntax where we write it.
    """
    if not isinstance(url, str) or not url:
        raise UserError(f"{what} is empty; give a full https:// URL.")
    if not _URL_CHARS.fullmatch(url):  # fullmatch: `$` in a pattern would let a final newline through
        raise UserError(
            f"{what} {url!r} contains characters a mirror URL never has (spaces, quotes, $, ;, ` or #); "
            "give a plain https:// URL."
        )
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UserError(f"{what} {url!r} is not an http(s) URL with a host; give a full https:// URL.")
    if parts.scheme == "http" and not allow_insecure:
        raise UserError(
            f"{what} {url} uses plain http, which lets anyone on the path swap packages; "
            "use its https:// address, or pass --allow-insecure if you accept that risk."
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise UserError(f"{what} {url!r} has an invalid port; give a full https:// URL.") from None
    return url


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_plain_http(url: str) -> bool:
    """Whether ``url`` is plain http, in any letter case (``HTTP://`` too)."""
    return urlsplit(url).scheme.lower() == "http"


def downgrades(from_url: str, to_url: str) -> bool:
    """Whether going from ``from_url`` to ``to_url`` leaves https."""
    return urlsplit(from_url).scheme.lower() == "https" and urlsplit(to_url).scheme.lower() != "https"


@dataclass(frozen=True)
class Mirror:
    """One catalog entry: which services a site carries and where."""

    name: str
    title: str
    urls: dict[str, str]  # service -> URL
    operator: str = ""
    upstream: bool = False
    redirector: bool = False
    pytorch_format: str = "simple"  # "simple" (PEP 503) or "flat" (a page of links)
    redirect_hosts: tuple[str, ...] = ()
    anaconda_defaults: str | None = None
    source: str = ""
    as_of: str = ""
    notes: str = ""
    origin: str = "catalog"  # "catalog", the path of the user's mirrors.toml, or "command line"
    insecure: bool = False  # some URL is plain http: usable only with --allow-insecure

    def url_for(self, target: str) -> str | None:
        return self.urls.get(SERVICE_OF[target])

    def serves(self, target: str) -> bool:
        return SERVICE_OF[target] in self.urls

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(t for t in TARGETS if self.serves(t))

    def redirect_allowed(self, url: str, target_url: str) -> bool:
        """Whether a redirect to ``url`` stays on this mirror (its own host or a host it names, over https if it was)."""
        if downgrades(target_url, url):
            return False  # same host over plain http is not the mirror the user chose: anyone on the path can answer
        host = host_of(url)
        if host == host_of(target_url):
            return True
        return any(host == h or host.endswith("." + h) for h in self.redirect_hosts)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "operator": self.operator,
            "upstream": self.upstream,
            "targets": {t: self.url_for(t) for t in self.targets},
            "pytorch_format": self.pytorch_format if self.serves("torch") else None,
            "anaconda_defaults": self.anaconda_defaults,
            "source": self.source,
            "as_of": self.as_of,
            "notes": self.notes,
            "origin": self.origin,
        }


LIST_SCHEMA = "torchrig.mirror.list/1"  # `torchrig mirror list --json`


@dataclass(frozen=True)
class Catalog:
    mirrors: tuple[Mirror, ...]
    as_of: str
    sources: tuple[str, ...]
    probe_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    user_file: Path | None = None

    def get(self, name: str) -> Mirror:
        for m in self.mirrors:
            if m.name == name.lower():
                return m
        known = ", ".join(m.name for m in self.mirrors)
        raise UserError(f"no mirror named {name!r} in the catalog; known mirrors: {known}.")

    def serving(self, target: str) -> list[Mirror]:
        return [m for m in self.mirrors if m.serves(target)]

    def to_json(self, mirrors: Sequence[Mirror] | None = None) -> dict[str, Any]:
        """The catalog (or the ``mirrors`` chosen from it) as ``mirror list --json`` prints it."""
        return {
            "schema": LIST_SCHEMA,
            "as_of": self.as_of,
            "sources": list(self.sources),
            "user_file": str(self.user_file),
            "mirrors": [m.to_json() for m in (self.mirrors if mirrors is None else mirrors)],
        }


def user_mirrors_file() -> Path:
    return config_dir() / "mirrors.toml"


@functools.lru_cache(maxsize=1)
def _shipped() -> dict[str, Any]:
    with resources.files(__package__).joinpath("catalog.toml").open("rb") as fh:
        table: dict[str, Any] = tomllib.load(fh)
        return table


def _mirror_from(name: str, row: Any, origin: str) -> Mirror:
    where = "the catalog" if origin == "catalog" else origin
    if not _NAME.fullmatch(name):
        raise UserError(f"mirror name {name!r} in {where} must be lower-case letters, digits, '-', '_' or '.'.")
    if not isinstance(row, dict):
        raise UserError(f'[mirror.{name}] in {where} must be a table of keys such as pypi = "https://...".')
    unknown = sorted(set(row) - _KEYS)
    if unknown:
        raise UserError(f"[mirror.{name}] in {where} has unknown keys {unknown}; known keys: {sorted(_KEYS)}.")
    urls: dict[str, str] = {}
    insecure = False
    for service in SERVICES:
        if service in row:
            url = validate_url(row[service], allow_insecure=True, what=f"[mirror.{name}] {service} in {where}")
            insecure |= is_plain_http(url)
            urls[service] = url.rstrip("/") if service != "pypi" else url
    if not urls:
        raise UserError(f"[mirror.{name}] in {where} serves nothing; give at least one of {list(SERVICES)}.")
    fmt = row.get("pytorch_format", "simple")
    if fmt not in ("simple", "flat"):
        raise UserError(f'[mirror.{name}] pytorch_format in {where} must be "simple" or "flat", not {fmt!r}.')
    hosts = row.get("redirect_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
        raise UserError(f"[mirror.{name}] redirect_hosts in {where} must be a list of host names.")
    defaults = row.get("anaconda_defaults")
    return Mirror(
        name=name,
        title=str(row.get("title", name)),
        urls=urls,
        operator=str(row.get("operator", "")),
        upstream=bool(row.get("upstream", False)),
        redirector=bool(row.get("redirector", False)),
        pytorch_format=fmt,
        redirect_hosts=tuple(h.lower() for h in hosts),
        anaconda_defaults=validate_url(defaults, allow_insecure=True, what=f"[mirror.{name}] anaconda_defaults")
        if defaults
        else None,
        source=str(row.get("source", "")),
        as_of=str(row.get("as_of", "")),
        notes=str(row.get("notes", "")),
        origin=origin,
        insecure=insecure,
    )


def load_catalog(user_file: Path | None = None) -> Catalog:
    """The shipped catalog, with the user's mirrors.toml entries added (same name: the user's wins)."""
    data = _shipped()
    mirrors = {name: _mirror_from(name, row, "catalog") for name, row in data["mirror"].items()}
    path = user_file if user_file is not None else user_mirrors_file()
    if path.is_file():
        try:
            with path.open("rb") as fh:
                user = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{path} is not valid TOML ({exc}); fix it or move it aside.") from None
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror or exc}.") from None
        table = user.get("mirror", {})
        if not isinstance(table, dict):
            raise UserError(f"{path} must hold [mirror.NAME] tables.")
        for name, row in table.items():
            mirrors[name] = _mirror_from(name, row, str(path))
    return Catalog(
        mirrors=tuple(mirrors.values()),
        as_of=str(data["meta"]["as_of"]),
        sources=tuple(data["meta"]["sources"]),
        probe_specs=dict(data["probe"]),
        user_file=path,
    )


def adhoc_mirror(url: str, target: str, *, allow_insecure: bool) -> Mirror:
    """A mirror given as a URL on the command line, for exactly one target."""
    url = validate_url(url, allow_insecure=allow_insecure)
    service = SERVICE_OF[target]
    return Mirror(
        name=host_of(url),
        title=f"{url} (given on the command line)",
        urls={service: url.rstrip("/") if service != "pypi" else url},
        origin="command line",
        insecure=is_plain_http(url),
    )
