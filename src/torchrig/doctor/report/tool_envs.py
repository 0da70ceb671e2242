"""Other projects' environment dumps -> Facts: ``transformers env``, ``accelerate env``, ``ds_report``,
vLLM's sectioned ``collect_env`` and SGLang's ``check_env``.

Each reader follows the program that prints the dump (as of 2026-12), not a pasted example:

- ``transformers env`` (transformers/commands/env.py) and ``accelerate env`` (accelerate/commands/env.py)
  print ``- <key>: <value>`` lines: "PyTorch version (GPU?): 2.3.0+cpu (False)" (the value in brackets
  is ``torch.cuda.is_available()``) or, in newer transformers, "PyTorch version (accelerator?):
  2.7.1+cu126 (CUDA)" (the accelerator torch can use, "NA" for none); "GPU type" is
  ``torch.cuda.get_device_name()``, printed only when CUDA is available; "Platform" is
  ``platform.platform()``; "not installed" means the package cannot be imported by that Python.
- ``ds_report`` (deepspeed/env_report.py) prints ``<name> ...... <value>`` lines after "DeepSpeed general
  environment info:": "torch version", "torch cuda version" (``torch.version.cuda``), "torch hip
  version", "nvcc version" (the nvcc under torch's CUDA_HOME, or "[FAIL] ..." without one), "torch
  install path" and "deepspeed info" ("<version>, <git hash>, <branch>").
- vLLM's ``collect_env`` (vllm/collect_env.py) is torch's collect_env with "key : value" columns in
  "=====" sections (read by :mod:`.collect_env`), plus a "vLLM Info" section ("vLLM Version : 0.9.2")
  and an "Environment Variables" section of ``NAME=value`` lines (secrets already left out by vLLM).

- SGLang's ``python -m sglang.check_env`` (sglang/check_env.py) prints ``<key>: <value>`` lines: "Python"
  (``sys.version``), "CUDA available" (or "ROCM available"), "GPU 0,1: <name>" (the devices sharing a
  name), "GPU 0,1 Compute Capability: 9.0", "NVCC: Cuda compilation tools, release 12.4, ...", "CUDA Driver
  Version" (nvidia-smi's), "PyTorch", then a version per package ("Module Not Found" where absent).

Only what the dump states is recorded; a field a dump leaves out stays unknown.
"""

from __future__ import annotations

import re

from torchrig.doctor.facts import Facts, Gpu, Package
from torchrig.doctor.report.collect_env import SOURCE, put

_HF_LINE = re.compile(r"^[ \t]*- (?P<key>[^:\n]{2,60}?): ?(?P<value>[^\n]*?)[ \t]*$", re.MULTILINE)
_HF_TOOLS = {"`transformers` version": "transformers-env", "`accelerate` version": "accelerate-env"}
_HF_COMPANIONS = {
    "`transformers` version": "transformers",
    "accelerate version": "accelerate",
    "`accelerate` version": "accelerate",
    "deepspeed version": "deepspeed",
    "numpy version": "numpy",
}
_TORCH_VALUE = re.compile(r"^(?P<version>\d+\.\d+\S*)\s*\((?P<flag>[^)]*)\)")

_DS_HEADER = re.compile(r"^[ \t]*DeepSpeed general environment info:", re.MULTILINE)
_DS_LINE = re.compile(r"^[ \t]*(?P<key>[a-z][\w ./()-]*?) \.{3,} (?P<value>[^\n]*?)[ \t]*$", re.MULTILINE)
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)*\S*")

_VLLM_VERSION = re.compile(r"^vLLM Version\s*:\s*(?P<version>\d+\.\d+\S*)", re.MULTILINE)
_VLLM_ENV_SECTION = re.compile(
    r"^=+\n[ \t]*Environment Variables[ \t]*\n=+\n(?P<body>(?:[A-Z][A-Z0-9_]*=[^\n]*\n?)*)", re.MULTILINE
)
_ENV_LINE = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>[^\n]*)$", re.MULTILINE)


def parse(text: str, facts: Facts) -> str | None:
    """Record what a tool's environment dump states; the dump's format name, or None for none."""
    return _hf_env(text, facts) or _ds_report(text, facts) or _sglang_env(text, facts)


_SG_LINE = re.compile(r"^(?P<key>[A-Za-z][\w ,.]{0,40}?): (?P<value>[^\n]*?)[ \t]*$", re.MULTILINE)
_SG_GPU = re.compile(r"^GPU (?P<ids>\d+(?:,\d+)*)(?P<cc> Compute Capability)?$")
_SG_PACKAGES = ("sglang", "sgl_kernel", "flashinfer", "triton", "transformers", "torchao", "numpy", "vllm", "xgrammar")


