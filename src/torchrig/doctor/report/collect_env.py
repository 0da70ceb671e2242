"""``python -m torch.utils.collect_env`` output -> Facts, for every format since torch 1.0.

What the fields really mean (read from collect_env.py across releases, not from their labels):

- "CUDA used to build PyTorch" is ``torch.version.cuda``; "None" or "Could not collect" there means
  a CPU (or ROCm) build, "N/A" means torch could not be imported.
- "CUDA runtime version" is ``nvcc --version`` of the toolkit on PATH, *not* torch's runtime: it goes
  to :class:`ToolkitFacts`, never to ``torch.cuda``.
- "Nvidia driver version" is nvidia-smi's "Driver Version" (on macOS it was the CUDA driver
  bundle's version, which says nothing about the GPU driver: ignored there).
- "cuDNN version" lists the libraries ``ldconfig`` finds on the system, not the cuDNN torch loads
  (pip wheels bundle their own): it proves nothing about torch and is not recorded.
- "Versions of relevant libraries" has ``[pip]``/``[pip3]`` lines from ``pip list`` and ``[conda]``
  lines from ``conda list``. pip lists conda's own ``pytorch`` as ``torch`` too, so the same version
  in both is one conda install; conda listing ``torch`` from ``pypi``/``<pip>`` next to its own
  ``pytorch``, or pip and conda disagreeing on the version, is two installs.

Formats seen: 1.0 (``[pip] numpy (1.15.2)``, "Is CUDA available: Yes"), 1.x ("Is debug build: No"),
1.7+ (ROCM line, "(64-bit runtime)", "Python platform"), 1.12+ ("Is XNNPACK available", macOS "No
CUDA"), 2.x (CPU block from lscpu/wmic, ``[pip3] nvidia-*`` lines, the build's own warnings printed
above "PyTorch version"), and the issue template's checklist (" - PyTorch Version (e.g., 1.0): 1.3").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from torchrig._core.prefilter import Haystack
from torchrig.doctor.facts import Facts, Gpu, Package, Section
from torchrig.knowledge import minor_of, variant_cuda, variant_of

SOURCE = "report"

# The fields whose presence says "this is collect_env output". Generic ones (OS, Python version,
# CPU) also appear in other tools' output and do not count towards recognising it.
_CORE = {
    "pytorch version",
    "is debug build",
    "cuda used to build pytorch",
    "rocm used to build pytorch",
    "is cuda available",
    "cuda runtime version",
    "gpu models and configuration",
    "nvidia driver version",
    "cudnn version",
    "versions of relevant libraries",
}
_GENERIC = {"os", "python version", "python platform", "how you installed pytorch", "cuda/cudnn version"}
_ALIASES = {"version of relevant libraries": "versions of relevant libraries"}

_NULL = {"", "n/a", "none", "could not collect", "no cuda", "not available", "unknown"}

_KEY_VALUE = re.compile(r"^(?:[-*]\s+)?(?P<key>[A-Za-z][A-Za-z0-9 _/.]*?)\s*(?:\([^)]*\))?\s*:\s*(?P<value>.*)$")
_TORCH_NO_COLON = re.compile(r"^PyTorch version\s+(?P<value>\d\S*)$", re.IGNORECASE)  # retyped by hand
_GPU_LINE = re.compile(r"^GPU\s*(?P<index>\d+)\s*:\s*(?P<name>.+?)\s*(?:\(UUID:\s*(?P<uuid>GPU-[0-9A-Fa-f-]+)\))?$")
_CUT_GPU_LINE = re.compile(r"^G(?:P(?:U(?:\s*\d.*)?)?)?$")  # "G", "GP", "GPU 0:": a "GPU n: name" line cut short
# The issue template's hand-filled "GPU models and configuration: 2x GTX 1080 Ti" is no program's output:
# report/stated.py reads it (two GPUs, as stated), not this reader (one GPU called "2x GTX 1080 Ti").
_COUNTED = re.compile(r"^\d{1,2}\s*[x×*]\s*\S")
_LIB_LINE = re.compile(r"^\[(?P<tool>pip3?|conda)\]\s+(?P<rest>.+)$")
_PIP_EQ = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)\s*==\s*(?P<version>\S+)")
_PIP_PAREN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)\s+\((?P<version>[^)]+)\)")  # torch 1.0: "numpy (1.15.2)"
_VERSION = re.compile(r"\d+\.\d+(?:\.\d+)*")

# Companion packages worth carrying into Facts: what checks reason about, not all of numpy's friends.
_COMPANION = re.compile(
    r"^(torchvision|torchaudio|torchtext|torchdata|triton|pytorch-triton(-rocm)?|xformers|flash[-_]attn|"
    r"bitsandbytes|vllm|deepspeed|apex|numpy|onnxruntime(-gpu)?|nvidia-[a-z0-9-]+|cudatoolkit|pytorch-cuda|"
    r"cuda-version|cudnn|nccl|torch-tensorrt|tensorrt|cpuonly|_pytorch_select)$"
)


@dataclass
class _Lib:
    name: str
    version: str
    tool: str  # "pip" or "conda"
    build: str = ""
    channel: str = ""

    @property
    def from_pypi(self) -> bool:
        """A conda-list line for something pip installed (conda shows it with channel pypi or <pip>)."""
        return (
            self.tool == "pip"
            or "pypi" in (self.build, self.channel)
            or "<pip>" in (self.build, self.channel)
            or self.channel == "<develop>"
        )


# More GPU lines than any one machine has (the largest single systems hold 16-64 GPUs): a flood of them
# (a pasted loop, a merged cluster listing) would cost seconds and gigabytes to read and check.
MAX_GPUS = 256


@dataclass
class _Raw:
    """What the text says, field by field, before interpretation."""

    fields: dict[str, str] = field(default_factory=dict)
    gpus: list[Gpu] = field(default_factory=list)
    libs: list[_Lib] = field(default_factory=list)
    gpus_cut: bool = False  # the GPU field listed more than MAX_GPUS lines; the rest were not read

    @property
    def recognised(self) -> bool:
        return len(_CORE & self.fields.keys()) >= 2 or bool(self.libs)


def put(section: Section, name: str, value: Any) -> None:
    """Record a field read from the report, unless the report already gave it (even as None)."""
    if name in section.sources or getattr(section, name) not in (None, [], {}):
        return
    setattr(section, name, value)
    section.sources[name] = SOURCE


def parse(text: str | Haystack, facts: Facts) -> bool:
    """Fill ``facts`` from the collect_env fields in ``text``; True if the text is collect_env output."""
    raw = _read(text if isinstance(text, Haystack) else Haystack(text))
    if not raw.recognised:
        return False
    _apply(raw, facts)
    return True


# Reading a 16 MiB report line by line in Python takes seconds; almost none of its lines are fields.
# A line can change what is read only if it is a library line, a known field (or "PyTorch version
# 2.1"), or a "GPU n: name" line while the GPU field is being read. The first three kinds are found by
# one search of the folded text (a superset: anything it finds is read exactly as before), the GPU
# lines by a search of the stretch of text that follows the GPU field.
_GPU_FIELD = "gpu models and configuration"
# (Each alternative spelled out: the regex engine skips ahead on their first letters only when the
# alternatives are flat.)
_FIELD_LINE = re.compile(
    r"\[(?:pip3?|conda)\]|pytorch version[^\S\n]|"
    + "|".join(
        re.escape(key).replace("\\ ", " +") + r"[^\S\n]*[(:]" for key in sorted(_CORE | _GENERIC | _ALIASES.keys())
    )
)
_GPU_WORD = re.compile("GPU")
# Where str.splitlines() ends lines besides "\n": such a text is read line by line, as it always was.
_OTHER_LINE_ENDS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _read(haystack: Haystack) -> _Raw:
    reader = _Reader()
    text = haystack.text
    if _OTHER_LINE_ENDS.search(text) or len(haystack.folded) != len(text):
        for line in text.splitlines():
            if not reader.take(line):
                break
        return reader.raw
    done = 0  # everything before this offset has been read
    begin, end = _field_span(haystack)
    for start in _line_starts(_FIELD_LINE.finditer(haystack.folded, begin, end), text):
        if start < done:
            continue
        if not (_gpu_lines(reader, text, done, start) and reader.take(_line_at(text, start))):
            return reader.raw
        done = _line_end(text, start)
    _gpu_lines(reader, text, done, len(text))
    return reader.raw


def _field_span(haystack: Haystack) -> tuple[int, int]:
    """Where :data:`_FIELD_LINE` can match: from the first line to the last that holds one of its marks."""
    folded = haystack.folded
    marks = ("[", ":", "(", "pytorch version")
    first = min((i for i in (folded.find(mark) for mark in marks) if i >= 0), default=-1)
    if first < 0:
        return 0, 0
    last = max(folded.rfind(mark) for mark in marks)
    return folded.rfind("\n", 0, first) + 1, _line_end(folded, last)


def _gpu_lines(reader: _Reader, text: str, begin: int, end: int) -> bool:
    """Read the lines between ``begin`` and ``end`` that may name a GPU, if the GPU field is being read."""
    if reader.current != _GPU_FIELD or reader.raw.gpus_cut:
        return True
    for start in _line_starts(_GPU_WORD.finditer(text, begin, end), text):
        if start >= begin and not reader.take(_line_at(text, start)):
            return False
        if reader.raw.gpus_cut:  # the rest of a flood of GPU lines is not read (MAX_GPUS)
            break
    return True


def _line_starts(matches: Iterator[re.Match[str]], text: str) -> Iterator[int]:
    """The start of each line holding a match, once per line."""
    last = -1
    for match in matches:
        start = text.rfind("\n", 0, match.start()) + 1
        if start != last:
            last = start
            yield start


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _line_at(text: str, start: int) -> str:
    return text[start : _line_end(text, start)]


class _Reader:
    """Reads collect_env's lines in order; ``current`` is the field whose continuation lines follow."""

    def __init__(self) -> None:
        self.raw = _Raw()
        self.current = ""

    def take(self, line: str) -> bool:
        """Read one line; False when reading must stop (a second report begins)."""
        raw = self.raw
        text = line.strip()
        if not text:
            return True
        lib = _LIB_LINE.match(text)
        if lib:
            parsed = _lib(lib.group("tool"), lib.group("rest"))
            if parsed is not None:
                raw.libs.append(parsed)
            return True
        gpu = _GPU_LINE.match(text)
        if gpu and self.current == _GPU_FIELD:
            if len(raw.gpus) < MAX_GPUS:
                raw.gpus.append(_gpu(gpu))
            else:
                raw.gpus_cut = True
            return True
        no_colon = _TORCH_NO_COLON.match(text)
        if no_colon:
            if "pytorch version" in raw.fields:
                return False
            raw.fields["pytorch version"] = no_colon.group("value")
            return True
        kv = _KEY_VALUE.match(text)
        if not kv:
            return True
        key = " ".join(kv.group("key").lower().split())
        key = _ALIASES.get(key, key)
        if key not in _CORE and key not in _GENERIC:
            return True
        if key == "pytorch version" and key in raw.fields:
            return False  # a second report pasted below the first (another commenter): the first one is the machine
        self.current = key
        value = kv.group("value").strip()
        raw.fields.setdefault(key, value)
        if key == _GPU_FIELD and value:
            inline = _GPU_LINE.match(value)
            if inline:
                raw.gpus.append(_gpu(inline))
            elif not _null_or_cut(value) and not _CUT_GPU_LINE.match(value) and not _COUNTED.match(value):
                raw.gpus.append(Gpu(index=0, name=value, source=SOURCE))  # macOS and torch 1.0: a bare name
        return True


