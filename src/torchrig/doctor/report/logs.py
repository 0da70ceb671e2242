"""Facts that logs, tracebacks and pasted command output state outright.

Every extractor here reads one kind of line that a tool prints verbatim (the nvidia-smi banner,
``/proc/driver/nvidia/version``, dmesg's NVRM lines, torch's own warnings, ``pip list``, traceback
paths, shell lines that set an environment variable). None guesses from prose: a fact is recorded
only where the text is the machine's own output. Each returns True if it recorded anything.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterator

from torchrig._core.prefilter import Haystack
from torchrig.doctor.facts import Facts, Gpu, Package, ShadowedModule
from torchrig.doctor.report import installer
from torchrig.doctor.report.collect_env import MAX_GPUS, SOURCE, put

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
# `dpkg -l`: "ii  libnvidia-compute-535:amd64  535.183.01-0ubuntu0.22.04.1  amd64  NVIDIA libcompute package".
# The installed user-space driver (what a process loads after the next start), not necessarily the loaded
# kernel module: the two differ after an upgrade without a reboot.
_DPKG_DRIVER = re.compile(
    r"^ii[ \t]+(?:libnvidia-compute|nvidia-driver|nvidia-utils)-\d{3}(?:-server)?(?:-open)?(?::\w+)?[ \t]+"
    r"(?P<version>\d{3}\.\d+(?:\.\d+)?)-",
    re.MULTILINE,
)
_NVML_LIBRARY = re.compile(r"NVML library version:\s*(?P<version>\d{3}\.\d+(?:\.\d+)?)")
_FOUND_VERSION = re.compile(r"too old \(found version (?P<version>\d{4,6})\)")
# Searched from the fixed words backwards (a pattern that starts with the free-form name would try every
# position of the text and go quadratic on long lines); the name is the text before them on that line.
_SM_WARNING = re.compile(r" with CUDA capability sm_(?P<sm>\d+) is not compatible")
_NAME_LIMIT = 200
_SM_SUPPORTED = re.compile(
    r"current PyTorch install supports CUDA capabilities (?P<archs>(?:\s*(?:sm|compute)_\d{2,3}[af]?(?!\w))+)"
)
_OLD_GPU = re.compile(
    r"Found GPU\s*(?P<index>\d+) (?P<name>.+?) which is of cuda capability (?P<major>\d+)\.(?P<minor>\d+)"
)
# `nvidia-smi -L`, one GPU a line; a paste that lost its line breaks (an issue form's one-line field) runs them on
# one line, each "GPU n:" after the previous one's "(UUID: ...)".
_GPU_LIST = re.compile(
    r"(?:^[ \t]*|(?<=\))[ \t]+)GPU (?P<index>\d+): (?P<name>[^()\n]+?) \(UUID: (?P<uuid>GPU-[0-9A-Fa-f-]+)\)"
    r"(?=[ \t]*$|[ \t]+GPU \d+: )",
    re.MULTILINE,
)
# nccl-tests' and rccl-tests' "# Using devices" rows (src/common.cu): "#  Rank  0 Group  0 Pid 1234 on host device  0
# [0000:2f:00.0] AMD Instinct MI100"; older releases print no Group and "[0x02]", the bus number only.
_COLLECTIVE_TEST_ROW = re.compile(
    r"^#[ \t]+Rank[ \t]+\d+[ \t]+(?:Group[ \t]+\d+[ \t]+)?Pid[ \t]+\d+[ \t]+on[ \t]+(?P<host>\S+)[ \t]+device[ \t]+"
    r"(?P<index>\d+)[ \t]+\[[^\]\n]*\][ \t]+(?P<name>\S[^\n]*?)[ \t]*$",
    re.MULTILINE,
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
# Any path into an interpreter's own folders names its version: ".../lib/python3.6/site-packages/torchvision/...",
# ".../bin/python3.12" (CPython's POSIX layout, "The installation paths" in the sysconfig documentation).
_PYTHON_PATHS = re.compile(r"[/\\]python(?P<version>3\.\d{1,2})(?:[/\\](?:site|dist)-packages[/\\]|(?![\w.]))")
_CONDA_ENV = re.compile(r"(?P<prefix>/[^\s\"':]*?/envs/[^/\s\"']+)/lib/python\d")
# Unquoted, the value ends before a sentence's full stop ("I have CUDA_VISIBLE_DEVICES=0. Perhaps ..."): its entries are
# device indices, GPU-/MIG- UUIDs, separated by commas (CUDA C Programming Guide, "CUDA Environment Variables"), none of
# which ends in a dot.
_VISIBLE_DEVICES = (
    re.compile(r"""os\.environ\[\s*['"]CUDA_VISIBLE_DEVICES['"]\s*\]\s*=\s*['"](?P<value>[^'"]*)['"]"""),
    re.compile(
        r"""(?:^|[\s;`(])(?:export\s+|set\s+)?CUDA_VISIBLE_DEVICES=(?P<value>['"][^'"]*['"]|(?:[^\s`;)]*[^\s`;).])?)""",
        re.MULTILINE,
    ),
)
_LD_ASSIGN = re.compile(
    r"""(?:^|[\s;`])(?:export\s+)?LD_LIBRARY_PATH=(?P<value>['"][^'"]*['"]|[^\s`;]+)""", re.MULTILINE
)
# ROCm's HSA_OVERRIDE_GFX_VERSION set on a command line or exported (ROCm docs, "Environment variables").
_HSA_OVERRIDE = re.compile(
    r"""(?:^|[\s;`(])(?:export\s+|set\s+|-e\s+|--env\s+)?HSA_OVERRIDE_GFX_VERSION=['"]?(?P<value>\d+\.\d+\.\d+)""",
    re.MULTILINE,
)
# CUDA_DEVICE_ORDER (CUDA C Programming Guide, "CUDA Environment Variables"): FASTEST_FIRST (the default) or PCI_BUS_ID.
_DEVICE_ORDER = re.compile(r"""(?:^|[\s;`(])(?:export\s+|set\s+)?CUDA_DEVICE_ORDER=['"]?(?P<value>\w+)""", re.MULTILINE)
_LD_ECHO = re.compile(r"echo \$\{?LD_LIBRARY_PATH\}?\s*\n(?P<value>[^\n$]*/[^\n]*)")
_WSL_KERNEL = re.compile(r"\b\d+\.\d+\.\d+(?:\.\d+)?-microsoft-standard(?:-WSL2)?\b")
# `nvcc --version`'s last lines: "Cuda compilation tools, release 13.2, V13.2.51" (one line, as nvcc prints it).
_NVCC_RELEASE = re.compile(r"^[ \t]*Cuda compilation tools, release (?P<version>\d+\.\d+), V\d+\.\d+", re.MULTILINE)
_EXTENSION_MISMATCH = re.compile(
    r"detected CUDA version \((?P<toolkit>\d+\.\d+)\) mismatches the version that was used to compile\s+PyTorch \((?P<torch>\d+\.\d+)\)"
)
# CPython's "No module named 'torch'": the interpreter that ran the program has no torch at all (not a
# broken one: that is "No module named 'torch._C'" or another import error).
_NO_TORCH = re.compile(r"^[ \t]*(?:ModuleNotFoundError|ImportError): No module named '?torch'?[ \t]*$", re.MULTILINE)
_PIP_FOUND_TORCH = re.compile(
    r"^[ \t]*Found existing installation: torch (?P<version>\d+\.\d+[\w.+]*)[ \t]*$", re.MULTILINE
)
_PIP_INSTALLED_TORCH = re.compile(
    r"^[ \t]*Successfully installed [^\n]*?\btorch-(?P<version>\d+\.\d+[\w.+]*)\b", re.MULTILINE
)
_PIP_INSTALLED_COMPANION = re.compile(r"(?<![\w-])(torchvision|torchaudio)-(\d+\.\d+[\w.+]*)(?![\w.+-])")
# The device banner of Ultralytics' and YOLOv5's select_device (ultralytics/utils/torch_utils.py: f"Ultralytics
# {__version__} 🚀 Python-{PYTHON_VERSION} torch-{TORCH_VERSION} " then "CPU (...)" or "CUDA:0 (...)", TORCH_VERSION
# being str(torch.__version__)): the program's own print of the interpreter's and torch's versions, the local tag
# ("+cpu", "+cu121") included, so a CPU build shows here as itself.
_DEVICE_BANNER = re.compile(
    r"(?<![\w.-])Python-(?P<python>[23]\.\d{1,2}\.\d{1,2}) torch-(?P<torch>\d{1,2}\.\d{1,3}(?:\.\d{1,3})?"
    r"(?:(?:a|b|rc|\.dev|\.post)\d+)*(?:\+[a-z0-9.]+)?)(?![\w.+-])"
)
_NOTEBOOK_TRACEBACK = re.compile(r"<ipython-input-\d+-|^[ \t]*Cell In\[\d+\], line \d+|ipykernel_\d+", re.MULTILINE)
# The Python version as Python and uv print it: `python --version` ("Python 3.8.2" alone on a line), the
# interactive banner ("Python 3.7.13 (default, Mar 29 2022, 02:18:16)"), uv ("Using CPython 3.13.1", and in
# its resolver's answer "hint: You require CPython 3.13 (`cp313`)" or "matching Python ABI tag (e.g., `cp312`)"), and
# torch.distributed.elastic's failure summary, which names the interpreter the failed worker ran ("of binary:
# /usr/bin/python3.12"), and a launcher's log of sys.version (ComfyUI's main.py: "Python version: 3.12.2
# (tags/v3.12.2:6abddd9, Feb  6 2024, 21:26:36) [MSC v.1937 64 bit (AMD64)]").
_PYTHON_VERSION = re.compile(
    r"^[ \t]*Python (?P<v1>3\.\d+\.\d+)[ \t]*$"
    r"|^[ \t]*Python (?P<v2>3\.\d+\.\d+)\S* \([^,()\n]{1,40}, [A-Z][a-z]{2} [ \d]\d \d{4}"
    r"|^[ \t]*Using (?:C|Py)?Python (?:interpreter )?(?P<v3>3\.\d+\.\d+)\b"
    r"|hint: You require CPython (?P<v4>3\.\d+)\b"
    r"|has no wheels with a matching Python ABI tag \(e\.g\., `cp3(?P<abi>\d{1,2})`\)"
    r"|\bof binary: \S*/python(?P<v5>3\.\d{1,2})(?![\w.])"
    r"|\bPython version:[ \t]*(?P<v6>3\.\d+\.\d+)\S*[ \t]+\((?:tags/|main|default|heads/|v?3\.)[^()\n]{0,60}\)",
    re.MULTILINE,
)
# NCCL's INFO line for every NCCL_* variable it reads from the environment (src/misc/param.cc, socket.cc):
# "NCCL INFO NCCL_SOCKET_IFNAME set by environment to eth2".
_NCCL_ENV = re.compile(r"NCCL INFO (?P<name>NCCL_[A-Z0-9_]+) set by environment to (?P<value>[^\s]+)")
# A command line that starts or enters a container: what it prints comes from inside one.
_DOCKER_COMMAND = re.compile(
    r"^[ \t]*(?:[^\n$#]{0,80}[$#][ \t]*)?(?:sudo[ \t]+)?(?:docker[ \t]+(?:run|exec|container[ \t]+run|compose[ \t]+(?:up|run|exec))|docker-compose[ \t]+(?:up|run|exec))[ \t]",
    re.MULTILINE,
)
# The NVIDIA driver's Xid lines in the kernel log: kept (one per number) so gpu.hardware-fault sees every
# number, not only the first line the signature table records.
_XID_LINE = re.compile(r"^[^\n]*NVRM: Xid \((?:PCI:)?[0-9a-fA-F:.]+\): ?(?P<number>\d{1,3})\b[^\n]*", re.MULTILINE)
_XID_KEEP = 8
# Shadowing, from Python's own words. (1) ImportError names the file it imported a module from:
# "cannot import name 'SystemRandom' from 'random' (/home/u/random.py)". (2) A traceback frame whose source
# line imports a module is followed by the frame of the file that import ran: "    import shutil" then
# 'File "/home/u/shutil.py", line 19, in <module>'. Either file, outside Python's own folders, shadows the module.
_IMPORTED_FROM = re.compile(
    r"cannot import name '[\w.]+' from (?:partially initialized module )?'(?P<module>[\w.]+)'"
    r"(?: \(most likely due to a circular import\))? \((?P<path>[^()\n]+\.py)\)"
)
_IMPORT_FRAME = re.compile(
    r"^[ \t]*(?:import|from)[ \t]+(?P<module>\w+)\b[^\n]*\n"
    r'[ \t]*File "(?P<path>[^"\n]*[/\\](?P=module)(?:[/\\]__init__)?\.py)", line \d+, in <module>',
    re.MULTILINE,
)
# A frame below another one (so not the script Python was started with) whose file is a relative path: Python
# records a module's file as the sys.path entry joined with its name, and only the working directory enters
# sys.path relatively ('' for the REPL and `python -c`, the script's own folder under Python 2; Python 3.4+
# makes these absolute), so a relative torch/__init__.py was imported from where Python was started, not from
# site-packages (docs.python.org/3/library/sys.html#sys.path, "sys.path[0]"; PyTorch's maintainers, #574:
# "you have a folder called torch in the same directory which is being picked up").
_RELATIVE_FRAME = re.compile(
    r'^[ \t]*File "[^"\n]*", line \d+, in [^\n]*\n(?:[ \t]+(?!File ")[^\n]*\n)?'
    r'[ \t]*File "(?P<path>(?![/\\~]|[A-Za-z]:)[^"\n<>]*?(?<![\w.])(?P<module>\w+)(?:[/\\]__init__)?\.py)", line \d+, in <module>',
    re.MULTILINE,
)
# torch's own package imported from a folder outside Python's, failing because torch._C (the compiled extension)
# is not there: a PyTorch source checkout where Python started (or on sys.path), not the installed torch. torch's
# __init__.py says so since 1.x ("Failed to load PyTorch C extensions: It appears that PyTorch has loaded the
# `torch/_C` folder of the PyTorch repository ... or by running Python from a different directory."); older
# releases failed on the same missing module as "No module named 'torch._C'" (or "_C" under Python 2) or, from
# `from torch._C import *` finding nothing, "NameError: name '_C' is not defined" (pytorch#1633, #574).
_TORCH_FRAME = re.compile(
    r'^[ \t]*File "(?P<path>[^"\n<>]*[/\\]torch[/\\]__init__\.py)", line \d+, in <module>', re.MULTILINE
)
_NO_TORCH_C = re.compile(
    r"No module named '?(?:torch\.)?_C'?(?![\w.])|NameError: name '_C' is not defined|Failed to load PyTorch C extensions"
)
_PYTHON_OWN = re.compile(
    r"[/\\](?:lib|Lib)[/\\]python\d|(?:^|[/\\])(?:site|dist)-packages[/\\]|[/\\]Lib[/\\]|python\d+\.zip|lib-dynload"
    r"|\.framework[/\\]Versions[/\\]"
)
# Installed packages whose shadowing is read from tracebacks, besides the standard library's modules.
_PACKAGES = frozenset({"torch", "torchvision", "torchaudio", "numpy", "triton", "typing_extensions", "sympy"})
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) - {"__future__", "test", "this", "antigravity"}
# An interactive session's answers (python's ">>> ", IPython's "In [1]: ... Out[1]: "): what torch itself
# said about its version and CUDA. When a report shows several sessions (before and after a reinstall),
# the last answer is the machine's present state.
# (parse_report has already taken ">>> " off as quoting: the prompt is optional, the expression alone on its line)
_PROMPT = r"^[ \t]*(?:(?:>>>|In \[\d+\]:)[ \t]*)?(?:print\([ \t]*)?"
_ANSWER = r"\)?[ \t]*;?[ \t]*\n[ \t]*(?:Out\[\d+\]:[ \t]*)?['\"]?"
_REPL_VERSION = re.compile(
    _PROMPT
    + r"(?P<module>torch|torchvision|torchaudio)\.__version__"
    + _ANSWER
    + r"(?P<value>\d+\.\d+[\w.+-]*)['\"]?[ \t]*$",
    re.MULTILINE,
)
_REPL_AVAILABLE = re.compile(
    _PROMPT + r"torch\.cuda\.is_available\(\)" + _ANSWER + r"(?P<value>True|False)[ \t]*$", re.MULTILINE
)
_REPL_CUDA = re.compile(
    _PROMPT + r"torch\.version\.cuda" + _ANSWER + r"(?P<value>\d+\.\d+|None)['\"]?[ \t]*$", re.MULTILINE
)
# A program that prints what torch answered under a label of its own, and that label's line in its output:
# `print(f"GPUs: {torch.cuda.device_count()}")` or `print("GPUs:", torch.cuda.device_count())`, then "GPUs: 2".
# The program's own source says what the number is; only a line that is the label and a value counts.
_TORCH_EXPRESSIONS = {
    "cuda.device_count()": ("device_count", r"\d{1,3}"),
    "cuda.is_available()": ("cuda_available", r"True|False"),
    "__version__": ("version", r"\d+\.\d+[\w.+-]*"),
    "version.cuda": ("cuda", r"\d+\.\d+|None"),
}
_EXPRESSION = "|".join(re.escape(e) for e in _TORCH_EXPRESSIONS)
_LABELLED = re.compile(
    r"""\bf(?P<q>['"])(?P<flabel>[^'"{}\n]{1,60})\{[ \t]*torch\.(?P<fexpr>"""
    + _EXPRESSION
    + r""")[ \t]*\}[ \t]*(?:\\n)?(?P=q)"""
    + r"""|\bprint\([ \t]*(?P<q2>['"])(?P<plabel>[^'"\n]{1,60})(?P=q2)[ \t]*,[ \t]*torch\.(?P<pexpr>"""
    + _EXPRESSION
    + r""")[ \t]*\)"""
)
_LABELLED_LIMIT = 16
# `pip show <package>` prints these fields for every package it shows (pip/_internal/commands/show.py): a program's
# label spelled the same ("Version:") would read torchvision's "Version: 0.20.1" as torch's answer
_PIP_SHOW_FIELDS = frozenset({"name:", "version:", "location:", "requires:"})
# A line that names the operating system and nothing else, as people end an issue ("macOS 15.0", "OS: Windows
# 11", "macOS Sonoma 14.5"): which platform's wheels pip was choosing from. Only a whole line counts, so a
# sentence that mentions another machine does not.
_OS_LINE = re.compile(
    r"^[ \t]*(?:OS[ \t]*:[ \t]*)?(?:(?P<mac>macOS|Mac OS X|OS X)(?:[ \t]+[A-Z][a-z]+)?[ \t]+\d+(?:\.\d+){0,2}"
    r"|(?P<windows>Windows)[ \t]+(?:10|11)(?:[ \t]+(?:Pro|Home|Enterprise|Education))?)"
    r"(?:[ \t]*\((?P<machine>arm64|x86_64|AMD64)\))?[ \t]*$",
    re.MULTILINE,
)
# Launchers that print torch's own answers on start, each line as its source writes it, after any log prefix
# (a timestamp and a level: "2026-04-06 15:45:27,405 INFO "). ComfyUI (comfy/model_management.py, also run by
# Fooocus, Forge and SwarmUI's backends): logging.info("pytorch version: {}".format(torch.version.__version__)),
# and print("Device:", get_torch_device_name(...)), which for a CUDA device is "{device} {torch.cuda.
# get_device_name(device)} : {torch.cuda.get_allocator_backend()}": "Device: cuda:0 NVIDIA GeForce GTX 1070 :
# cudaMallocAsync" (the backend is "native" or "cudaMallocAsync", or empty where torch cannot say).
_LOG_PREFIX = r"^(?![ \t]*[-*+>][ \t])(?:[^\n]{0,80}?[ \t])?"  # a list item is someone's note, not the log
_LAUNCHER_TORCH = re.compile(
    _LOG_PREFIX + r"pytorch version:[ \t]*(?P<version>\d+\.\d+(?:\.\d+)?(?:(?:a|b|rc|\.dev)\d+)?(?:\+[\w.]+)?)[ \t]*$",
    re.MULTILINE,
)
_LAUNCHER_DEVICE = re.compile(
    _LOG_PREFIX
    + r"Device:[ \t]+cuda:(?P<index>\d{1,2})[ \t]+(?P<name>\S[^\n:]{0,80}?)[ \t]+:[ \t]*(?:native|cudaMallocAsync)?[ \t]*$",
    re.MULTILINE,
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
    extractors = (
        _python,
        _os_line,
        _repl,
        _launcher,
        _driver,
        _kernel_log,
        _gpus,
        _torch_install,
        _pip_torch,
        _device_banner,
        _no_torch,
        _toolkit,
        _environment,
        _container,
        _wsl,
        _shadowing,
    )
    for extract in extractors:
        found = extract(haystack, facts) or found
    return found


def _python(haystack: Haystack, facts: Facts) -> bool:
    text = haystack.text
    # every pattern below is tried only where a word it needs occurs: a substring test costs far less than a
    # regex attempt at each of a large report's line starts
    match = _PYTHON_VERSION.search(text) if ("Python" in text or "of binary:" in text) else None
    if not match:
        # every path into an interpreter's folders, when all name one version (two environments: unknown)
        paths = {m.group("version") for m in haystack.finditer(_PYTHON_PATHS)} if "/python3." in text else set()
        if len(paths) == 1:
            put(facts.system, "python_version", paths.pop())
        return False
    abi = match.group("abi")
    version = next((v for v in match.group("v1", "v2", "v3", "v4", "v5", "v6") if v), None)
    put(facts.system, "python_version", version or f"3.{abi}")
    return True


def _os_line(haystack: Haystack, facts: Facts) -> bool:
    """Record the OS a line names; never counts as recognising the report (a bare OS explains nothing)."""
    text = haystack.text
    match = _OS_LINE.search(text) if ("mac" in text or "OS X" in text or "Windows" in text) else None
    if not match:
        return False
    put(facts.system, "os", "Darwin" if match.group("mac") else "Windows")
    put(facts.system, "distro", match.group(0).strip().removeprefix("OS").lstrip(" \t:"))
    if match.group("machine"):
        put(facts.system, "machine", match.group("machine"))
    return False


def _repl(haystack: Haystack, facts: Facts) -> bool:
    """torch's own answers in an interactive session; the last one of each (the state after any change)."""
    text = haystack.text
    found = False
    versions: dict[str, str] = {}
    if "torch" not in text:
        return False
    for match in _REPL_VERSION.finditer(text) if "__version__" in text else ():
        versions[match.group("module")] = match.group("value")
    if "torch" in versions:
        put(facts.torch, "installed", True)
        put(facts.torch, "import_ok", True)  # it answered
        put(facts.torch, "version", versions.pop("torch"))
        found = True
    for name, version in versions.items():
        if facts.companion(name) is None:
            facts.companions.append(Package(name=name, version=version))
            found = True
    available = [m.group("value") for m in _REPL_AVAILABLE.finditer(text)] if "is_available()" in text else []
    if available:
        put(facts.torch, "cuda_available", available[-1] == "True")
        found = True
    found = _labelled(text, facts) or found
    cuda = [m.group("value") for m in _REPL_CUDA.finditer(text)] if "version.cuda" in text else []
    if cuda:
        put(facts.torch, "cuda", None if cuda[-1] == "None" else cuda[-1])
        found = True
    return found


def _launcher(haystack: Haystack, facts: Facts) -> bool:
    """The torch version and CUDA device a launcher printed on start (:data:`_LAUNCHER_TORCH`); the last start wins."""
    text = haystack.text
    found = False
    versions = [m.group("version") for m in _LAUNCHER_TORCH.finditer(text)] if "pytorch version:" in text else []
    if versions:
        put(facts.torch, "installed", True)
        put(facts.torch, "import_ok", True)  # it answered
        put(facts.torch, "version", versions[-1])
        found = True
    devices = list(_LAUNCHER_DEVICE.finditer(text)) if "Device: cuda:" in text else []
    if devices and not facts.gpus.devices:
        last = devices[-1]
        facts.gpus.devices = [Gpu(index=int(last.group("index")), name=last.group("name").strip(), source=SOURCE)]
        facts.gpus.sources["devices"] = SOURCE
        found = True
    return found


def _labelled(text: str, facts: Facts) -> bool:
    """torch's answers a program printed under its own labels (:data:`_LABELLED`); the last output line wins."""
    found = False
    sources = _LABELLED.finditer(text) if "torch." in text else iter(())
    for source in itertools.islice(sources, _LABELLED_LIMIT):  # each costs a pass over the text
        label = (source.group("flabel") or source.group("plabel") or "").strip()
        expression = source.group("fexpr") or source.group("pexpr")
        if not label or label.lower() in _PIP_SHOW_FIELDS:
            continue
        field, value = _TORCH_EXPRESSIONS[expression]
        output = re.compile(rf"^[ \t]*{re.escape(label)}[ \t]*(?P<value>{value})[ \t]*$", re.MULTILINE)
        answers = [m.group("value") for m in output.finditer(text)]
        if not answers:
            continue
        answer = answers[-1]
        if field == "device_count":
            put(facts.torch, "device_count", int(answer))
        elif field == "cuda_available":
            put(facts.torch, "cuda_available", answer == "True")
        elif field == "cuda":
            put(facts.torch, "cuda", None if answer == "None" else answer)
        else:
            put(facts.torch, "version", answer)
        if field != "cuda":
            put(facts.torch, "installed", True)
            put(facts.torch, "import_ok", True)  # it answered
        found = True
    return found


def _kernel_log(haystack: Haystack, facts: Facts) -> bool:
    """Xid lines, one per number: what the driver said failed (gpu.hardware-fault reads the numbers)."""
    text = haystack.text
    seen: set[str] = set()
    if "NVRM: Xid" not in text:
        return False
    for match in _XID_LINE.finditer(text):
        number = match.group("number")
        if number in seen:
            continue
        seen.add(number)
        facts.gpus.errors.append("kernel log: " + " ".join(match.group(0).split())[:300])
        if len(seen) >= _XID_KEEP:
            break
    return bool(seen)


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
    installed = _DPKG_DRIVER.search(text) if "ii " in text else None
    if installed:
        put(driver, "userspace", installed.group("version"))
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
        ] or _collective_test_gpus(haystack)
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
        archs = supported.group("archs").split()
        if not haystack.text[supported.end() :].strip():  # the paste ends inside the list: its last entry may be cut
            archs = archs[:-1]
        if archs:
            put(facts.torch, "arch_list", archs)
            found = True
    return found


