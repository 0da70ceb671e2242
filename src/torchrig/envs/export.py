"""``env export``: the file that recreates an environment, with the index its torch build came from.

A venv (or uv environment) becomes a requirements file: ``pip freeze`` plus, first, the PyTorch index
as ``--extra-index-url``. That is safe against index confusion because the torch pin carries its
local build tag (``torch==2.13.0+cu130``), which no package on PyPI can have. A conda environment
becomes an ``environment.yml`` (``<tool> env export``, without the machine-specific ``prefix:``), with
the same index line at the top of its ``pip:`` list when torch came from pip.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from torchrig._core.errors import UserError
from torchrig._core.seams.runner import Runner
from torchrig.envs.executors import CondaExecutor, Executor, VenvExecutor, read_marker


@dataclass(frozen=True)
class Exported:
    kind: str  # "requirements" or "environment.yml"
    text: str


def export(name: str, executors: list[Executor], runner: Runner, *, uv: str | None = None) -> Exported:
    """Export the environment ``name`` from the first executor that knows it (``uv``: its path, if on PATH)."""
    for ex in executors:
        prefix = ex.prefix(name)
        if prefix is None:
            continue
        if isinstance(ex, VenvExecutor):
            return _export_venv(name, prefix, runner, uv)
        if isinstance(ex, CondaExecutor):
            return _export_conda(name, prefix, ex, runner)
    where = " or ".join(ex.location(name) for ex in executors)
    raise UserError(f"there is no environment named {name} (looked for {where}).")


def _index_lines(marker: dict | None) -> list[str]:
    if not marker or marker.get("torch_from") != "pip":
        return []
    if marker.get("find_links"):
        return [f"--find-links {marker['find_links']}"]
    if marker.get("index_url"):
        return [f"--extra-index-url {marker['index_url']}"]
    return []


def _export_venv(name: str, prefix: Path, runner: Runner, uv: str | None) -> Exported:
    python = prefix / "bin" / "python"
    if not python.exists():
        raise UserError(f"{prefix} is not a virtual environment (it has no bin/python).")
    if (prefix / "bin" / "pip").exists() or uv is None:
        done = runner.run([str(python), "-m", "pip", "freeze", "--disable-pip-version-check"], timeout=120)
    else:  # uv makes venvs without pip
        done = runner.run([uv, "pip", "freeze", "--python", str(python)], timeout=120)
    if not done.ok:
        last = (done.stderr or done.error or "no output").strip().splitlines()[-1]
        raise UserError(f"listing the packages of {prefix} failed: {last}.")
    marker = read_marker(prefix)
    header = [f"# torchrig env export {name}: recreate with `python -m venv ENV && ENV/bin/pip install -r FILE`"]
    if marker:
        header.append(
            f"# torch {marker.get('torch')} ({marker.get('variant')} build), "
            f"planned by torchrig {marker.get('torchrig')}"
        )
    else:
        header.append("# not made by torchrig env create: the index torch came from is unknown")
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    return Exported("requirements", "\n".join([*header, *_index_lines(marker), *lines]) + "\n")


def _export_conda(name: str, prefix: Path, ex: CondaExecutor, runner: Runner) -> Exported:
    from ruamel.yaml import YAML

    # conda documents --no-builds; mamba 2 and micromamba are another code base, so they export build strings too
    no_builds = ["--no-builds"] if ex.kind == "conda" else []
    done = runner.run([ex.tool, "env", "export", "-n", name, *no_builds], timeout=300)
    if not done.ok:
        raise UserError(
            f"`{ex.kind} env export` failed for {name}: {(done.stderr or done.error or '').strip()[-200:]}."
        )
    yaml = YAML()  # round-trip: keep the tool's order and comments
    yaml.indent(mapping=2, sequence=4, offset=2)  # and conda's list layout ("  - numpy")
    data = yaml.load(done.stdout)
    if not isinstance(data, dict):
        raise UserError(f"`{ex.kind} env export` printed something that is not an environment.yml.")
    data.pop("prefix", None)
    index = _index_lines(read_marker(prefix))
    if index:
        deps = data.setdefault("dependencies", [])
        pip = next((d for d in deps if isinstance(d, dict) and "pip" in d), None)
        if pip is None:
            pip = {"pip": []}
            deps.append(pip)
        pip["pip"] = [*index, *[x for x in pip["pip"] if x not in index]]
    out = io.StringIO()
    yaml.dump(data, out)
    return Exported("environment.yml", out.getvalue())