def _null_or_cut(value: str) -> bool:
    """A value that says "unknown" ("Could not collect"), or the start of one, cut with the report ("C")."""
    lowered = value.lower()
    return any(null.startswith(lowered) for null in _NULL)


def _gpu(match: re.Match[str]) -> Gpu:
    return Gpu(
        index=int(match.group("index")), name=match.group("name").strip(), uuid=match.group("uuid"), source=SOURCE
    )


def _lib(tool: str, rest: str) -> _Lib | None:
    tool = "conda" if tool == "conda" else "pip"
    if rest.strip().lower() in _NULL:
        return None
    if tool == "pip":
        match = _PIP_EQ.match(rest) or _PIP_PAREN.match(rest)
        if not match:
            return None
        return _Lib(_canonical(match.group("name")), match.group("version"), tool)
    parts = rest.split()
    if len(parts) < 2:
        return None
    return _Lib(
        _canonical(parts[0]), parts[1], tool, parts[2] if len(parts) > 2 else "", parts[3] if len(parts) > 3 else ""
    )


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _null(value: str | None) -> bool:
    return value is None or value.strip().lower() in _NULL


# --- interpretation ------------------------------------------------------------------------


def _apply(raw: _Raw, facts: Facts) -> None:
    f = raw.fields
    _apply_system(f, facts)
    _apply_torch(raw, facts)
    if not _null(f.get("cuda runtime version")):
        # nvcc of the toolkit on PATH: the one that would build extensions, not torch's runtime.
        version = _VERSION.search(f["cuda runtime version"])
        if version:
            put(facts.toolkit, "version", minor_of(version.group(0)))
            put(facts.toolkit, "found_by", "nvcc on PATH")
    driver = f.get("nvidia driver version")
    if not _null(driver) and facts.system.os != "Darwin":
        version = _VERSION.search(driver or "")
        if version:
            put(facts.driver, "userspace", version.group(0))
    # A ROCm build lists its AMD devices here (torch.cuda.get_device_name); other builds list
    # `nvidia-smi -L`. Facts.gpus holds NVIDIA GPUs only.
    if raw.gpus and not facts.gpus.devices and not facts.torch.hip:
        facts.gpus.devices = raw.gpus
        facts.gpus.sources["devices"] = SOURCE
        if raw.gpus_cut:
            facts.gpus.errors.append(
                f"the report lists more than {MAX_GPUS} GPUs, more than one machine holds; the first {MAX_GPUS} were read"
            )