def _collective_test_gpus(haystack: Haystack) -> list[Gpu]:
    """The GPUs an nccl-tests/rccl-tests run listed on its first host (a multi-node run lists every node's GPUs,
    and the report's facts are one machine's)."""
    if "Pid" not in haystack.text:
        return []
    rows = list(haystack.finditer(_COLLECTIVE_TEST_ROW))
    first = rows[0].group("host") if rows else None
    return _unique(
        [
            Gpu(index=int(r.group("index")), name=r.group("name"), source=SOURCE)
            for r in rows
            if r.group("host") == first
        ]
    )


def _pip_lines(haystack: Haystack) -> Iterator[re.Match[str]]:
    """The matches of :data:`_PIP_LIST` that only blanks precede on their line, outside a resolver's list of versions."""
    text = haystack.text
    for match in haystack.finditer(_PIP_LIST):
        start = match.start()
        if not text[text.rfind("\n", 0, start) + 1 : start].strip(" \t") and not installer.in_version_list(text, start):
            yield match


def _unique(gpus: list[Gpu]) -> list[Gpu]:
    seen: dict[int, Gpu] = {}
    for gpu in gpus:
        seen.setdefault(gpu.index, gpu)
    return list(seen.values())


def _clean_name(name: str) -> str:
    """What precedes "with CUDA capability": drop a warning's prefix and quoting, keep the GPU name."""
    name = re.sub(r"^.*?(UserWarning|Warning|warn)\W*", "", name.strip())
    return name.lstrip("-*+ \t").strip(" \t'\"`>")  # a Markdown bullet, then quoting: "- `NVIDIA ..."


