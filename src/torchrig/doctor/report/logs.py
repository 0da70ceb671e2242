"""Facts that logs, tracebacks and pasted command output state outright.

Every extractor here reads one kind of line that a tool prints verbatim (the nvidia-smi banner,
``/proc/driver/nvidia/version``, dmesg's NVRM lines, torch's own warnings, ``pip list``, traceback
paths, shell lines that set an environment variable). None guesses from prose: a fact is recorded
only where the text is the machine's own output. Each returns True if it recorded anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from torchrig._core.prefilter import Haystack
from torchrig.doctor.facts import Facts, Gpu, Package
from torchrig.doctor.report.collect_env import SOURCE, put

_SMI_BANNER = re.compile(
    r"NVIDIA-SMI\s+(?P<smi>[\d.]+)\s+Driver Version:\s*(?P<driver>[\d.]+)(?:\s+CUDA Version:\s*(?P<cuda>\d+\.\d+))?"
)
_DRIVER_VERSION = re.compile(r"\bDriver Version:\s*(?P<driver>\d{3}\.\d+(?:\.\d+)?)")
_PROC_VERSION = re.compile(
    r"NVRM(?: version:|: loading) NVIDIA UNIX .*?Kernel Module(?: for \w+)?\s+(?P<version>\d{3}\.\d+(?:\.\d+)?)"
)
_NVRM_MISMATCH = re.compile(
    r"API mismatch: the client.{0,80}?has the version (?P<client>[\d.]+?),? but.{0,120}?this kernel module has"
    r".{0,60}?the version (?P<module>\d[\d.]*\d)",
    re.DOTALL,
)
_NVML_LIBRARY = re.compile(r"NVML library version:\s*(?P<version>\d{3}\.\d+(?:\.\d+)?)")
_FOUND_VERSION = re.compile(r"too old \(found version (?P<version>\d{4,6})\)")
# Searched from the fixed words backwards (a pattern that starts with the free-form name would try every
# position of the text and go quadratic on long lines); the name is the text before them on that line.
_SM_WARNING = re.compile(r" with CUDA capability sm_(?P<sm>\d+) is not compatible")
_NAME_LIMIT = 200
_SM_SUPPORTED = re.compile(
    r"current PyTorch install supports CUDA capabilities (?P<archs>(?:\s*(?:sm|compute)_\d+\w?)+)"
)
_OLD_GPU = re.compile(
    r"Found GPU\s*(?P<index>\d+) (?P<name>.+?) which is of cuda capability (?P<major>\d+)\.(?P<minor>\d+)"
)
_GPU_LIST = re.compile(
    r"^[ \t]*GPU (?P<index>\d+): (?P<name>.+?) \(UUID: (?P<uuid>GPU-[0-9A-Fa-f-]+)\)[ \t]*$", re.MULTILINE
)
# `pip list` ("torch   2.5.0+cu124") and `pip freeze` ("flash-attn==2.6.0.post1") lines of the packages checks know:
# a line that is only this, indented at most. Searched from the name, not from each line's start (16 MiB of
# short lines would be millions of tries); :func:`_pip_lines` keeps the matches that begin their line.
_PIP_LIST = re.compile(
    r"(?P<name>torch|torchvision|torchaudio|pytorch-triton|triton|xformers|flash[-_]attn|vllm|bitsandbytes)"
    r"(?:[ \t]+|[ \t]*==[ \t]*)(?P<version>\d+\.\d+[\w.+-]*)[ \t]*$",
    re.MULTILINE,
)
# A POSIX path ending in site-packages/torch/ (read by _torch_dirs_posix, which finds the same matches from
# the end of the path: tried from every "/", the lazy middle made long lines without a space quadratic).
_TORCH_DIR_POSIX = re.compile(r"(?P<dir>(?:~|\.{1,2})?/[^\s\"':]*?/(?:site|dist)-packages/torch)/")
_TORCH_DIR_ENDS = ("/site-packages/torch/", "/dist-packages/torch/")
_PATH_START = re.compile(r"(?:~|\.{1,2})?/")
_LAST_PATH_STOP = re.compile(r"[\s\"':](?=[^\s\"':]*\Z)")
_TORCH_DIR_WINDOWS = re.compile(r"(?P<dir>[A-Za-z]:\\[^\"':*?<>|\n]*?\\(?:site|dist)-packages\\torch)\\")
_PYTHON_FROM_PATH = re.compile(r"python(?P<version>\d\.\d+)[/\\](?:site|dist)-packages")
_CONDA_ENV = re.compile(r"(?P<prefix>/[^\s\"':]*?/envs/[^/\s\"']+)/lib/python\d")
_VISIBLE_DEVICES = (
    re.compile(r"""os\.environ\[\s*['"]CUDA_VISIBLE_DEVICES['"]\s*\]\s*=\s*['"](?P<value>[^'"]*)['"]"""),
    re.compile(
        r"""(?:^|[\s;`(])(?:export\s+|set\s+)?CUDA_VISIBLE_DEVICES=(?P<value>['"][^'"]*['"]|[^\s`;)]*)""", re.MULTILINE
    ),
)
_LD_ASSIGN = re.compile(
    r"""(?:^|[\s;`])(?:export\s+)?LD_LIBRARY_PATH=(?P<value>['"][^'"]*['"]|[^\s`;]+)""", re.MULTILINE
)
_LD_ECHO = re.compile(r"echo \$\{?LD_LIBRARY_PATH\}?\s*\n(?P<value>[^\n$]*/[^\n]*)")
_EXTENSION_MISMATCH = re.compile(
    r"detected CUDA version \((?P<toolkit>\d+\.\d+)\) mismatches the version that was used to compile\s+PyTorch \((?P<torch>\d+\.\d+)\)"
)
_CONTAINER_BANNER = re.compile(
    r"^==+\n== .+ ==\n==+$|^NVIDIA Release \d+\.\d+|^Container image Copyright", re.MULTILINE
)


def scan(text: str | Haystack, facts: Facts) -> bool:
    """Record what the log states outright; True if anything was recorded.

    Each pattern is searched only where the text holds the literal words it needs
    (:class:`~torchrig._core.prefilter.Haystack`): a report may be 16 MiB of anything.
    """
    haystack = text if isinstance(text, Haystack) else Haystack(text)
    found = False
    for extract in (_driver, _gpus, _torch_install, _toolkit, _environment, _container):
        found = extract(haystack, facts) or found
    return found


def _driver(haystack: Haystack, facts: Facts) -> bool:
    text = haystack.text
    driver = facts.driver
    found = False
    banner = haystack.search(_SMI_BANNER)
    if banner:
        put(driver, "userspace", banner.group("driver"))
        if banner.group("cuda"):
            put(driver, "cuda_driver_api", banner.group("cuda"))
        found = True
    else:
        line = haystack.search(_DRIVER_VERSION)
        if line:
            put(driver, "userspace", line.group("driver"))
            found = True
    mismatch = haystack.search(_NVRM_MISMATCH)
    if mismatch:
        # dmesg names both sides: the client is the user-space library, the other the loaded module.
        put(driver, "kernel_module", mismatch.group("module"))
        put(driver, "userspace", mismatch.group("client"))
        found = True
    proc = haystack.search(_PROC_VERSION)
    if proc:
        put(driver, "kernel_module", proc.group("version"))
        found = True
    nvml = haystack.search(_NVML_LIBRARY)
    if nvml:
        put(driver, "userspace", nvml.group("version"))
        found = True
    if "Driver/library version mismatch" in text:
        put(driver, "nvml_error", "Driver/library version mismatch")
    old = haystack.search(_FOUND_VERSION)
    if old:
        # torch prints cudaDriverGetVersion(): 11040 = CUDA 11.4, the newest the driver supports.
        number = int(old.group("version"))
        put(driver, "cuda_driver_api", f"{number // 1000}.{number % 1000 // 10}")
        found = True
    return found


def _gpus(haystack: Haystack, facts: Facts) -> bool:
    text = haystack.text
    found = False
    if not facts.gpus.devices:
        listed = [
            Gpu(index=int(m.group("index")), name=m.group("name").strip(), uuid=m.group("uuid"), source=SOURCE)
            for m in haystack.finditer(_GPU_LIST)
        ]
        if listed:
            facts.gpus.devices = _unique(listed)
            facts.gpus.sources["devices"] = SOURCE
            found = True
    for warning in haystack.finditer(_SM_WARNING):
        sm = warning.group("sm")
        line_start = max(text.rfind("\n", 0, warning.start()) + 1, warning.start() - _NAME_LIMIT)
        name = text[line_start : warning.start()].rsplit(":", 1)[-1]
        _gpu_named(facts, _clean_name(name), f"{sm[:-1]}.{sm[-1]}")
        found = True
    for warning in haystack.finditer(_OLD_GPU):
        _gpu_named(
            facts,
            warning.group("name").strip(),
            f"{warning.group('major')}.{warning.group('minor')}",
            index=int(warning.group("index")),
        )
        found = True
    supported = haystack.search(_SM_SUPPORTED)
    if supported:
        put(facts.torch, "arch_list", supported.group("archs").split())
        found = True
    return found


def _pip_lines(haystack: Haystack) -> Iterator[re.Match[str]]:
    """The matches of :data:`_PIP_LIST` that only blanks precede on their line."""
    text = haystack.text
    for match in haystack.finditer(_PIP_LIST):
        start = match.start()
        if not text[text.rfind("\n", 0, start) + 1 : start].strip(" \t"):
            yield match


def _unique(gpus: list[Gpu]) -> list[Gpu]:
    seen: dict[int, Gpu] = {}
    for gpu in gpus:
        seen.setdefault(gpu.index, gpu)
    return list(seen.values())


def _clean_name(name: str) -> str:
    """What precedes "with CUDA capability": drop a warning's prefix and quoting, keep the GPU name."""
    name = re.sub(r"^.*?(UserWarning|Warning|warn)\W*", "", name.strip())
    return name.strip(" \t'\"`>")


def _gpu_named(facts: Facts, name: str, capability: str, index: int | None = None) -> None:
    """Give the GPU called ``name`` its compute capability, adding it if the report listed no such GPU."""
    devices = facts.gpus.devices
    lowered = name.lower()
    for gpu in devices:  # logs repeat a warning per process or per call: the same GPU again adds nothing
        same = gpu.index == index if index is not None else (gpu.name or "").lower() == lowered
        if same and gpu.compute_capability == capability:
            return
    for gpu in devices:
        if gpu.name and (gpu.name.lower() in lowered or lowered in gpu.name.lower()) and gpu.compute_capability is None:
            gpu.compute_capability = capability
            return
    taken = {gpu.index for gpu in devices}
    if index is None or index in taken:
        index = max(taken, default=-1) + 1
    devices.append(Gpu(index=index, name=name or None, compute_capability=capability, source=SOURCE))
    facts.gpus.sources.setdefault("devices", SOURCE)


def _torch_install(haystack: Haystack, facts: Facts) -> bool:
    torch = facts.torch
    found = False
    listed = {m.group("name").replace("_", "-"): m.group("version") for m in _pip_lines(haystack)}
    if "torch" in listed:
        put(torch, "installed", True)
        put(torch, "version", listed.pop("torch"))
        found = True
    for name, version in listed.items():
        if facts.companion(name) is None:
            facts.companions.append(Package(name=name, version=version))
            found = True
    dirs = sorted(
        set(_torch_dirs_posix(haystack.text)) | {m.group("dir") for m in haystack.finditer(_TORCH_DIR_WINDOWS)}
    )
    if dirs:
        put(torch, "installed", True)
        put(torch, "location", dirs[0])
        if len(dirs) > 1:
            put(torch, "copies", dirs)
        python = _PYTHON_FROM_PATH.search(dirs[0])
        if python:
            put(facts.system, "python_version", python.group("version"))
        conda = _CONDA_ENV.search(dirs[0])
        if conda:
            put(facts.system, "conda_prefix", conda.group("prefix"))
        found = True
    return found


def _torch_dirs_posix(text: str) -> Iterator[str]:
    """What ``_TORCH_DIR_POSIX.finditer(text)`` yields as ``dir``, in linear time.

    Each match ends at one of :data:`_TORCH_DIR_ENDS` and starts at the first place before it, after the
    previous match and after the last character the path cannot hold, where a path can start.
    """
    ends = sorted(i for end in _TORCH_DIR_ENDS for i in _occurrences(text, end))
    pos = 0  # where the regex would go on searching
    for end in ends:
        if end < pos:
            continue
        stop = _LAST_PATH_STOP.search(text, pos, end)
        if stop is not None:
            pos = stop.end()  # nothing before the stop can reach this or any later end
        start = _PATH_START.search(text, pos, end)
        if start is None:
            continue
        yield text[start.start() : end + len(_TORCH_DIR_ENDS[0]) - 1]
        pos = end + len(_TORCH_DIR_ENDS[0])


def _occurrences(text: str, needle: str) -> Iterator[int]:
    at = text.find(needle)
    while at >= 0:
        yield at
        at = text.find(needle, at + 1)


def _toolkit(haystack: Haystack, facts: Facts) -> bool:
    """torch.utils.cpp_extension names both CUDAs when they differ: the toolkit's and torch.version.cuda."""
    # Read with every run of whitespace as one space: a wrapped message still matches.
    if not haystack.may_match(_EXTENSION_MISMATCH, whitespace_free=True):
        return False
    mismatch = _EXTENSION_MISMATCH.search(" ".join(haystack.text.split()))
    if not mismatch:
        return False
    put(facts.toolkit, "version", mismatch.group("toolkit"))
    put(facts.torch, "cuda", mismatch.group("torch"))
    return True


def _environment(haystack: Haystack, facts: Facts) -> bool:
    env = facts.system.env
    found = False
    for in_python, pattern in zip((True, False), _VISIBLE_DEVICES, strict=True):
        match = haystack.search(pattern)
        if match and "CUDA_VISIBLE_DEVICES" not in env:
            env["CUDA_VISIBLE_DEVICES"] = match.group("value").strip("'\"")
            if in_python:  # the program sets it itself: a shell `unset` would not undo it
                facts.system.set_in_program["CUDA_VISIBLE_DEVICES"] = match.group(0)
            found = True
    ld = haystack.search(_LD_ASSIGN) or haystack.search(_LD_ECHO)
    if ld and "LD_LIBRARY_PATH" not in env:
        env["LD_LIBRARY_PATH"] = ld.group("value").strip().strip("'\"")
        found = True
    if found:
        facts.system.sources.setdefault("env", SOURCE)
    return found


def _container(haystack: Haystack, facts: Facts) -> bool:
    """NVIDIA's images print a banner on start; its presence says the report came from inside one."""
    if not haystack.search(_CONTAINER_BANNER):
        return False
    text = haystack.text
    if "docker" in text.lower():  # the banner alone does not say which runtime started the image
        put(facts.system, "container", "docker")
    shm = re.search(r"SHMEM allocation limit is set to the default of (?P<mb>\d+)MB", text)
    if shm:
        put(facts.system, "shm_total_bytes", int(shm.group("mb")) << 20)
    return True
