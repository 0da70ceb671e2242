"""What each tool will actually use, and why: every layer that sets it, in each tool's own order.

Precedence, lowest first (each later layer beats the earlier ones):

- pip (pip/_internal/configuration.py, OVERRIDE_ORDER): global files ($XDG_CONFIG_DIRS/pip/pip.conf,
  /etc/pip.conf) < user files (~/.pip/pip.conf, then ~/.config/pip/pip.conf; *skipped* when
  PIP_CONFIG_FILE names a file that exists) < site file ($VIRTUAL_ENV/pip.conf) < PIP_CONFIG_FILE <
  PIP_INDEX_URL. Inside a file, [install] beats [global]. PIP_CONFIG_FILE=/dev/null turns files off.
- uv (docs.astral.sh/uv, configuration files): system < user < project (the nearest uv.toml or
  pyproject.toml [tool.uv]) < UV_INDEX_URL (deprecated) < UV_DEFAULT_INDEX. uv never reads pip's settings.
- conda (docs.conda.io, "condarc search path"): every .condarc from /etc/conda to $CONDA_PREFIX and
  $CONDARC is merged; a later file's `custom_channels: conda-forge` or `channel_alias` wins.
  mamba 2 also reads `mirrored_channels`.
- torch: torchrig's config.toml [torch] index, else download.pytorch.org.
- hf: HF_ENDPOINT in the environment of the process; torchrig's shell block and conda env vars
  put it there for new shells and activations.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import tomlkit

from torchrig._core.atomic import read_bytes, real_path
from torchrig._core.errors import UserError
from torchrig._core.seams import Root
from torchrig.mirrors import condarc, hf_endpoint, pip_conf, torch_index, uv_toml
from torchrig.mirrors.catalog import host_of
from torchrig.mirrors.locations import (
    active_env,
    condarc_user_file,
    home,
    pip_user_file,
    uv_user_file,
    xdg_config_dirs,
    xdg_config_home,
)

T = TypeVar("T")

DEFAULTS = {
    "pip": "https://pypi.org/simple",
    "uv": "https://pypi.org/simple",
    "conda": "https://conda.anaconda.org/conda-forge",
    "torch": "https://download.pytorch.org/whl",
    "hf": "https://huggingface.co",
}


@dataclass(frozen=True)
class ConfigLayer:
    source: str  # "PIP_INDEX_URL", "/home/me/.config/pip/pip.conf [global]", ...
    value: str | None  # None: the layer exists but does not set it
    note: str = ""


@dataclass(frozen=True)
class ToolView:
    """One tool's effective setting: the value, the layer it comes from, and every layer that set one."""

    tool: str
    value: str
    source: str  # the winning layer, or "default"
    layers: tuple[ConfigLayer, ...]
    warnings: tuple[str, ...] = ()
    # the warnings that say a change will not take effect: another layer wins over the file torchrig
    # wrote, or this shell still has the old value (a subset of ``warnings``)
    overridden: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "tool": self.tool,
            "value": self.value,
            "source": self.source,
            "layers": [{"source": lay.source, "value": lay.value, "note": lay.note} for lay in self.layers],
            "warnings": list(self.warnings),
        }


@dataclass
class _Reader:
    """Reads files, but answers from ``overlay`` for files a plan is about to write."""

    overlay: Mapping[Path, bytes | None] = field(default_factory=dict)

    def __call__(self, path: Path) -> str | None:
        real = real_path(path)
        data = self.overlay[real] if real in self.overlay else read_bytes(real)
        if data is None:
            return None
        return data.decode("utf-8", errors="replace")


def _pick(tool: str, layers: list[ConfigLayer]) -> tuple[str, str]:
    setting = [lay for lay in layers if lay.value]
    if not setting:
        return DEFAULTS[tool], "default"
    return setting[-1].value or "", setting[-1].source


def _view(tool: str, layers: list[ConfigLayer], warnings: list[str], ours: Path | None) -> ToolView:
    value, source = _pick(tool, layers)
    if ours is not None:
        ours_real = str(real_path(ours))
        mine = [lay for lay in layers if lay.value and lay.source.startswith(ours_real)]
        if mine and source != mine[-1].source:
            override = f"{source} overrides {mine[-1].source}: {tool} uses {value}, not {mine[-1].value}."
            warnings.insert(0, override)
            return ToolView(tool, value, source, tuple(layers), tuple(dict.fromkeys(warnings)), (override,))
    return ToolView(tool, value, source, tuple(layers), tuple(dict.fromkeys(warnings)))