def _gpu_named(facts: Facts, name: str, capability: str, index: int | None = None) -> None:
    """Give the GPU called ``name`` its compute capability, adding it if the report listed no such GPU."""
    devices = facts.gpus.devices
    if len(devices) >= MAX_GPUS:  # more than a machine holds: each new name would cost a pass over them all
        return
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


def _pip_torch(haystack: Haystack, facts: Facts) -> bool:
    """What pip said about torch: "Found existing installation: torch 2.4.1" (before it changed anything),
    "Successfully installed ... torch-2.5.1 ..." (after); the last statement is the present state."""
    text = haystack.text
    said = (
        [(m.start(), m.group("version")) for m in _PIP_FOUND_TORCH.finditer(text)]
        if "installation: torch" in text
        else []
    )
    if "Successfully installed" in text:
        said += [(m.start(), m.group("version")) for m in _PIP_INSTALLED_TORCH.finditer(text)]
    if not said:
        return False
    put(facts.torch, "installed", True)
    put(facts.torch, "version", max(said)[1])
    # pip's summary names every distribution it installed as "<name>-<version>" (pip/_internal/commands/install.py):
    # the torchvision and torchaudio installed with this torch are on the same line
    installed = _PIP_INSTALLED_TORCH.search(text, max(said)[0]) if "Successfully installed" in text else None
    if installed is not None and installed.start() == max(said)[0]:
        end = text.find("\n", installed.start())
        line = text[installed.start() : end if end >= 0 else len(text)]
        for name, version in _PIP_INSTALLED_COMPANION.findall(line):
            if facts.companion(name) is None:
                facts.companions.append(Package(name=name, version=version))
    found = [m.group("version") for m in _PIP_FOUND_TORCH.finditer(text)] if "installation: torch" in text else []
    if found and found[0] != facts.torch.version:  # the torch there before pip changed anything
        put(facts.torch, "replaced", found[0])
    return True