def _apply_system(f: dict[str, str], facts: Facts) -> None:
    system = facts.system
    os_line = f.get("os")
    if not _null(os_line):
        assert os_line is not None
        machine = re.search(r"\((x86_64|aarch64|arm64|AMD64|ppc64le|s390x)\)", os_line)
        if machine:
            put(system, "machine", machine.group(1))
        put(system, "distro", re.sub(r"\s*\([^)]*\)\s*$", "", os_line).strip())
        put(system, "os", _os_family(os_line))
    platform = f.get("python platform")
    if not _null(platform):
        assert platform is not None
        put(system, "os", _os_family(platform))
        kernel = re.match(r"Linux-(?P<kernel>.+?)-(?:x86_64|aarch64|ppc64le|s390x)", platform)
        if kernel:
            put(system, "kernel", kernel.group("kernel"))
        machine = re.search(r"(x86_64|aarch64|arm64|AMD64|ppc64le)", platform)
        if machine:
            put(system, "machine", machine.group(1))
        lowered = platform.lower()
        put(system, "wsl", "microsoft" in lowered or "wsl" in lowered)
        if "tegra" in lowered:
            put(system, "jetson", True)
    python = f.get("python version")
    if not _null(python):
        version = _VERSION.search(python or "")
        if version:
            put(system, "python_version", version.group(0))


