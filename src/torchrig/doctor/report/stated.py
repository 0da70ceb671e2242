"""What a reporter *states* about their machine, in their own words or in an issue template -> Facts.

The other readers take only what a program printed. People often describe their environment
instead, and this reader records what they state, each value with the source ``stated`` (a render
can say "the report states ..."):

- issue-template and Markdown fields, one per line: "- PyTorch Version (e.g., 1.0): 1.4",
  "- CUDA/cuDNN version: 10.1", "- GPU models and configuration: 2x GTX 1080 Ti", "Driver Version:
  535", "- **GPUs**: 2x NVIDIA RTX 5880 Ada Generation (48 GB, SM 8.9)", "- **NCCL**: 2.25.1",
  "- How you installed PyTorch (`conda`, `pip`, source): pip", "- OS (e.g., Linux): Ubuntu 18.04"; and a
  label alone on its line with the answer on the next, as GitHub issue forms render a field ("### Python
  version\n\n3.10") and people number theirs ("5. Torch version\n2.0.1+cu117");
- version tokens in prose: "torch2.6.0+cu124", "torch==2.5.1", "PyTorch 1.13.1", "cuda12.6",
  "CUDA 11.8", "driver 535.104.05", "Python 3.10", "Windows 11", "WSL2", "Ubuntu 22.04", and the ROCm
  release ("ROCm 6.1.2", recorded as the companion ``rocm``, as NCCL is, never as torch's HIP build);
- torch's answer told in a sentence of any language: "torch.cuda.is_available() returns True",
  "torch.cuda.is_available()返回为True" (True only; a False told in words is the failure the report is
  about, in ``Facts.failures``, not a fact for a check to find an error on);
- GPU models the table ``knowledge/gpus.toml`` knows, as words ("Tesla T4", "RTX 3090", "A100",
  with a count "2x", "8 x"), never inside a path or URL; the compute capability then comes from the
  table, as for collect_env; where no model is named, a GeForce generation ("RTX 50 series", "GTX 10-series") as one
  GPU with the capability all its desktop models share;
- "NVCC: 13.3.33" and "CUDA_HOME: <path>" fields (the compiler names the toolkit), and the CUDA torch was built with
  in words ("the PyTorch environment was built for CUDA 12.9": torch's, not a toolkit);
- the context: Kubernetes (``kubectl`` output naming ``nvidia.com/gpu``), a Jetson (``tegrastats``
  and ``jtop`` fields, JetPack / L4T releases), WSL (its driver is the Windows host's); a machine
  described as having no GPU ("a laptop without any CUDA GPUs") makes the report read, and is recorded
  nowhere (see below: an absence is never a fact).

Rules that keep a statement from turning into a false fact:

- The readers of printed output run first and win (``put`` never overwrites): a template field the
  collect_env reader took, or a driver nvidia-smi printed, is not read again here.
- A field wins over prose; in prose, every mention must agree ("torch 2.1" and "torch 2.1.0+cu121"
  agree; "torch2.6.0+cu124 ... upgrade to torch2.6.0+cu126?" does not): otherwise the value stays
  unknown, and the section's ``errors`` say what the report states ("CUDA 13.0 (host), 12.8
  (container runtime)" is two values, not one).
- A statement never records an absence: not "torch is not installed", not "a CPU build" ("+cpu" is
  dropped from a stated version unless the report shows torch itself answering that it has no CUDA:
  "Torch not compiled with CUDA enabled", ``torch.cuda.is_available()`` False), not "no GPU". Placeholders left unfilled ("PyTorch Version (e.g.,
  1.0):" with nothing after it) say nothing.
- A version asked for is not the one that runs: a torch version on an install command's line or in an
  installer's "could not find ... torch==2.3.0" is not read (report/tried.py reads those commands).

Searches run over the folded text (one lowered copy, same offsets), each only where its key word
occurs, with patterns that fail within their line (no nested repeats): a 16 MiB report costs one
pass per pattern. At most :data:`_MAX_MENTIONS` mentions of each kind are read, in the first MiB of the
report (:data:`_READ_LIMIT`: a larger paste is a log, not someone's description of their machine).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

from torchrig._core import prose
from torchrig._core.prefilter import Haystack
from torchrig.doctor.facts import Facts, Gpu, Package, Section
from torchrig.doctor.report import installer
from torchrig.knowledge import gpu_models, minor_of, variant_cuda

SOURCE = "stated"
_MAX_MENTIONS = 200  # mentions of one kind read from prose: enough for any issue, bounded for a flood
# People describe their machine in an issue's first lines; a larger paste is a log, whose statements (if any)
# are read in its first MiB. The bound keeps a 16 MiB report's cost to that of 1 MiB of prose.
_READ_LIMIT = 1 << 20
_MAX_GPUS = 64  # a count larger than one machine's is not a count ("256x" is a batch size)

# --- fields: "key: value" on a line of its own (list bullets and Markdown bold allowed) -----------------
_KEYS = {
    "pytorch version": "torch",
    "torch.version.cuda": "torch-cuda",
    "torch.__version__": "torch",
    "pytorch": "torch",
    "torch version": "torch",
    "torch": "torch",
    "cuda": "cuda",
    "cuda version": "cuda",
    "cuda toolkit": "cuda",
    "cuda toolkit version": "cuda",
    "cuda/cudnn version": "cuda/cudnn",
    "cuda/cudnn": "cuda/cudnn",
    "driver": "driver",
    "driver version": "driver",
    "nvidia driver": "driver",
    "nvidia driver version": "driver",
    "gpu driver": "driver",
    "gpu driver version": "driver",
    "gpu": "gpu",
    "gpus": "gpu",
    "gpu model": "gpu",
    "gpu models": "gpu",
    "gpu models and configuration": "gpu",
    "gpu type": "gpu",
    "graphics card": "gpu",
    "graphics": "gpu",
    "video card": "gpu",
    "hardware": "gpu",
    "python": "python",
    "python version": "python",
    "os": "os",
    "operating system": "os",
    "platform": "os",
    "nvcc": "nvcc",
    "nvcc version": "nvcc",
    "cuda_home": "cuda_home",
    "nccl": "nccl",
    "nccl version": "nccl",
    "how you installed pytorch": "installer",
    "how you installed pytorch/torch": "installer",
    "container": "container",
    "docker": "container",
}
# Searched for the key, not from each line's start; _begins_line() then checks that only a bullet
# and bold marks precede it on its line. The alternatives are flat so the engine skips to their first letters.
_FIELD = re.compile(
    r"(?P<key>"
    + "|".join(re.escape(k).replace("\\ ", " +") for k in sorted(_KEYS, key=len, reverse=True))
    + r")(?:\*\*|__)?[ \t]?(?:\([^()\n]{0,80}\))?(?:\*\*|__)?[ \t]?:(?:\*\*|__)?[ \t]*(?P<value>[^\n]*)"
)
# GitHub issue forms render each field as a heading with the answer below it ("### Python version\n\n3.10"), and
# people number their own ("5. Torch version\n2.0.1+cu117"): a label alone on its line (a translation after "|"
# allowed: "### Python version | Python 版本"), the answer on the next line that is not blank.
_FORM_FIELD = re.compile(
    r"^(?:#{1,6}|\d{1,2}\.)[ \t]+(?P<key>"
    + "|".join(re.escape(k).replace("\\ ", " +") for k in sorted(_KEYS, key=len, reverse=True))
    + r")[ \t]*(?:\([^()\n]{0,80}\))?[ \t]*(?:\|[^\n]{0,80})?\n(?:[ \t]*\n){0,2}(?P<value>[^\n#`][^\n]{0,120})$",
    re.MULTILINE,
)
_BULLET = re.compile(r"[ \t]*(?:[-*+][ \t]+|\d{1,2}\.[ \t]+)?(?:\*\*|__)?[ \t]*")

_VERSION = re.compile(r"(?<![\w.])v?(\d{1,4}\.\d{1,4}(?:\.\d{1,6})*)(?!\.?\w)")
_TORCH_VALUE = re.compile(
    r"(?:py)?(?:torch)?[ \t=v]*(?P<version>\d{1,3}\.\d{1,3}(?:\.\d{1,3})?)(?P<local>[ \t]?\+[ \t]?(?:cu\d{2,3}|cpu|rocm\d+(?:\.\d+)*))?\b"
)
_DRIVER_VALUE = re.compile(r"(?<![\w.])[rv]?(?P<version>\d{3}(?:\.\d{1,3}){0,2})(?!\.?\w)")
_PYTHON_VALUE = re.compile(r"(?<![\w.])(?P<version>[23]\.\d{1,2}(?:\.\d{1,2})?)(?!\.?\w)")
_NULL = re.compile(r"^[ \t`*_]*(?:n/?a|none|no|unknown|not (?:installed|applicable|available)|-+|\?+)?[ \t`*_.]*$")

# --- prose tokens (on the folded text) ----------------------------------------------------------------------
# Each begins with its word, so the engine can skip to it; that the word starts a word (not "libtorch", not
# ".../cuda-12.1") is checked after the match (_WORDISH must not precede it).
_WORDISH = re.compile(r"[\w./\\-]")
# "torch2.6.0+cu124", "torch==2.5.1", "torch 2.1", "pytorch 1.13.1", "pytorch v2.0", "torch-2.1.0+cu118" (a wheel)
_TORCH_TOKEN = re.compile(
    r"(?:py)?torch(?:[ \t]+version)?(?:[ \t]*(?:==|:|=)[ \t]*|[ \t]+v?|-|v|(?=\d))(?P<version>\d{1,3}\.\d{1,3}(?:\.\d{1,3})?)"
    r"(?P<local>[ \t]?\+[ \t]?(?:cu\d{2,3}|cpu|rocm\d+(?:\.\d+)*))?(?!\.?\w)"
)
# A line that asks for a version: an install command ("pip install torch==2.3.0", "uv add torch"), or an
# installer saying it could not have it ("Could not find a version that satisfies the requirement torch==2.3.0",
# "No matching distribution found for torch==2.3.0", uv's "Distribution `torch==2.5.1 ...` can't be installed").
_REQUEST = re.compile(
    r"\b(?:pip3?|conda|mamba|micromamba|uv|poetry|pixi)\b[^\n]*\b(?:install|add)\b|requirement|matching distribution"
    r"|can'?t be installed|cannot be installed"
)
# "cuda12.6", "CUDA 11.8", "CUDA version 12.1", "CUDA Toolkit 12.4", "cuda-12.4" (not "cuda:0", not paths)
_CUDA_TOKEN = re.compile(
    r"cuda(?:[ \t]+toolkit)?(?:[ \t]+version)?(?:[ \t]?[:=]?[ \t]*v?|-)(?P<version>\d{1,2}\.\d)(?:\.\d{1,3})?(?!\.?\w)"
)
# "driver 535.104.05", "driver version 550.54", "driver is 470.82.01": a version of the driver's form
_DRIVER_TOKEN = re.compile(
    r"driver(?:[ \t]+version)?(?:[ \t]+(?:is|of))?[ \t]*[:=]?[ \t]*[rv]?(?P<version>\d{3}\.\d{1,3}(?:\.\d{1,3})?)(?!\.?\w)"
)
# "python 3.10.5", "Python version: 3.12", and Python 2's last line, "python 2.7.12" (PEP 373), which torch supported
# up to 1.4 (its release notes: "the last release that supports Python 2"). A full stop that ends the sentence
# ("python2.7.12.Thanks") ends the version when it has all three parts; "3.10.5.1" or "3.1x" is no Python version.
_PYTHON_TOKEN = re.compile(
    r"python(?:[ \t]+version)?(?:[ \t]*[:=][ \t]*|[ \t]*)v?"
    r"(?P<version>(?:3\.\d{1,2}|2\.7)(?:\.\d{1,2}(?=\.[a-z])|(?:\.\d{1,2})?(?!\.?\w)))"
)
_NCCL_TOKEN = re.compile(r"nccl(?:[ \t]+version)?[ \t]*[:=]?[ \t]*v?(?P<version>2\.\d{1,2}\.\d{1,2})(?!\.?\w)")
# "ROCm 6.1.2", "rocm v5.7", "ROCm version 6.0": the AMD stack the machine runs, recorded as the companion "rocm"
# (as NCCL is), never as torch's HIP build: "torch ... +rocm6.1" is the torch token's, and nothing here says
# which ROCm torch was built for.
_ROCM_TOKEN = re.compile(r"rocm(?:[ \t]+version)?[ \t]*[:=]?[ \t]*v?(?P<version>\d\.\d{1,2}(?:\.\d{1,2})?)(?!\.?\w)")
# torch's answer as a sentence tells it, in any language: "torch.cuda.is_available() returns `True`",
# "torch.cuda.is_available()返回为True", "torch.cuda.is_available() is False". The words between are a verb at most
# (no line end, no sentence end); a wish or a condition around it ("should return True", "expected: ... True",
# "make sure ... returns True", "if ... is False") states no answer (_NOT_AN_ANSWER).
_AVAILABLE_SAID = re.compile(
    r"torch\.cuda\.is_available\(\)[`'\"]?(?P<gap>[^\n.;!?。；！？`'\"]{0,24}?)[`'\"]?(?P<value>true|false)(?![\w])"
)
_NOT_AN_ANSWER = re.compile(
    prose.CONDITION_WORDS + r"|\b(?:not|never|should|would|could|must|expect\w*|want\w*|hope\w*|suppos\w*|until"
    r"|instead|make|ensure|need\w*|try\w*)\b|n't|不|没|沒|应|應|期望|希望|确保|確保|应该|需要"
)
_ANSWER_LOOK_BACK = 60  # characters before the call in which a wish or condition would govern it
# Apple silicon (Apple's M-series chips) names a Mac: Apple ships them only in Macs, which run macOS
_OS_TOKEN = re.compile(
    r"(?P<os>windows(?:[ \t]+(?:10|11|server))?|wsl2?|macos|mac[ \t]+os(?:[ \t]+x)?"
    r"|apple[ \t]+silicon|apple[ \t]+m[1-9](?:[ \t]+(?:pro|max|ultra))?"
    r"|ubuntu(?:[ \t]+\d{2}\.\d{2})?|debian|centos|rocky[ \t]+linux|fedora|arch[ \t]+linux|red[ \t]+hat|rhel)(?![\w-])"
)
# GPU models: brand words (any case) or datacenter codes as written (upper case: "A100", "T4", "H100"),
# preceded by nothing a path, URL or identifier would put there (ASCII only: Chinese and Japanese prose puts
# no blank between words, "使用的设备为RTX 4090"); an "Nx" count may come first. People often write the GeForce
# brand and the model number as one word ("RTX4060", "GTX1080Ti"): there the number may follow "rtx"/"gtx" directly.
# A datacenter code in lower case counts only where the word GPU or card follows it ("I have p40 GPUs", "a100 gpu"):
# alone, "t5", "v2" or "p100" in prose are as often models, versions or percentiles.
_GPU_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_/.=?&#@%-])(?:(?P<count>[1-9]\d?)[ \t]?[x×*][ \t]?)?"
    r"(?P<name>(?i:nvidia|geforce|tesla|quadro|titan|jetson|rtx|gtx)|[AHBLVPKMT]\d{1,4}|G[HB]\d{3}"
    r"|[ahblvpkmt]\d{1,4}(?=[ \t]?(?i:gpus?|cards?)\b))(?![\w-]*[/\\])"
    r"(?:\b|(?<=[xX])(?=\d{3,4}))"
)
# (CJK characters and full-width punctuation end a name too: "RTX 3090，训练时报错")
_GPU_STOP = re.compile(
    r"[,;()\[\]|`\"'\u3000-\u30ff\u4e00-\u9fff\uac00-\ud7af\uff01-\uff0f\uff1a-\uff20]"
    r"|[ \t](?:and|or|vs\.?|&|\+|with|on|in|for|to)[ \t]|\s{2,}|\n|\.(?:\s|$)"
)
_GPU_WINDOW = 80
# A machine described as having no GPU: a machine word, then "without"/"with no"/"has no" (an article, a kind of GPU),
# or "CPU-only" before a machine word. Not torch's "No CUDA GPUs are available" (no machine word: an error, read
# elsewhere) and not "no GPU found" (what a program answered, not what the machine is).
_MACHINE = r"(?:laptop|machine|computer|pc|server|system|node|box|host|vps|notebook|macbook|mac|workstation)s?"
_NO_GPU_MACHINE = re.compile(
    rf"\b{_MACHINE}[ \t]+(?:without|with[ \t]+no|that[ \t]+has[ \t]+no|has[ \t]+no|lacking)[ \t]+(?:an?[ \t]+|any[ \t]+)?"
    rf"(?:(?:cuda|nvidia|dedicated|discrete)[ \t-]+)?(?:capable[ \t]+)?gpus?\b|\bcpu[ \t-]+only[ \t]+{_MACHINE}\b"
)
# Intel's graphics named as the machine's: "Intel UHD Graphics 630", "Intel(R) Iris(R) Xe Graphics", "Intel's integrated
# graphics", "integrated (Intel HD) graphic card"
_INTEL_GRAPHICS = re.compile(
    r"\bintel(?:\(r\))?(?:'s)?[ \t]+(?:(?:uhd|hd|iris(?:\(r\))?|xe|plus|pro|integrated|arc(?:\(tm\))?)[ \t]+){0,3}graphics?\b"
    r"|\bintegrated[ \t]+\(?intel(?:\(r\))?(?:[ \t]+u?hd)?\)?[ \t]+graphics?\b"
)
# Kubernetes: kubectl's output or a pod spec with the device plugin's resource
_KUBERNETES = re.compile(r"(?<![\w.-])nvidia\.com/gpu(?=[\"']?[ \t]*:)|^[ \t$#>]*kubectl[ \t]", re.MULTILINE)
# Jetson: tegrastats lines ("RAM 1745/3964MB ... GR3D_FREQ 0%"), jtop's fields, JetPack / L4T releases, also as
# jetson-containers prints them (its autotag and build.py: print(f"-- L4T_VERSION={L4T_VERSION}  JETPACK_VERSION=...")),
# a JetPack release given as a bound ("JetPack<6", "JetPack >= 5.1"): JetPack exists only for Jetson modules; and a
# Jetson module by its product name (NVIDIA's Jetson family: Nano, TX1/TX2, Xavier NX/AGX Xavier, Orin, Thor; "Jetson NX"
# for the Xavier or Orin NX). "JetPack" and "Jetson" are bounded by ASCII only: in Chinese prose the character before it is a word character ("我的Xavier是JETPACK5.1.5")
_JETSON = re.compile(
    r"\bgr3d_freq\b|\bjetson_clocks\b|\bnvp[ \t]?model\b|(?<![a-z0-9_])jetpack(?:[ \t]*(?:[<>]=?|=)?[ \t]*|_version[ \t]*[:=][ \t]*)\d"
    r"|\bl4t(?:[ \t]*r?|_version[ \t]*[:=][ \t]*)\d{2}|\btegrastats\b|\bjtop\b"
    r"|(?<![a-z0-9_])jetson[ \t-]+(?:nano|tx[12]|(?:agx[ \t-]+)?xavier|(?:agx[ \t-]+)?orin|agx|nx|thor)(?![a-z0-9_])"
)


def read(haystack: Haystack, facts: Facts) -> bool:
    """Record what the report states; True if it states something a check can use (not only an OS or Python)."""
    if len(haystack.text) > _READ_LIMIT:
        haystack = Haystack(haystack.text[: haystack.text.rfind("\n", 0, _READ_LIMIT) + 1 or _READ_LIMIT])
    fields = _fields(haystack)
    _torch(facts, haystack, fields)
    _cuda(facts, haystack, fields)
    _driver(facts, haystack, fields)
    _gpus(facts, haystack, fields)
    _python(facts, haystack, fields)
    _os(facts, haystack, fields)
    _nccl(facts, haystack, fields)
    rocm = _rocm(facts, haystack)
    _cuda_available(facts, haystack)
    _installer(facts, haystack, fields)
    _context(facts, haystack, fields)
    torch, system = facts.torch, facts.system
    usable = (
        _said(torch, "version"),
        _said(torch, "cuda"),
        _said(torch, "cuda_available"),
        rocm,
        _said(facts.toolkit, "version"),
        _said(facts.driver, "userspace"),
        any(gpu.source == SOURCE for gpu in facts.gpus.devices),
        _said(system, "jetson"),
        _said(system, "container"),
        # not only an OS: under WSL the driver is the Windows host's (queries.uses_windows_driver)
        _said(system, "wsl"),
    )
    return any(usable) or _states_a_machine_without_gpu(haystack) or _names_intel_graphics(haystack)


def _states_a_machine_without_gpu(haystack: Haystack) -> bool:
    """The reporter describes the machine as one without a GPU ("a laptop without any CUDA GPUs", "a CPU-only
    server"): a stated configuration, so the report is read; recorded nowhere (an absence is never a fact here)."""
    folded = haystack.folded
    if "gpu" not in folded and "cpu" not in folded:
        return False
    return _NO_GPU_MACHINE.search(folded) is not None


def _names_intel_graphics(haystack: Haystack) -> bool:
    """The reporter names the machine's Intel graphics ("Intel Integrated Graphics", "intel(R) UHD Graphics 630", "an
    integrated (Intel HD) graphic card"): a stated configuration, so the report is read. CUDA runs only on NVIDIA GPUs
    (CUDA Installation Guide, "a CUDA-capable GPU"), so such a machine's answer is the CPU; recorded nowhere, since the
    words do not say the machine has no other GPU."""
    folded = haystack.folded
    if "graphic" not in folded or "intel" not in folded:
        return False
    return _INTEL_GRAPHICS.search(folded) is not None


def _said(section: Section, name: str) -> bool:
    return section.sources.get(name) == SOURCE


def _put(section: Section, name: str, value: object) -> None:
    """Record a stated value unless any reader already gave the field (even as None)."""
    if name in section.sources or getattr(section, name) not in (None, [], {}):
        return
    setattr(section, name, value)
    section.sources[name] = SOURCE


def _note(section: Section, what: str, values: Iterable[str]) -> None:
    section.errors.append(
        f"the report states {what} {' and '.join(dict.fromkeys(values))}; which one applies is not clear"
    )


# --- fields ------------------------------------------------------------------------------------------------


def _fields(haystack: Haystack) -> dict[str, list[str]]:
    """Each field kind -> the values of its lines (as written), in order."""
    folded, text = haystack.folded, haystack.text
    out: dict[str, list[str]] = {}
    seen = 0
    for match in _FIELD.finditer(folded):
        if not _begins_line(folded, match.start()):
            continue
        kind = _KEYS[" ".join(match.group("key").split())]
        value = text[match.start("value") : match.end("value")].strip().strip("*_`'\"").strip()
        if value and not _NULL.match(value):
            out.setdefault(kind, []).append(value)
        seen += 1
        if seen >= _MAX_MENTIONS:
            break
    for n, match in enumerate(_FORM_FIELD.finditer(folded) if "\n" in folded else ()):
        if n >= _MAX_MENTIONS:
            break
        kind = _KEYS[" ".join(match.group("key").split())]
        value = text[match.start("value") : match.end("value")].strip().strip("*_`'\"").strip()
        if value and not _NULL.match(value):
            out.setdefault(kind, []).append(value)
    return out


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _agreeing(values: list[str]) -> str | None:
    """The most specific of ``values`` if every other one is a prefix of it ("2.1" of "2.1.0+cu121"), else None."""
    if not values:
        return None
    best = max(values, key=len)
    for value in values:
        base, _, local = value.partition("+")
        best_base, _, best_local = best.partition("+")
        if local and not best_local.startswith(local):  # "+cu13" is "+cu130" cut short
            return None
        if not (best_base == base or best_base.startswith(base + ".")):
            return None
    return best


def _mentions(haystack: Haystack, pattern: re.Pattern[str], word: str) -> Iterator[re.Match[str]]:
    """Matches of ``pattern`` in the folded text outside paths and URLs, at most :data:`_MAX_MENTIONS`."""
    folded = haystack.folded
    if word not in folded:
        return
    for n, match in enumerate(pattern.finditer(folded)):
        if n >= _MAX_MENTIONS:
            return
        at = match.start()
        if (
            not (at and _WORDISH.match(folded, at - 1))
            and not _in_path(folded, at)
            and not _LABEL.match(folded, match.end())
        ):
            yield match


# The rest of a template's label left empty: "WSL version (if applicable):" names no WSL, "OS:" no OS. A clause
# after a comma is a sentence going on, no label ("python 2.7.12, when I import torch I get this error:").
_LABEL = re.compile(r"[^\n:,]{0,60}:[ \t*_`]*(?:\n|\Z)")
_LOOK_BACK = 200  # characters looked at before a match (a bound: a 16 MiB line must not be rescanned per match)


def _begins_line(text: str, at: int) -> bool:
    """Only a list bullet, bold marks and blanks precede ``at`` on its line."""
    begin = text.rfind("\n", max(0, at - _LOOK_BACK), at) + 1
    if begin == 0 and at > _LOOK_BACK:
        return False
    return _BULLET.fullmatch(text, begin, at) is not None


def _in_path(text: str, at: int) -> bool:
    """The whitespace-separated chunk before ``at`` is part of a path or a URL (it holds "/" or "\\")."""
    low = max(0, at - _LOOK_BACK)
    begin = max(text.rfind(" ", low, at), text.rfind("\n", low, at), text.rfind("\t", low, at)) + 1
    if begin == 0 and at > _LOOK_BACK:
        return True  # no blank in the last _LOOK_BACK characters: not prose
    chunk = text[begin:at]
    return "/" in chunk or "\\" in chunk


# --- each fact ---------------------------------------------------------------------------------------------


def _torch(facts: Facts, haystack: Haystack, fields: dict[str, list[str]]) -> None:
    torch = facts.torch
    cuda = _distinct(m.group(1) for v in fields.get("torch-cuda", []) for m in [_VERSION.match(v)] if m)
    if not cuda:  # "the PyTorch environment was built for CUDA 12.9"
        cuda = _distinct(m.group("version") for m in _torch_cuda_mentions(haystack))
    if len(cuda) == 1:  # print("torch.version.cuda:", torch.version.cuda)
        _put(torch, "cuda", minor_of(cuda[0]))
    if torch.version or "version" in torch.sources or torch.installed is False:
        return  # a torch printed as absent ("PyTorch version: N/A") has no version, whatever the prose wants
    said = [m for m in (_TORCH_VALUE.match(v) for v in fields.get("torch", [])) if m]
    if not said:
        said = [m for m in _mentions(haystack, _TORCH_TOKEN, "torch") if not _asks_for(haystack.folded, m.start())]
    if not said:
        said = [m for m in _bare_torch_versions(haystack) if not _asks_for(haystack.folded, m.start())]
    # "2.8.0+cu129", or written with blanks round the plus: "PyTorch 2.8.0 + cu129"
    versions = _distinct(m.group("version") + "".join((m.group("local") or "").split()) for m in said)
    version = _agreeing(versions)
    if version is None:
        if len(versions) > 1:
            _note(torch, "several PyTorch versions:", versions)
        return
    base, _, local = version.partition("+")
    if local == "cpu":
        # a statement alone never makes a CPU build: that would be a fault found on someone's word; a program's own
        # output, quoted ("the System Info says "2.0.0+cpu""), is torch.__version__ as printed, not a word
        shown = any(_quoted_output(haystack.folded, m.start()) for m in said)
        version = version if shown or _torch_says_no_cuda(facts) else base
    elif local.startswith("rocm"):
        _put(torch, "hip", local.removeprefix("rocm"))
    elif re.fullmatch(r"cu(?:[89]\d|1\d\d)", local):  # cu92, cu118, cu130 (not "cu13", a tag cut short)
        _put(torch, "cuda", variant_cuda(local))
    else:
        version = base
    _put(torch, "version", version)  # not "installed": whether it is, and imports, is not said


# A version with one of PyTorch's wheel tags and no package name before it ("... installed torch and got `2.12.1+cpu`"):
# the local version labels "+cpu", "+cu121", "+rocm6.1" are those of PyTorch's own wheels (PyTorch RELEASE.md, the
# release matrix; download.pytorch.org/whl/<variant>), and torch's major version is 1 or 2 (torchvision's is 0), so in a
# sentence that names torch it is torch's version. Read only where no "torch 2.x" token is in the report.
_BARE_TORCH = re.compile(
    r"(?<![\w.+-])(?P<version>[12]\.\d{1,2}\.\d{1,2})(?P<local>\+(?:cu\d{2,3}|cpu|rocm\d+(?:\.\d+)*))(?![\w.])"
)
_TORCH_WORD = re.compile(r"(?<![\w-])(?:py)?torch(?![\w-])")


def _bare_torch_versions(haystack: Haystack) -> list[re.Match[str]]:
    """Bare versions with a PyTorch wheel tag, each in a sentence (or line) that names torch."""
    folded = haystack.folded
    if "+" not in folded:  # "torch" may be unnamed where a program's output is quoted
        return []
    found = []
    for n, match in enumerate(_BARE_TORCH.finditer(folded)):
        if n >= _MAX_MENTIONS:
            break
        low = max(0, match.start() - _LOOK_BACK)
        begin = max((m.end() for m in _SENTENCE_END.finditer(folded, low, match.start())), default=low)
        named = _TORCH_WORD.search(folded, begin, match.start()) is not None or _quoted_output(folded, match.start())
        recorded = _FIELD_VALUE.search(folded, max(0, match.start() - 8), match.start()) is not None
        if named and not recorded and not _in_path(folded, match.start()):
            found.append(match)
    return found


# A program's output quoted by the reporter: a verb of showing, then the quote that opens the copied text, the version
# its first word ("in the System Info section it says "2.0.0+cpu Autocast half"", "the log shows `2.1.0+cpu`"). Only
# PyTorch's wheels carry a local tag like "+cpu" after a 1.x/2.x version (PyTorch RELEASE.md; download.pytorch.org/whl/
# <variant>), and no one types one unprompted: quoted after "says", it is torch.__version__ as a program printed it.
_QUOTED_OUTPUT = re.compile(
    r"\b(?:says|said|shows|showed|displays|displayed|prints|printed|reports|reported|reads|read)[ \t]*:?[ \t]*[\"'`“]"
    r"(?:py)?(?:torch[ \t:]*)?$"
)


def _quoted_output(folded: str, at: int) -> bool:
    """The mention at ``at`` opens a quotation of a program's output (see :data:`_QUOTED_OUTPUT`)."""
    line = folded.rfind("\n", max(0, at - _LOOK_BACK), at) + 1
    return _QUOTED_OUTPUT.search(folded, max(line, at - 40), at) is not None


_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n[ \t]*\n")
# a value assigned in a record (uv.lock's and poetry.lock's `version = "2.11.0+cu128"`, one entry per platform marker,
# a requirement's "==2.1.0+cu121"): what may be installed somewhere, not what the reporter got
_FIELD_VALUE = re.compile(r"[=<>~]=?[ \t]*[\"']?$")


# torch's own answers that it has no CUDA (knowledge/signatures.toml): "Torch not compiled with CUDA enabled" (only a
# CPU build raises it) and torch.cuda.is_available() answering False (to the reporter, or to a program that says so).
_NO_CUDA_ANSWERS = (
    "torch.not-compiled-with-cuda",
    "torch.cuda-available-false",
    "torch.load-cuda-unavailable",
    "program.no-accelerator-detected",
    "program.lightning-no-gpus",
)


def _torch_says_no_cuda(facts: Facts) -> bool:
    """The report shows torch answering that it has no CUDA: a stated "+cpu" tag is then the build that answered.

    torch's version string carries the wheel's variant ("2.11.0+cpu" for PyTorch's CPU builds and PyPI's Windows
    wheels); quoted next to torch's own "no CUDA", it agrees with what torch did, and is kept.
    """
    return any(hit.id in _NO_CUDA_ANSWERS for hit in facts.signatures)


def _asks_for(folded: str, at: int) -> bool:
    """The line is an install command or an installer's answer to one: the version there is wanted, not had."""
    if installer.in_version_list(folded, at):
        return True  # uv's resolver listing the versions an index has
    begin = folded.rfind("\n", max(0, at - _LOOK_BACK), at) + 1
    end = folded.find("\n", at, at + _LOOK_BACK)
    return _REQUEST.search(folded, begin, end if end >= 0 else min(len(folded), at + _LOOK_BACK)) is not None


def _cuda(facts: Facts, haystack: Haystack, fields: dict[str, list[str]]) -> None:
    toolkit = facts.toolkit
    homes = _distinct(v.split()[0] for v in fields.get("cuda_home", []) if re.match(r"[~/A-Za-z]", v))
    if len(homes) == 1 and ("/" in homes[0] or "\\" in homes[0]):  # "CUDA_HOME: /usr/local/cuda-12.8"
        _put(toolkit, "cuda_home", homes[0])
    if toolkit.version or "version" in toolkit.sources:
        return
    # "NVCC: 13.3.33", "nvcc version: 12.8": the compiler that builds extensions names the toolkit, whatever else is said
    nvcc = _distinct(minor_of(m.group(1)) or "" for v in fields.get("nvcc", []) for m in [_VERSION.search(v)] if m)
    if len(nvcc) == 1 and nvcc[0]:
        _put(toolkit, "version", nvcc[0])
        _put(toolkit, "found_by", "nvcc (stated in the report)")
        return
    versions: list[str] = []
    for value in fields.get("cuda/cudnn", []):  # "10.1 / 7.6.5": the first number is CUDA's
        first = _VERSION.search(value)
        if first:
            versions.append(first.group(1))
    for value in fields.get("cuda", []):
        versions += [m.group(1) for m in _VERSION.finditer(value)]
    if not versions:
        # the CUDA a torch was built with ("PyTorch ... was built for CUDA 12.9") is torch's, not a toolkit; a mention
        # that names the toolkit ("the host CUDA toolkit was 13.0") outranks a bare "CUDA 12.9", which may be torch's,
        # the driver's or a container's
        torchs = {m.start("version") for m in _torch_cuda_mentions(haystack)}
        bare = [
            m
            for m in _mentions(haystack, _CUDA_TOKEN, "cuda")
            if not _smi_line(haystack, m) and m.start("version") not in torchs
        ]
        named = [m for m in _mentions(haystack, _TOOLKIT_TOKEN, "cuda") if m.start("version") not in torchs]
        versions = [m.group("version") for m in (named or bare)]
    # the CUDA the printed nvidia-smi names is the driver's ("CUDA Version: 12.2"): people quote it, it is no toolkit
    driver_cuda = facts.driver.cuda_driver_api if facts.driver.sources.get("cuda_driver_api") != SOURCE else None
    minors = _distinct(m for m in (minor_of(v) for v in versions) if m and m != driver_cuda)
    if len(minors) == 1:
        _put(toolkit, "version", minors[0])
        _put(toolkit, "found_by", "stated in the report")
    elif len(minors) > 1:
        _note(toolkit, "several CUDA versions:", minors)


# "PyTorch 2.8 is built with CUDA 12.8", "the vLLM/PyTorch environment was built for CUDA 12.9", "torch compiled against
# cuda 11.7": the CUDA of torch's build, in the reporter's words (torch.version.cuda)
_TORCH_CUDA_SAID = re.compile(
    r"torch\b[^.\n]{0,40}?\b(?:built|compiled)[ \t]+(?:for|with|against|using)[ \t]+cuda[ \t]*(?P<version>\d{1,2}\.\d)(?!\d|\.\d)"
)
# "CUDA toolkit 13.0", "the host default CUDA toolkit was 13.0", "CUDA toolkit version: 12.4"
_TOOLKIT_TOKEN = re.compile(
    r"cuda[ \t]+toolkit(?:[ \t]+version)?(?:[ \t]+(?:was|is))?[ \t]*[:=]?[ \t]*v?(?P<version>\d{1,2}\.\d)(?:\.\d{1,3})?(?!\.?\w)"
)


def _torch_cuda_mentions(haystack: Haystack) -> list[re.Match[str]]:
    folded = haystack.folded
    if "torch" not in folded or "cuda" not in folded:
        return []
    return list(itertools.islice(_TORCH_CUDA_SAID.finditer(folded), _MAX_MENTIONS))


def _smi_line(haystack: Haystack, match: re.Match[str]) -> bool:
    """nvidia-smi's banner says "CUDA Version: 12.6": the newest CUDA the driver supports, not a toolkit."""
    folded = haystack.folded
    begin = folded.rfind("\n", max(0, match.start() - _LOOK_BACK), match.start()) + 1
    return "driver version" in folded[begin : match.start()] or "nvidia-smi" in folded[begin : match.start()]


def _driver(facts: Facts, haystack: Haystack, fields: dict[str, list[str]]) -> None:
    driver = facts.driver
    if driver.userspace or driver.kernel_module or "userspace" in driver.sources:
        return
    versions = [m.group("version") for v in fields.get("driver", []) for m in _DRIVER_VALUE.finditer(v)]
    if not versions:
        versions = [m.group("version") for m in _mentions(haystack, _DRIVER_TOKEN, "driver")]
    distinct = _distinct(versions)
    version = _agreeing(distinct)
    if version is not None:
        _put(driver, "userspace", version)
    elif len(distinct) > 1:
        _note(driver, "several driver versions:", distinct)


def _gpus(facts: Facts, haystack: Haystack, fields: dict[str, list[str]]) -> None:
    gpus = facts.gpus
    if gpus.devices or "devices" in gpus.sources:
        return
    found: list[tuple[str, gpu_models.GpuModel, int]] = []
    for value in fields.get("gpu", []):
        found += _models_in(value)
    if not found:
        folded = haystack.folded
        if not any(word in folded for word in _GPU_WORDS) and not _GPU_CODE.search(haystack.text):
            _series(facts, haystack, fields)
            return
        found = _models_in(haystack.text)
        if not found:
            _series(facts, haystack, fields)
            return
        if len({model.name for _, model, _ in found}) > 1:  # prose naming several models: which one ran is not said
            _note(gpus, "several GPU models:", [name for name, _, _ in found])
            return
        found = found[:1]
    devices: list[Gpu] = []
    for name, _, count in found:
        for _ in range(count):
            if len(devices) < _MAX_GPUS:
                devices.append(Gpu(index=len(devices), name=name, source=SOURCE))
    if devices:
        gpus.devices = devices
        gpus.sources["devices"] = SOURCE


def _series(facts: Facts, haystack: Haystack, fields: dict[str, list[str]]) -> None:
    """A GeForce generation named where no model is ("RTX 50 series", "GTX 10-series"): one GPU of that generation,
    with the compute capability all its models share (``gpu_models.series_of``); how many is not said, so one."""
    if "series" not in haystack.folded:
        return
    named = [s for v in fields.get("gpu", []) if (s := gpu_models.series_of(v))]
    if not named:
        # the prose before each mention, outside paths and URLs
        named = [
            s
            for match in itertools.islice(_SERIES_WORD.finditer(haystack.folded), _MAX_MENTIONS)
            if not _in_path(haystack.text, match.start())
            and (s := gpu_models.series_of(haystack.text[max(0, match.start() - 40) : match.end() + 40]))
        ]
    if len(set(named)) != 1:
        return
    name, cc = named[0]
    facts.gpus.devices = [Gpu(index=0, name=name, compute_capability=cc, source=SOURCE)]
    facts.gpus.sources["devices"] = SOURCE


_SERIES_WORD = re.compile(r"series\b")
_GPU_WORDS = ("nvidia", "geforce", "tesla", "quadro", "titan", "jetson", "rtx", "gtx")
# as _GPU_TOKEN: "A100", "T4", Grace superchips "GB200", and "p40 GPUs"
_GPU_CODE = re.compile(r"\b(?:[AHBLVPKMT]\d|G[HB]\d{3}|[ahblvpkmt]\d{1,4}[ \t]?(?i:gpus?|cards?)\b)")


def _models_in(text: str) -> list[tuple[str, gpu_models.GpuModel, int]]:
    """The GPU models named in ``text``: the name as written, its model, and the count before it (1 without one)."""
    out: list[tuple[str, gpu_models.GpuModel, int]] = []
    pos, end = 0, len(text)
    for n, match in enumerate(_GPU_TOKEN.finditer(text)):
        if n >= _MAX_MENTIONS:
            break
        if match.start() < pos or _in_path(text, match.start("name")) or _apple(text, match):
            continue
        stop = _GPU_STOP.search(text, match.end("name"), min(end, match.end("name") + _GPU_WINDOW))
        window_end = stop.start() if stop else min(end, match.end("name") + _GPU_WINDOW)
        window = text[match.start("name") : window_end]
        model = gpu_models.model_of(window)
        written = _as_written(window, model) if model is not None else None
        if model is None and (model := _geforce_number(window)) is not None:
            written = model.name  # the number alone does not resolve again: the model's own name does
        if model is None or written is None:
            continue
        pos = window_end
        count = int(match.group("count")) if match.group("count") else 1
        out.append((written, model, count if count <= _MAX_GPUS else 1))
    return out


# "nvidia 5070 ti", "GeForce 3060": the brand, then a GeForce model number without its RTX/GTX line. NVIDIA's GeForce
# products are named "GeForce RTX 5070 Ti", "GeForce GTX 1080" (nvidia.com's product pages; nvidia-smi prints the same),
# and each model number belongs to one line, so the number alone names the model; only a GeForce model is taken
# (a bare "NVIDIA 4000" may be the workstation RTX 4000 or a GeForce 40 series)
_BRAND_NUMBER = re.compile(r"(?i)(?P<brand>nvidia|geforce)[ \t]+(?=\d{3,4}(?:\b|[ \t]?ti\b))")


def _geforce_number(window: str) -> gpu_models.GpuModel | None:
    brand = _BRAND_NUMBER.match(window)
    if brand is None:
        return None
    rest = window[brand.end() :]
    found = {m for line in ("RTX", "GTX") if (m := gpu_models.model_of(f"GeForce {line} {rest}")) is not None}
    model = found.pop() if len(found) == 1 else None
    return model if model is not None and model.segment == "geforce" else None


def _as_written(window: str, model: gpu_models.GpuModel) -> str:
    """The words of ``window`` that name ``model``: the words after the name dropped ("Tesla T4 GPU" -> "Tesla T4")."""
    words = window.replace("*", " ").replace("_", " ").replace("`", " ").split()
    while len(words) > 1 and gpu_models.model_of(" ".join(words[:-1])) == model:
        words.pop()
    return " ".join(words).rstrip(":.!?")


_APPLE_WORDS = frozenset({"apple", "mac", "macbook", "imac", "mini", "studio", "air"})
_APPLE_TIER = re.compile(r"[ \t]+(?:pro|max|ultra)\b", re.IGNORECASE)


def _apple(text: str, match: re.Match[str]) -> bool:
    """ "Apple M4", "MacBook M2", "Mac mini M4 Pro": Apple's chips share names with old Tesla boards (M4, M6, M10).

    A Mac's name stands in the two words before the chip ("Mac mini", "MacBook Air", "Mac Studio"), or the chip has
    Apple's tier after it ("M4 Pro", "M2 Max", "M1 Ultra"), which no Tesla board has.
    """
    before = text[max(0, match.start() - 20) : match.start()].lower().split()[-2:]
    return bool(_APPLE_WORDS.intersection(before)) or _APPLE_TIER.match(text, match.end("name")) is not None


def _python(facts: Facts, haystack: Haystack, fields: dict[str, list[str]]) -> None:
    system = facts.system
    shown = system.python_version
    if shown and shown.count(".") > 1:
        return
    versions = [m.group("version") for v in fields.get("python", []) for m in [_PYTHON_VALUE.search(v)] if m]
    if not versions:
        versions = [m.group("version") for m in _mentions(haystack, _PYTHON_TOKEN, "python")]
    version = _agreeing(_distinct(versions))
    if version is None:
        return
    if shown and version.startswith(shown + "."):
        # a path showed the minor version ("python3.12/site-packages"); the statement adds the micro ("3.12.13")
        system.python_version = version
        system.sources["python_version"] = SOURCE
    elif not shown:
        _put(system, "python_version", version)


def _family(name: str) -> str:
    if name.startswith("windows"):
        return "Windows"
    if name.startswith(("mac", "os", "apple")):
        return "Darwin"
    return "Linux"


def _os(facts: Facts, haystack: Haystack, fields: dict[str, list[str]]) -> None:
    system = facts.system
    if system.os or "os" in system.sources:
        return
    named = [m.group("os") for v in fields.get("os", []) for m in _OS_TOKEN.finditer(v.lower())]
    if not named:
        named = [m.group("os") for m in _mentions(haystack, _OS_TOKEN, "")]
    if not named:
        return
    if any(name.startswith("wsl") for name in named):  # WSL: Linux on the Windows driver
        _put(system, "os", "Linux")
        _put(system, "wsl", True)
        return
    families = _distinct(_family(name) for name in named)
    if len(families) != 1:
        return
    _put(system, "os", families[0])
    distros = _distinct(
        " ".join(name.split()).title() for name in named if re.search(r"\d", name) and families[0] == "Linux"
    )
    if len(distros) == 1:
        _put(system, "distro", distros[0])


def _nccl(facts: Facts, haystack: Haystack, fields: dict[str, list[str]]) -> None:
    if facts.companion("nccl") is not None:
        return
    versions = [m.group(1) for v in fields.get("nccl", []) for m in _VERSION.finditer(v)]
    if not versions:
        versions = [m.group("version") for m in _mentions(haystack, _NCCL_TOKEN, "nccl")]
    distinct = _distinct(versions)
    if len(distinct) == 1:
        facts.companions.append(Package(name="nccl", version=distinct[0]))


def _rocm(facts: Facts, haystack: Haystack) -> bool:
    """The ROCm release the reporter says they run, when every mention agrees; True if one was recorded."""
    if facts.companion("rocm") is not None:
        return False
    folded = haystack.folded
    versions = [
        m.group("version")
        for m in _mentions(haystack, _ROCM_TOKEN, "rocm")
        if not (m.start() and folded[m.start() - 1] == "+") and not _asks_for(folded, m.start())
    ]
    version = _agreeing(_distinct(versions))
    if version is None:
        return False
    facts.companions.append(Package(name="rocm", version=version))
    return True


def _cuda_available(facts: Facts, haystack: Haystack) -> None:
    """torch.cuda.is_available()'s answer as the reporter tells it, when every telling agrees.

    Only True is recorded as the fact: a False told in words becomes the failure the report is about (as the
    signature ``torch.cuda-available-false`` does for a printed False), so a sentence never makes a check find
    an error that only a printed answer would support.
    """
    torch = facts.torch
    folded = haystack.folded
    if torch.installed is False or "is_available()" not in folded:
        return
    answers = []
    for n, match in enumerate(_AVAILABLE_SAID.finditer(folded)):
        if n >= _MAX_MENTIONS:
            break
        if _NOT_AN_ANSWER.search(match.group("gap")) or prose.governed(
            folded, match.start(), _NOT_AN_ANSWER, look_back=_ANSWER_LOOK_BACK, line=True
        ):
            continue
        answers.append(match.group("value"))
    said = _distinct(answers)
    if said == ["true"]:
        _put(torch, "cuda_available", True)
    elif said == ["false"] and not facts.failures:
        facts.failures.append("the report states torch.cuda.is_available() returned False")


def _installer(facts: Facts, haystack: Haystack, fields: dict[str, list[str]]) -> None:
    named = {
        tool
        for value in fields.get("installer", [])
        for tool in re.findall(r"\b(pip|conda|mamba|uv|poetry|source)\b", value.lower())
    }
    if not named and "uv " in haystack.folded and _UV_PROJECT.search(haystack.folded):
        # a uv project installs torch from its lock (uv's "Projects" docs: `uv run` syncs first); named with no
        # other installer, the torch it runs came from uv
        others = _OTHER_INSTALL.search(haystack.folded)
        named = {"uv"} if others is None else set()
    if len(named) == 1:
        _put(facts.torch, "installer", named.pop())


# uv's project commands, which install from the project's lock ("uv sync", "uv add torch", "uv lock"); a command
# of another installer that installs packages ("pip install", "conda install", not "uv pip install")
_UV_PROJECT = re.compile(r"(?<![\w-])uv[ \t]+(?:sync|add|lock)\b")
_OTHER_INSTALL = re.compile(r"(?<!uv )(?<![\w-])(?:pip3?|conda|mamba|poetry|pixi)[ \t]+(?:install|add)\b")


def _context(facts: Facts, haystack: Haystack, fields: dict[str, list[str]]) -> None:
    system = facts.system
    folded = haystack.folded
    runtimes = {
        name
        for value in fields.get("container", [])
        for name in re.findall(r"\b(docker|podman|kubernetes|k8s)\b", value.lower())
    }
    if ("nvidia.com/gpu" in folded or "kubectl" in folded) and _KUBERNETES.search(folded):
        runtimes.add("kubernetes")
    runtimes = {"kubernetes" if name == "k8s" else name for name in runtimes}
    if len(runtimes) == 1:
        _put(system, "container", runtimes.pop())
    jetson_words = ("gr3d", "jetson", "nvp", "jetpack", "l4t", "tegrastats", "jtop")
    if any(word in folded for word in jetson_words) and _JETSON.search(folded):
        _put(system, "jetson", True)
        _put(system, "machine", "aarch64")