def _device_banner(haystack: Haystack, facts: Facts) -> bool:
    """The versions a program's device banner printed ("Python-3.10.5 torch-2.2.1+cpu", _DEVICE_BANNER).

    The banner prints once per run, and a log reads in the order it was printed: where a paste holds several (a run
    that worked, then one after an upgrade), the last is the environment the latest run had.
    """
    banners = list(_DEVICE_BANNER.finditer(haystack.text)) if " torch-" in haystack.text else []
    banner = banners[-1] if banners else None
    if banner is None:
        return False
    put(facts.system, "python_version", banner.group("python"))
    put(facts.torch, "installed", True)
    put(facts.torch, "version", banner.group("torch"))
    return True


def _no_torch(haystack: Haystack, facts: Facts) -> bool:
    """The program's Python has no torch (unless the report already showed one installed)."""
    text = haystack.text
    missing = _NO_TORCH.search(text) if "No module named" in text else None
    if missing is None:
        return False
    put(facts.torch, "installed", False)
    if facts.torch.installed is False:
        line = " ".join(missing.group(0).split())
        if _NOTEBOOK_TRACEBACK.search(text):  # IPython's traceback frames: the error came from a notebook kernel
            line += " (raised in an IPython/Jupyter kernel)"
        facts.torch.errors.append(line)
    return True


