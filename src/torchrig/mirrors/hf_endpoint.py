"""HF_ENDPOINT: there is no Hugging Face config file, so the variable goes where a scope can hold it.

- ``--scope env`` with an active conda environment: ``$CONDA_PREFIX/conda-meta/state``, the JSON file
  behind ``conda env config vars set``; conda exports its ``env_vars`` on activation.
- ``--scope user``: a marked block in the shell's startup file, the way ``conda init`` does it, and only
  after the user approves it (``--yes`` or a prompt). Re-running replaces the block; nothing else in
  the file moves.

huggingface_hub reads HF_ENDPOINT when it is imported, so either way it applies to new processes.
The URL is validated first (no quotes, ``$``, backticks or spaces) and then single-quoted, so the
shell reads it as one literal word.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from torchrig._core import paths
from torchrig._core.errors import UserError

VAR = "HF_ENDPOINT"
BEGIN = "# >>> torchrig mirror: HF_ENDPOINT >>>"
END = "# <<< torchrig mirror: HF_ENDPOINT <<<"
_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)


def shell_rc_file() -> tuple[Path, str]:
    """The startup file of the user's login shell ($SHELL) and that shell's name."""
    home = paths.home()
    shell = os.path.basename(os.environ.get("SHELL", ""))
    if shell == "zsh":
        return Path(os.environ.get("ZDOTDIR") or home) / ".zshrc", "zsh"
    if shell == "bash":
        return home / ".bashrc", "bash"
    if shell == "fish":
        return paths.config_home() / "fish" / "config.fish", "fish"
    return home / ".profile", "sh"


def export_line(url: str, shell: str = "sh") -> str:
    if shell == "fish":
        return f"set -gx {VAR} '{url}'"
    return f"export {VAR}='{url}'"


def read_block(text: str | None) -> str | None:
    """The URL inside torchrig's marked block, or None."""
    match = _BLOCK.search(text or "")
    if not match:
        return None
    value = re.search(rf"{VAR}'?\s*=?\s*'([^']*)'", match.group(0)) or re.search(r"'([^']*)'", match.group(0))
    return value.group(1) if value else None


def set_block(text: str | None, url: str, shell: str) -> str:
    text = text or ""
    block = (
        f"{BEGIN}\n"
        "# Written by `torchrig mirror use`; `torchrig mirror restore --for hf` takes it out again.\n"
        f"{export_line(url, shell)}\n"
        f"{END}\n"
    )
    if _BLOCK.search(text):
        return _BLOCK.sub(lambda _m: block, text, count=1)
    if text and not text.endswith("\n"):
        text += "\n"
    return text + ("\n" if text else "") + block


def conda_state_file(prefix: str | Path) -> Path:
    return Path(prefix) / "conda-meta" / "state"


def read_conda_state(text: str | None, path: Path) -> dict[str, str]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise UserError(f"{path} is not valid JSON; torchrig left it untouched.") from None
    env_vars = data.get("env_vars", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in env_vars.items()} if isinstance(env_vars, dict) else {}


def set_conda_var(text: str | None, url: str, path: Path) -> str:
    data: dict = {}
    if text:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise UserError(f"{path} is not valid JSON; torchrig left it untouched.") from None
        if not isinstance(data, dict):
            raise UserError(f"{path} is not a conda state file (a JSON object); torchrig left it untouched.")
    env_vars = data.setdefault("env_vars", {})
    if not isinstance(env_vars, dict):
        raise UserError(f"{path}: env_vars must be a JSON object; torchrig left it untouched.")
    if env_vars.get(VAR) == url and text:
        return text
    env_vars[VAR] = url
    return json.dumps(data, indent=2) + "\n"