def _os_family(text: str) -> str:
    lowered = text.lower()
    if "windows" in lowered:
        return "Windows"
    if "mac" in lowered or "darwin" in lowered or "os x" in lowered:
        return "Darwin"
    return "Linux"


NOT_IMPORTABLE = "collect_env could not import torch (PyTorch version: N/A)"


def settle_not_importable(facts: Facts) -> None:
    """collect_env prints "PyTorch version: N/A" wherever ``import torch`` failed (its get_env_info catches the
    ImportError): that is no torch only where nothing else shows one. A report that also shows torch's own files (a
    traceback through site-packages/torch, a `pip show` location) has torch installed, and broken."""
    torch = facts.torch
    if torch.installed is False and torch.import_error == NOT_IMPORTABLE and torch.location:
        torch.installed = True


def _apply_torch(raw: _Raw, facts: Facts) -> None:
    torch = facts.torch
    f = raw.fields
    listed = _torch_installs(raw.libs)
    version = f.get("pytorch version")
    imported = version is not None and re.match(r"\d+\.\d+", version.strip()) is not None
    if imported:
        put(torch, "installed", True)
        put(torch, "import_ok", True)
        put(torch, "version", version)
    elif version is not None and version.strip().lower() == "n/a":
        # collect_env could not import torch: installed but broken if pip or conda lists it (or the report shows
        # torch's own files: settle_not_importable), otherwise not installed.
        put(torch, "installed", bool(listed))
        put(torch, "import_ok", False)
        put(torch, "import_error", NOT_IMPORTABLE)
    if listed:
        put(torch, "installed", True)
        put(torch, "version", listed[0].version)
        put(torch, "installer", "conda" if any(not lib.from_pypi for lib in listed) else "pip")
        if len(listed) > 1:
            put(torch, "copies", [_describe(lib) for lib in listed])
    cuda = f.get("cuda used to build pytorch")
    hip = f.get("rocm used to build pytorch")
    if not _null(hip):
        put(torch, "hip", hip)
    if cuda is not None and imported:
        # "None" / "Could not collect" with torch imported: torch.version.cuda is None, a CPU (or ROCm)
        # build. Anything else must be a version: a report cut mid-line says nothing.
        if cuda.strip().lower() in ("none", "could not collect"):
            put(torch, "cuda", None)
        elif re.fullmatch(r"\d+\.\d+(\.\d+)*", cuda.strip()):
            put(torch, "cuda", cuda.strip())
    conda_build = next((lib.build for lib in listed if lib.tool == "conda" and not lib.from_pypi), "")
    # the pytorch channel's build strings: "py3.7_cuda10.1.243_cudnn7.6.3_0", "py3.8_cpu_0"; conda-forge's:
    # "cuda118_py310h1234567_300", "cpu_mkl_py310h1234567_101"
    built_for = re.search(r"cuda(\d+\.\d+)", conda_build)
    forge = re.match(r"cuda(\d{2})(\d)_", conda_build)
    if built_for:
        put(torch, "cuda", built_for.group(1))
    elif forge:
        put(torch, "cuda", f"{int(forge.group(1))}.{forge.group(2)}")
    elif re.search(r"(?:^|_)cpu(?:_|$)", conda_build):
        put(torch, "cuda", None)
    available = f.get("is cuda available", "").strip().lower()
    if available in ("yes", "true", "no", "false"):
        put(torch, "cuda_available", available in ("yes", "true"))
    _apply_companions(raw.libs, facts)