def _toolkit(haystack: Haystack, facts: Facts) -> bool:
    """`nvcc --version` (the toolkit on PATH, which builds extensions); cpp_extension's mismatch message."""
    return _nvcc(haystack, facts) | _extension_mismatch(haystack, facts)


def _nvcc(haystack: Haystack, facts: Facts) -> bool:
    text = haystack.text
    release = _NVCC_RELEASE.search(text) if "Cuda compilation tools" in text else None
    if not release:
        return False
    put(facts.toolkit, "version", release.group("version"))
    put(facts.toolkit, "found_by", "nvcc on PATH")
    return True


def _extension_mismatch(haystack: Haystack, facts: Facts) -> bool:
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
    text = haystack.text
    override = _HSA_OVERRIDE.search(text) if "HSA_OVERRIDE_GFX_VERSION" in text else None
    if override and "HSA_OVERRIDE_GFX_VERSION" not in env:
        env["HSA_OVERRIDE_GFX_VERSION"] = override.group("value")
        found = True
    order = _DEVICE_ORDER.search(text) if "CUDA_DEVICE_ORDER=" in text else None
    if order and "CUDA_DEVICE_ORDER" not in env:
        env["CUDA_DEVICE_ORDER"] = order.group("value")
        found = True
    for nccl in _NCCL_ENV.finditer(text) if "set by environment" in text else ():
        env.setdefault(nccl.group("name"), nccl.group("value"))
        found = True
    ld = haystack.search(_LD_ASSIGN) or haystack.search(_LD_ECHO)
    if ld and "LD_LIBRARY_PATH" not in env:
        env["LD_LIBRARY_PATH"] = ld.group("value").strip().strip("'\"")
        found = True
    if found:
        facts.system.sources.setdefault("env", SOURCE)
    return found