def _safe(read: Callable[[], T], warnings: list[str]) -> T | None:
    try:
        return read()
    except UserError as exc:
        warnings.append(str(exc).replace("; torchrig left it untouched.", "."))
        return None


def _parsed(
    paths: list[Path], read: _Reader, parse: Callable[[str, Path], T], warnings: list[str]
) -> Iterator[tuple[str, T]]:
    """(shown path, settings) for each file that exists and parses; a broken one becomes a warning."""
    for path in paths:
        text = read(path)
        if text is None:
            continue
        settings = _safe(lambda: parse(text, path), warnings)  # noqa: B023 - called at once
        if settings is not None:
            yield str(real_path(path)), settings


def pip_view(read: _Reader, root: Root, ours: Path | None = None) -> ToolView:
    layers: list[ConfigLayer] = []
    warnings: list[str] = []
    env_file = os.environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        layers.append(ConfigLayer("PIP_CONFIG_FILE", None, "set to /dev/null: pip reads no config file at all"))
        files: list[Path] = []
    else:
        files = [root.path(str(d / "pip" / "pip.conf")) for d in xdg_config_dirs()]
        files.append(root.path("/etc/pip.conf"))
        if env_file and os.path.exists(env_file):
            layers.append(ConfigLayer("PIP_CONFIG_FILE", None, f"= {env_file}: pip skips your user pip.conf files"))
        else:
            files += [home() / ".pip" / "pip.conf", pip_user_file()]
        env = active_env()
        if env is not None:
            files.append(env / "pip.conf")
        if env_file:
            files.append(Path(env_file))
    trusted: list[tuple[str, str]] = []
    for shown, settings in _parsed(files, read, pip_conf.read, warnings):
        layers.append(ConfigLayer(f"{shown} [global]", settings.index_url))
        if settings.install_index_url:
            layers.append(
                ConfigLayer(f"{shown} [install]", settings.install_index_url, "beats [global] for pip install")
            )
        trusted += [(shown, host) for host in settings.trusted_hosts]
    https_hosts = {host_of(lay.value) for lay in layers if lay.value and urlsplit(lay.value).scheme.lower() == "https"}
    for shown, host in trusted:
        if host in https_hosts:
            warnings.append(
                f"{shown} lists {host} under trusted-host, which turns off certificate checks for an https "
                "index; remove it."
            )
    if os.environ.get("PIP_INDEX_URL"):
        layers.append(ConfigLayer("PIP_INDEX_URL", os.environ["PIP_INDEX_URL"], "environment beats every file"))
    return _view("pip", layers, warnings, ours)


def _uv_project_file(cwd: Path, read: _Reader) -> tuple[Path, bool] | None:
    for folder in (cwd, *cwd.parents):
        if read(folder / "uv.toml") is not None:
            return folder / "uv.toml", False
        text = read(folder / "pyproject.toml")
        if text is not None and _has_tool_uv(text):
            # a pyproject.toml without [tool.uv] is skipped and the search goes on upward (uv docs)
            return folder / "pyproject.toml", True
    return None


def _has_tool_uv(text: str) -> bool:
    try:
        doc = tomlkit.parse(text)
    except Exception:
        return True
    tool = doc.get("tool")
    return isinstance(tool, dict) and "uv" in tool