def _torch_installs(libs: list[_Lib]) -> list[_Lib]:
    """The torch installs the library list shows, one per owner (the conda package, a pip distribution).

    pip lists a conda-installed ``pytorch`` as ``torch`` with the same version: that is one install.
    A pip-owned torch counts as a second install where conda itself lists it (channel pypi/<pip>)
    next to its own ``pytorch``, or where its version differs from conda's.
    """
    conda_own = next((lib for lib in libs if lib.name == "pytorch" and not lib.from_pypi), None)
    pip_owned = [lib for lib in libs if lib.name == "torch" and lib.from_pypi]
    if conda_own is not None:
        pip_owned = [lib for lib in pip_owned if lib.tool == "conda" or _base(lib.version) != _base(conda_own.version)]
    installs = [conda_own] if conda_own is not None else []
    seen: set[str] = set()
    for lib in pip_owned:
        if _base(lib.version) not in seen:
            seen.add(_base(lib.version))
            installs.append(lib)
    return installs


def _describe(lib: _Lib) -> str:
    """How a torch install shows up in ``TorchFacts.copies`` when a report gives no paths."""
    if lib.from_pypi:
        return f"pip: torch {lib.version}"
    return f"conda: pytorch {lib.version} ({lib.channel or 'conda'})"


def _base(version: str) -> str:
    try:
        return Version(version).base_version
    except InvalidVersion:
        return version.split("+", maxsplit=1)[0]