def _wsl(haystack: Haystack, facts: Facts) -> bool:
    """WSL2's kernel release as `uname -r`/`-a` prints it ("5.15.153.1-microsoft-standard-WSL2"), or its driver
    directory /usr/lib/wsl/lib (which exists only there): the report comes from WSL."""
    text = haystack.text
    if "microsoft-standard" not in text and "/usr/lib/wsl/" not in text:
        return False
    if not (_WSL_KERNEL.search(text) or "/usr/lib/wsl/lib" in text):
        return False
    put(facts.system, "wsl", True)
    return True


def _container(haystack: Haystack, facts: Facts) -> bool:
    """NVIDIA's images print a banner on start; its presence says the report came from inside one. A
    `docker run` / `docker exec` command line says the same of what it printed."""
    text = haystack.text
    if "docker" in text and _DOCKER_COMMAND.search(text):
        put(facts.system, "container", "docker")
    if not haystack.search(_CONTAINER_BANNER):
        return False
    if "docker" in text.lower():  # the banner alone does not say which runtime started the image
        put(facts.system, "container", "docker")
    shm = re.search(r"SHMEM allocation limit is set to the default of (?P<mb>\d+)MB", text)
    if shm:
        put(facts.system, "shm_total_bytes", int(shm.group("mb")) << 20)
    return True