def uv_view(read: _Reader, root: Root, cwd: Path, ours: Path | None = None) -> ToolView:
    layers: list[ConfigLayer] = []
    warnings: list[str] = []
    if os.environ.get("UV_NO_CONFIG"):
        layers.append(ConfigLayer("UV_NO_CONFIG", None, "set: uv reads no uv.toml or [tool.uv]"))
        files: list[tuple[Path, bool]] = []
    elif os.environ.get("UV_CONFIG_FILE"):
        files = [(Path(os.environ["UV_CONFIG_FILE"]), False)]
        layers.append(
            ConfigLayer("UV_CONFIG_FILE", None, f"= {files[0][0]}: uv reads it instead of the user and project files")
        )
    else:
        # only the first system file found counts, $XDG_CONFIG_DIRS before /etc (uv docs)
        system = [root.path(str(d / "uv" / "uv.toml")) for d in xdg_config_dirs()] + [root.path("/etc/uv/uv.toml")]
        files = [(p, False) for p in system if read(p) is not None][:1]
        files.append((uv_user_file(), False))
        project = _uv_project_file(cwd, read)
        if project is not None:
            files.append(project)
    for path, is_pyproject in files:
        for where, settings in _parsed([path], read, lambda t, p: uv_toml.read(t, p, pyproject=is_pyproject), warnings):  # noqa: B023
            shown = f"{where} [tool.uv]" if is_pyproject else where
            if settings.index_url:
                layers.append(ConfigLayer(f"{shown} index-url", settings.index_url, "deprecated key"))
            layers.append(ConfigLayer(shown, settings.default_index))
    for var in ("UV_INDEX_URL", "UV_DEFAULT_INDEX"):
        if os.environ.get(var):
            layers.append(ConfigLayer(var, os.environ[var], "environment beats every file"))
    for var in ("PIP_INDEX_URL", "PIP_CONFIG_FILE"):
        if os.environ.get(var):
            layers.append(ConfigLayer(var, None, "uv ignores pip's settings"))
    return _view("uv", layers, warnings, ours)


def condarc_files(root: Root) -> list[Path]:
    """conda's search path for .condarc files (conda/base/constants.py SEARCH_PATH), in merge order."""

    def folder(base: Path) -> list[Path]:
        d = base / "condarc.d"
        extra = sorted(p for p in d.glob("*") if p.suffix in (".yml", ".yaml")) if d.is_dir() else []
        return [base / ".condarc", base / "condarc", *extra]

    paths = folder(root.path("/etc/conda")) + folder(root.path("/var/lib/conda"))
    if os.environ.get("CONDA_ROOT"):
        paths += folder(Path(os.environ["CONDA_ROOT"]))
    for base in (xdg_config_home() / "conda", home() / ".config" / "conda", home() / ".conda"):
        paths += folder(base)
    paths.append(condarc_user_file())
    if os.environ.get("CONDA_PREFIX"):
        paths += folder(Path(os.environ["CONDA_PREFIX"]))
    if os.environ.get("CONDARC"):
        paths.append(Path(os.environ["CONDARC"]))
    return list(dict.fromkeys(paths))


def conda_view(read: _Reader, root: Root, ours: Path | None = None) -> ToolView:
    layers: list[ConfigLayer] = []
    warnings: list[str] = []
    for shown, settings in _parsed(condarc_files(root), read, condarc.read, warnings):
        if settings.channel_alias:
            alias = settings.channel_alias.rstrip("/") + "/conda-forge"
            layers.append(ConfigLayer(f"{shown} channel_alias", alias, "base of every named channel"))
            if host_of(settings.channel_alias) != "conda.anaconda.org":
                warnings.append(
                    f"{shown} sets channel_alias = {settings.channel_alias}: every named channel goes there, "
                    "and any it does not mirror fails with 404."
                )
        if settings.custom_conda_forge:
            layers.append(
                ConfigLayer(f"{shown} [custom_channels]", settings.custom_conda_forge.rstrip("/") + "/conda-forge")
            )
        elif not settings.channel_alias:
            layers.append(ConfigLayer(shown, None))
        if settings.mirrored_conda_forge:
            layers.append(
                ConfigLayer(
                    f"{shown} mirrored_channels", None, "mamba 2 tries " + ", ".join(settings.mirrored_conda_forge)
                )
            )
            warnings.append(f"{shown} sets mirrored_channels for conda-forge, which mamba 2 uses instead.")
        if settings.channels and "defaults" in settings.channels:
            warnings.append(
                f"{shown} lists the `defaults` channels, which need Anaconda's terms of service accepted "
                "and reach repo.anaconda.com."
            )
    if os.environ.get("CONDA_CHANNEL_ALIAS"):
        alias = os.environ["CONDA_CHANNEL_ALIAS"].rstrip("/") + "/conda-forge"
        layers.append(ConfigLayer("CONDA_CHANNEL_ALIAS", alias, "environment beats every file"))
    # custom_channels beats channel_alias whatever their order, so look for the last custom one first.
    custom = [lay for lay in layers if lay.source.endswith("[custom_channels]")]
    if custom:
        ordered = [lay for lay in layers if lay is not custom[-1]] + [custom[-1]]
        view = _view("conda", ordered, warnings, ours)
        return ToolView(view.tool, view.value, view.source, tuple(layers), view.warnings)
    return _view("conda", layers, warnings, ours)