def _sglang_env(text: str, facts: Facts) -> str | None:
    if "sglang: " not in text or "PyTorch: " not in text:
        return None
    fields = {m.group("key"): m.group("value") for m in _SG_LINE.finditer(text)}
    if "sglang" not in fields or "PyTorch" not in fields:
        return None
    torch = facts.torch
    version = _VERSION.match(fields["PyTorch"])
    if version:
        put(torch, "installed", True)
        put(torch, "import_ok", True)  # check_env imports torch before it prints anything
        put(torch, "version", version.group(0))
    python = _VERSION.match(fields.get("Python", ""))
    if python:
        put(facts.system, "python_version", python.group(0))
    available = fields.get("CUDA available", fields.get("ROCM available"))
    if available in ("True", "False"):
        put(torch, "cuda_available", available == "True")
    nvcc = re.search(r"release (\d+\.\d+)", fields.get("NVCC", ""))
    if nvcc:
        put(facts.toolkit, "version", nvcc.group(1))
    driver = re.fullmatch(r"\d{3}\.\d+(?:\.\d+)?", fields.get("CUDA Driver Version", ""))
    if driver:
        put(facts.driver, "userspace", driver.group(0))
    names: dict[int, str] = {}
    capabilities: dict[int, str] = {}
    for key, value in fields.items():
        gpu = _SG_GPU.match(key)
        if gpu:
            target = capabilities if gpu.group("cc") else names
            for index in gpu.group("ids").split(","):
                target[int(index)] = value.strip()
    if names and not facts.gpus.devices:
        facts.gpus.devices = [
            Gpu(index=i, name=names[i], compute_capability=capabilities.get(i), source=SOURCE) for i in sorted(names)
        ]
        facts.gpus.sources["devices"] = SOURCE
    for name in _SG_PACKAGES:
        package = _VERSION.match(fields.get(name, ""))
        if package:
            _companion(facts, name.replace("_", "-"), package.group(0))
    return "sglang-check-env"


def vllm_sections(text: str, facts: Facts) -> bool:
    """The parts vLLM adds to torch's collect_env; True if the text is vLLM's collect_env."""
    version = _VLLM_VERSION.search(text) if "vLLM Version" in text else None
    if version is None:
        return False
    _companion(facts, "vllm", version.group("version"))
    section = _VLLM_ENV_SECTION.search(text)
    if section:
        for line in _ENV_LINE.finditer(section.group("body")):
            facts.system.env.setdefault(line.group("name"), line.group("value"))
        facts.system.sources.setdefault("env", SOURCE)
    return True


def _hf_env(text: str, facts: Facts) -> str | None:
    if "` version:" not in text:  # "- `transformers` version:", "- `Accelerate` version:"
        return None
    fields = {m.group("key").strip().lower(): m.group("value").strip() for m in _HF_LINE.finditer(text)}
    kind = next((name for key, name in _HF_TOOLS.items() if key in fields), None)
    if kind is None:
        return None
    for key, value in fields.items():
        if key.startswith("pytorch version"):
            _torch_field(facts, value)
        elif key == "python version" and _VERSION.match(value):
            put(facts.system, "python_version", value)
        elif key == "platform" and value:
            _platform(facts, value)
        elif key == "gpu type" and value and not facts.gpus.devices:
            facts.gpus.devices = [Gpu(index=0, name=value, source=SOURCE)]
            facts.gpus.sources["devices"] = SOURCE
        elif key in _HF_COMPANIONS and _VERSION.match(value):
            _companion(facts, _HF_COMPANIONS[key], value)
    return kind


def _torch_field(facts: Facts, value: str) -> None:
    torch = facts.torch
    if value.lower().startswith("not installed"):
        put(torch, "installed", False)
        return
    match = _TORCH_VALUE.match(value)
    if match is None:
        return
    put(torch, "installed", True)
    put(torch, "import_ok", True)  # the tool imported it to print its version
    put(torch, "version", match.group("version"))
    flag = match.group("flag").strip().lower()
    if flag in ("true", "cuda"):
        put(torch, "cuda_available", True)
    elif flag in ("false", "na", "xpu", "npu", "hpu", "mlu", "musa"):
        put(torch, "cuda_available", False)


def _platform(facts: Facts, value: str) -> None:
    lowered = value.lower()
    family = (
        "Windows" if lowered.startswith("windows") else "Darwin" if lowered.startswith(("macos", "darwin")) else None
    )
    if family is None and lowered.startswith("linux"):
        family = "Linux"
        put(facts.system, "wsl", "microsoft" in lowered or "wsl" in lowered)
    if family:
        put(facts.system, "os", family)
    machine = re.search(r"(x86_64|aarch64|arm64|AMD64|ppc64le)", value)
    if machine:
        put(facts.system, "machine", machine.group(1))


def _ds_report(text: str, facts: Facts) -> str | None:
    if "DeepSpeed general environment info" not in text or not _DS_HEADER.search(text):
        return None
    fields = {m.group("key").strip(): m.group("value").strip() for m in _DS_LINE.finditer(text)}
    torch = facts.torch
    version = fields.get("torch version", "")
    if _VERSION.match(version):
        put(torch, "installed", True)
        put(torch, "import_ok", True)  # ds_report imports torch before it prints anything
        put(torch, "version", version)
    cuda = fields.get("torch cuda version")
    hip = fields.get("torch hip version")
    if cuda is not None:
        put(torch, "cuda", cuda if _VERSION.match(cuda) else None)
    if hip and _VERSION.match(hip):
        put(torch, "hip", hip)
    nvcc = fields.get("nvcc version", "")
    if _VERSION.match(nvcc):
        put(facts.toolkit, "version", ".".join(nvcc.split(".")[:2]))
    path = re.search(r"['\"](?P<dir>[^'\"]+)['\"]", fields.get("torch install path", ""))
    if path:
        put(torch, "location", path.group("dir"))
    deepspeed = _VERSION.match(fields.get("deepspeed info", ""))
    if deepspeed:
        _companion(facts, "deepspeed", deepspeed.group(0).rstrip(","))
    return "ds_report"


def _companion(facts: Facts, name: str, version: str) -> None:
    if facts.companion(name) is None:
        facts.companions.append(Package(name=name, version=version))