def _shadowing(haystack: Haystack, facts: Facts) -> bool:
    """A standard-library module or a known package that Python imported from a file outside its own folders."""
    text = haystack.text
    found = False
    known = {(s.name, s.path) for s in facts.system.shadowed_modules}
    patterns = [
        p
        for p, word in ((_IMPORTED_FROM, "cannot import name"), (_IMPORT_FRAME, 'File "'), (_RELATIVE_FRAME, 'File "'))
        if word in text
    ]
    for pattern in patterns:
        for match in pattern.finditer(text):
            name = match.group("module").split(".")[0]
            path = match.group("path").strip()
            if name not in _STDLIB and name not in _PACKAGES:
                continue
            if _PYTHON_OWN.search(path) or not _names_module(path, name):
                continue
            if (name, path) not in known:
                known.add((name, path))
                facts.system.shadowed_modules.append(ShadowedModule(name=name, path=path))
                facts.system.sources.setdefault("shadowed_modules", SOURCE)
                found = True
    if 'File "' in text and "_C" in text and _NO_TORCH_C.search(text):
        for match in _TORCH_FRAME.finditer(text):
            path = match.group("path").strip()
            if not _PYTHON_OWN.search(path) and ("torch", path) not in known:
                known.add(("torch", path))
                facts.system.shadowed_modules.append(ShadowedModule(name="torch", path=path))
                facts.system.sources.setdefault("shadowed_modules", SOURCE)
                found = True
    return found


def _names_module(path: str, name: str) -> bool:
    """``path`` is the module's own file: name.py, or name/__init__.py."""
    parts = re.split(r"[/\\]", path)
    return parts[-1] == f"{name}.py" or (parts[-1] == "__init__.py" and len(parts) > 1 and parts[-2] == name)