def torch_view(read: _Reader, ours: Path | None = None) -> ToolView:
    path = torch_index.config_file()
    layers: list[ConfigLayer] = []
    warnings: list[str] = []
    text = read(path)
    if text is not None:
        value = _safe(lambda: torch_index.read(text, path), warnings)
        layers.append(ConfigLayer(f"{real_path(path)} [torch] index", value if isinstance(value, str) else None))
    layers.append(
        ConfigLayer(
            "uv pip --torch-backend=auto", None, "always fetches from download.pytorch.org, whatever is set here"
        )
    )
    return _view("torch", layers, warnings, ours)


def hf_view(read: _Reader, ours: Path | None = None) -> ToolView:
    layers: list[ConfigLayer] = []
    warnings: list[str] = []
    rc, _shell = hf_endpoint.shell_rc_file()
    block = hf_endpoint.read_block(read(rc))
    if block:
        layers.append(ConfigLayer(f"{real_path(rc)} (torchrig block)", block, "exported by new shells"))
    prefix = os.environ.get("CONDA_PREFIX")
    if prefix:
        state = hf_endpoint.conda_state_file(prefix)
        text = read(state)
        if text is not None:
            env_vars = _safe(lambda: hf_endpoint.read_conda_state(text, state), warnings)
            if isinstance(env_vars, dict) and env_vars.get(hf_endpoint.VAR):
                layers.append(
                    ConfigLayer(f"{real_path(state)} (conda env vars)", env_vars[hf_endpoint.VAR], "set on activation")
                )
    now = os.environ.get(hf_endpoint.VAR)
    layers.append(ConfigLayer("HF_ENDPOINT (this shell)", now, "what a process started from here gets"))
    set_before = [lay for lay in layers[:-1] if lay.value]
    stale: tuple[str, ...] = ()
    if set_before and now != set_before[-1].value:
        stale = (
            f"this shell has HF_ENDPOINT={now or '(unset)'}, not {set_before[-1].value}; "
            "open a new shell (or re-activate the environment) to pick up the change.",
        )
        warnings += stale
    value = now or DEFAULTS["hf"]
    source = "HF_ENDPOINT (this shell)" if now else "default"
    if os.environ.get("HF_HUB_DISABLE_XET") is None and value != DEFAULTS["hf"]:
        warnings.append(
            "Xet downloads have bypassed HF_ENDPOINT (xet-core#470); HF_HUB_DISABLE_XET=1 keeps them on the mirror."
        )
    return ToolView("hf", value, source, tuple(layers), tuple(warnings), stale)


SCHEMA = "torchrig.mirror.show/1"  # `torchrig mirror show --json`


def report_json(views: Sequence[ToolView]) -> dict[str, Any]:
    """What ``mirror show --json`` prints: every tool's effective setting and the layers behind it."""
    return {"schema": SCHEMA, "tools": [v.to_json() for v in views]}


def resolve(
    tools: tuple[str, ...] = ("pip", "uv", "conda", "torch", "hf"),
    *,
    root: Root | None = None,
    cwd: Path | None = None,
    overlay: Mapping[Path, bytes | None] | None = None,
    ours: Mapping[str, Path] | None = None,
) -> list[ToolView]:
    """The effective setting of each tool; ``overlay`` answers for files a plan is about to write,
    and ``ours`` names the file torchrig wrote per tool, so overriding layers become warnings."""
    read = _Reader(dict(overlay or {}))
    root = root or Root("/")
    cwd = cwd or Path.cwd()
    ours = ours or {}
    views = {
        "pip": lambda: pip_view(read, root, ours.get("pip")),
        "uv": lambda: uv_view(read, root, cwd, ours.get("uv")),
        "conda": lambda: conda_view(read, root, ours.get("conda")),
        "torch": lambda: torch_view(read, ours.get("torch")),
        "hf": lambda: hf_view(read, ours.get("hf")),
    }
    return [views[t]() for t in tools]
