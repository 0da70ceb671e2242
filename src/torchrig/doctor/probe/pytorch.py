"""PyTorch: what is installed (read without importing it), then what it does when imported.

Step 1, always, from files: the distribution's version and installer (``importlib.metadata``;
``conda-meta`` for conda), ``torch/version.py`` (``__version__``, ``cuda``, ``hip``) and every
``torch`` package directory on ``sys.path`` (more than one is a mixed install). When conda's records
list pytorch while pip's ``INSTALLER`` file says pip, ``installer`` is ``"conda+pip"``: both own it.

Step 2, not in quick mode: a subprocess runs ``_torch_child.py`` under the same interpreter, with a
timeout. It imports torch, initialises CUDA and runs a tiny matmul and conv per GPU; it reports step
by step (see that module), so a child that segfaults or hangs still yields facts, and the step it
died in becomes the error: ``import_error`` when importing died, ``cuda_init_error`` when CUDA did.
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrig.doctor.facts import DeviceSmoke, LoadedLib, TorchFacts
from torchrig.doctor.probe import python_env

if TYPE_CHECKING:
    from torchrig.doctor.probe import Host

MARK = "TORCHRIG-JSON "
_CHILD = Path(__file__).with_name("_torch_child.py")
# -c puts the working directory first on sys.path; a torch.py there would be imported instead of torch
# (the system probe reports such files; here we want the installed torch).
_PRELUDE = "import sys\nif sys.path and sys.path[0] == '':\n    del sys.path[0]\n"
_VERSION_ASSIGN = re.compile(r"^(?P<name>__version__|cuda|hip)\s*(?::[^=]*)?=\s*(?P<value>.+?)\s*$", re.M)


def parse_version_py(text: str) -> dict[str, str | None]:
    """``__version__``, ``cuda`` and ``hip`` from the text of ``torch/version.py`` (never executed)."""
    found: dict[str, str | None] = {}
    for match in _VERSION_ASSIGN.finditer(text):
        value = match.group("value")
        if value == "None":
            found[match.group("name")] = None
        elif value[:1] in "'\"" and value[-1:] == value[:1]:
            found[match.group("name")] = value[1:-1]
    return found


def probe(host: Host, quick: bool) -> TorchFacts:
    facts = TorchFacts()
    _installed(host, facts)
    if not quick and facts.installed:
        _import_in_subprocess(host, facts)
    return facts


def _installed(host: Host, facts: TorchFacts) -> None:
    copies = python_env.package_dirs(host, "torch")
    facts.copies = copies
    if copies:
        facts.sources["copies"] = "sys.path"
    dist = python_env.find_distribution(host, "torch")
    facts.set("installed", bool(dist or copies), "importlib")
    if dist is not None:
        facts.set("version", dist.version, "importlib")
        installer = python_env.installer(host, dist, conda_names=("pytorch", "pytorch-gpu", "pytorch-cpu"))
        facts.set("installer", installer, "importlib")
    if copies:
        facts.set("location", copies[0], "sys.path")
        text = host.root.read_text(str(Path(copies[0]) / "version.py"))
        if text is not None:
            values = parse_version_py(text)
            facts.set("version", values.get("__version__"), "torch/version.py")
            if values.get("cuda"):
                facts.set("cuda", values["cuda"], "torch/version.py")
            if values.get("hip"):
                facts.set("hip", values["hip"], "torch/version.py")
            if "cuda" in values:
                facts.sources.setdefault("cuda", "torch/version.py")  # None read from the file is a fact: a CPU build


def _import_in_subprocess(host: Host, facts: TorchFacts) -> None:
    source = _PRELUDE + _CHILD.read_text(encoding="utf-8")
    env = dict(host.env)
    env["PYTHONFAULTHANDLER"] = "1"  # a segfault prints the Python stack to stderr: that is the evidence
    env.pop("PYTHONSTARTUP", None)
    result = host.runner.run([host.python, "-c", source], timeout=host.torch_timeout, env=env)
    facts.set("python", host.python, "torch")
    values, step = _merge_lines(result.stdout)
    _apply(facts, values)
    # C++ warnings (TORCH_WARN, "[W ...]") bypass Python's warnings module and go straight to stderr
    native = [line for line in _native_warnings(result.stderr) if line not in facts.warnings]
    if native:
        facts.warnings.extend(native)
        facts.sources.setdefault("warnings", "torch")

    if result.ok and values:
        return
    if result.error is not None and result.returncode is None and "timed out" in result.error:
        what = f"the torch subprocess {result.error} during {step or 'start-up'}"
    elif result.error is not None:
        what = f"the torch subprocess could not start ({result.error}: {host.python})"
    elif result.returncode is not None and result.returncode < 0:
        what = f"the torch subprocess was killed by {_signal_name(-result.returncode)} during {step or 'start-up'}"
    else:
        what = f"the torch subprocess exited with status {result.returncode} during {step or 'start-up'}"
    facts.errors.append(what)
    detail = _stderr_tail(result.stderr)
    message = f"{what}: {detail}" if detail else what
    if step in (None, "import") and facts.import_ok is not True:
        facts.set("import_ok", False, "torch")
        facts.set("import_error", message, "torch")
    elif step == "cuda-init" or (step or "").startswith("device"):
        facts.set("cuda_init_error", message, "torch")


def _merge_lines(stdout: str) -> tuple[dict[str, Any], str | None]:
    values: dict[str, Any] = {}
    step = None
    devices: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        if not line.startswith(MARK):
            continue
        try:
            item = json.loads(line[len(MARK) :])
        except ValueError:
            continue  # a line cut short by the crash
        if not isinstance(item, dict):
            continue
        step = item.pop("step", step)
        if "device" in item:
            devices.append(item.pop("device"))
        values.update(item)
    if devices:
        values["smoke"] = devices
    return values, step


def _apply(facts: TorchFacts, values: dict[str, Any]) -> None:
    for name in (
        "import_ok",
        "import_error",
        "cuda_available",
        "device_count",
        "arch_list",
        "cudnn_version",
        "nccl_version",
        "cuda_init_error",
        "warnings",
    ):
        if name in values and values[name] is not None:
            facts.set(name, values[name], "torch")
    if values.get("import_ok"):
        # what the import says wins over the files read in step 1 (a shadowing copy, an edited version.py)
        for name in ("version", "cuda", "hip"):
            if name in values:
                setattr(facts, name, values[name])
                facts.sources[name] = "torch"
        if values.get("location"):
            facts.location = str(Path(values["location"]).parent)
            facts.sources["location"] = "torch"
    facts.smoke = [
        DeviceSmoke(
            device=int(d.get("device", i)),
            name=d.get("name"),
            capability=d.get("capability"),
            matmul_ok=d.get("matmul_ok"),
            conv_ok=d.get("conv_ok"),
            error=d.get("error"),
        )
        for i, d in enumerate(values.get("smoke", []))
    ]
    if facts.smoke:
        facts.sources["smoke"] = "torch"
    libs = values.get("loaded_libs") or []
    facts.loaded_libs = [LoadedLib(name=lib["name"], path=lib["path"]) for lib in libs if {"name", "path"} <= set(lib)]
    if facts.loaded_libs:
        facts.sources["loaded_libs"] = "torch"


def _native_warnings(stderr: str) -> list[str]:
    lines = [line.strip() for line in stderr.splitlines()]
    return [line for line in lines if re.search(r"^\[W\d*\s|Warning:", line)][:20]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _stderr_tail(stderr: str, lines: int = 8) -> str:
    kept = [line.rstrip() for line in stderr.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])[:2000]
