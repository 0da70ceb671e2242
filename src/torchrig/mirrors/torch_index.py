"""torchrig's own setting for PyTorch wheels: ``[torch] index`` in $XDG_CONFIG_HOME/torchrig/config.toml.

The value is the base URL under which ``/cpu``, ``/cu126``, ``/cu128``, ``/cu130`` ... live as PEP 503
indexes. ``torchrig env`` and the doctor's fix commands read it through :func:`torch_index_base`.
Only PEP 503 layouts go here: a flat page (Aliyun's) works with ``pip -f`` but not as ``--index-url``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from torchrig._core.errors import UserError
from torchrig.mirrors.catalog import config_dir, validate_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def config_file() -> Path:
    return config_dir() / "config.toml"


def torch_index_base() -> str | None:
    """The configured PyTorch wheel index base (no trailing slash), or None for download.pytorch.org.

        >>> torch_index_base()              # after `torchrig mirror use nju --for torch`
        'https://mirrors.nju.edu.cn/pytorch/whl'
        >>> f"{torch_index_base() or 'https://download.pytorch.org/whl'}/cu130"

    Raises UserError (one sentence) if the config file is not valid TOML or the value is not a URL.
    """
    path = config_file()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML ({exc}); fix it or move it aside.") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}.") from None
    torch = data.get("torch")
    value = torch.get("index") if isinstance(torch, dict) else None
    if value is None:
        return None
    return validate_url(value, allow_insecure=True, what=f"[torch] index in {path}").rstrip("/")


def read(text: str | None, path: Path) -> str | None:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(text or "")
    except (TOMLKitError, ValueError) as exc:
        raise UserError(f"{path} is not valid TOML ({exc}); torchrig left it untouched.") from None
    torch = doc.get("torch")
    return str(torch["index"]) if isinstance(torch, dict) and "index" in torch else None


def set_index(text: str | None, base: str, path: Path) -> tuple[str, list[str]]:
    import tomlkit  # the writer's parser; torch_index_base() needs only tomllib
    from tomlkit.exceptions import TOMLKitError

    text = text or ""
    try:
        doc = tomlkit.parse(text)
    except (TOMLKitError, ValueError) as exc:
        raise UserError(f"{path} is not valid TOML ({exc}); torchrig left it untouched.") from None
    torch = doc.get("torch")
    if torch is None:
        table = tomlkit.table()
        table.add("index", base)
        if text.strip() and not text.endswith("\n\n"):
            doc.add(tomlkit.nl())  # a blank line before the new [torch] table
        doc.append("torch", table)
    elif not isinstance(torch, dict):
        raise UserError(f"{path}: `torch` must be a table; torchrig left the file untouched.")
    elif torch.get("index") == base:
        return text, []
    else:
        torch["index"] = base
    return tomlkit.dumps(doc), []