def _apply_companions(libs: list[_Lib], facts: Facts) -> None:
    """Companion packages; pip's line for a conda package (same version) is the same install.

    Where pip and conda disagree on a version, pip's entry comes first: its metadata belongs to the
    files Python imports, and :meth:`Facts.companion` returns the first.
    """
    by_name: dict[str, list[Package]] = {}
    for lib in sorted(libs, key=lambda lib: lib.from_pypi):  # conda's own packages first
        if lib.name in ("torch", "pytorch") or not _COMPANION.match(lib.name):
            continue
        entries = by_name.setdefault(lib.name, [])
        if any(_base(p.version or "") == _base(lib.version) for p in entries):
            continue
        package = Package(name=lib.name, version=lib.version, installer="pip" if lib.from_pypi else "conda")
        entries.insert(0 if lib.from_pypi else len(entries), package)
    for entries in by_name.values():
        facts.companions.extend(entries)


def derive_torch_cuda(facts: Facts) -> None:
    """Where the report never said torch.version.cuda, take it from the wheel tag ("2.6.0+cu126" -> "12.6")."""
    torch = facts.torch
    if "cuda" in torch.sources or not torch.version:
        return
    variant = variant_of(torch.version)
    if variant == "cpu":
        put(torch, "cuda", None)
    elif variant and variant.startswith("cu"):
        put(torch, "cuda", variant_cuda(variant))


# `conda list` itself (not collect_env's "[conda]" lines): "name  version  build  channel", under a
# "# packages in environment at <prefix>:" header, or filtered with grep. Only the rows of packages
# collect_env would list are taken, and only where a build string follows the version.
_CONDA_LIST_ROW = re.compile(
    r"^(?P<row>(?:pytorch|torchvision|torchaudio|pytorch-cuda|pytorch-mutex|cpuonly|_pytorch_select|cudatoolkit|cuda-version|"
    r"pytorch-triton|numpy)[ \t]+\d[\w.+-]*[ \t]+[A-Za-z0-9_.+-]+(?:[ \t]+[\w<>./:-]+)?)[ \t]*$",
    re.MULTILINE,
)


def parse_conda_list(text: str, facts: Facts) -> bool:
    """Fill ``facts`` from ``conda list`` rows (read as collect_env reads its "[conda]" lines)."""
    if "pytorch" not in text:
        return False
    rows = [m.group("row") for m in _CONDA_LIST_ROW.finditer(text)]
    if not any(row.split()[0] == "pytorch" for row in rows):
        _pytorch_selected(rows, facts)
        return False
    return parse("\n".join(f"[conda] {row}" for row in rows), facts)


def _pytorch_selected(rows: list[str], facts: Facts) -> None:
    """Anaconda's own pytorch requires ``_pytorch_select`` of its variant (0.1 for the CPU build, 0.2 for the GPU
    one: AnacondaRecipes/pytorch-feedstock, recipe/meta.yaml), so that row names the build of a conda pytorch even
    where the paste stops before pytorch's own row. Kept as a companion; the rows alone are no conda-list dump."""
    for row in rows:
        name, version, *_ = row.split()
        if name == "_pytorch_select" and facts.companion(name) is None:
            facts.companions.append(Package(name=name, version=version, installer="conda"))
            put(facts.torch, "installer", "conda")
