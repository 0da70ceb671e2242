"""What every output format shares: the verdict sentence and the facts as labelled rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.queries import build_kind, stated


@dataclass(frozen=True)
class FactRow:
    section: str
    label: str
    value: str
    source: str = ""


def counts(findings: list[Finding]) -> Counter[Severity]:
    return Counter(f.severity for f in findings)


def verdict(facts: Facts, findings: list[Finding]) -> str:
    """One sentence: the root cause when something is wrong, otherwise what the evidence shows works.

    It claims only what the facts hold: a report that does not show the torch build, the driver or the
    GPUs gets "does not show", never "not installed", "CPU build" or "no GPU" (unknown is not absent).
    """
    c = counts(findings)
    errors, warnings = c[Severity.ERROR], c[Severity.WARNING]
    if errors:
        root = next(f for f in findings if f.severity is Severity.ERROR)
        more = f" ({_plural(errors, 'error')}, {_plural(warnings, 'warning')} in all)"
        return f"Root cause: {root.title} [{root.code}]{more}"
    if warnings:
        return f"No errors; {_plural(warnings, 'warning')} worth a look, the first: {findings[0].title} [{findings[0].code}]"
    if facts.origin == "report":
        missing = _not_shown(facts)
        if missing:
            read = _read(facts)
            return (
                f"Nothing wrong in what the report shows, but too little to check that machine: {read}"
                f"{'; it' if read else 'It'} does not show {_join(missing, 'or')}."
            )
        return f"No problems found in what the report shows. {_works(facts)}"
    return f"No problems found. {_works(facts)}"


def too_thin(facts: Facts) -> bool:
    """A pasted report that lacks a fact the checks rest on (the torch build, the GPUs, the driver)."""
    return facts.origin == "report" and bool(_not_shown(facts))


def _not_shown(facts: Facts) -> list[str]:
    """What a pasted report leaves out of the facts every check rests on: the torch build, the GPUs, the driver.

    A torchrig ``--json`` is a whole probe of that machine (what it lacks, the machine lacked); a Mac, a ROCm
    build and a CPU build need no NVIDIA GPU or driver to be checked.
    """
    if facts.report_format == "torchrig-json":
        return []
    t = facts.torch
    build = build_kind(facts)
    missing = []
    if not t.version and t.installed is not False:
        missing.append("which PyTorch runs")
    elif t.version and build is None:
        missing.append(f"how PyTorch {t.version} was built (for which CUDA)")
    if t.hip or (facts.system.os or "").lower() == "darwin" or facts.system.jetson:
        return missing  # nothing to check on an NVIDIA driver (a Jetson's GPU comes with its L4T release)
    if build == "CPU build":
        # a CPU build is right only where there is no NVIDIA GPU to use: a report that shows none is no all-clear
        if not facts.gpus.devices and not facts.system.pci_gpus and "pci_gpus" not in facts.system.sources:
            missing.append("whether the machine has an NVIDIA GPU (a CPU build cannot use one)")
        return missing
    if not facts.gpus.devices and not facts.system.pci_gpus:
        missing.append("the GPUs")
    d = facts.driver
    if not (d.userspace or d.kernel_module or d.cuda_driver_api):
        missing.append("the NVIDIA driver version")
    return missing


def _read(facts: Facts) -> str:
    """What the report shows (printed output) and states (the reporter's own words), as one clause."""
    shown: list[str] = []
    said: list[str] = []

    def add(text: str, section: object, field: str) -> None:
        (said if getattr(section, "sources", {}).get(field) == "stated" else shown).append(text)

    t, d, k, s = facts.torch, facts.driver, facts.toolkit, facts.system
    if t.version:
        build = build_kind(facts)
        add(f"PyTorch {t.version}" + (f" ({build})" if build else ""), t, "version")
    names = Counter(gpu.name or "an unnamed GPU" for gpu in facts.gpus.devices)
    if names:
        add(", ".join(f"{n}x {name}" if n > 1 else name for name, n in names.items()), facts.gpus, "devices")
    if d.userspace or d.kernel_module:
        add(f"driver {d.userspace or d.kernel_module}", d, "userspace" if d.userspace else "kernel_module")
    if k.version:
        add(f"CUDA {k.version}", k, "version")
    if s.python_version:
        add(f"Python {s.python_version}", s, "python_version")
    if s.jetson:
        add("a Jetson", s, "jetson")
    if s.wsl:
        add("WSL", s, "wsl")
    if s.container:
        add(_CONTAINERS.get(s.container, f"a {s.container} container"), s, "container")
    parts = [f"it shows {_join(shown)}"] if shown else []
    if said:
        parts.append(f"{'and states' if shown else 'the report states'} {_join(said)}")
    return " ".join(parts).replace("it shows", "the report shows", 1)


_CONTAINERS = {"docker": "a Docker container", "podman": "a Podman container", "kubernetes": "Kubernetes"}


def _join(items: list[str], word: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _works(facts: Facts) -> str:
    t = facts.torch
    where = "in this report" if facts.origin == "report" else "on this machine"
    if not t.version:
        if t.installed is False:
            return f"PyTorch is not installed {where}."
        if t.installed or t.location:
            return f"PyTorch is installed {where}, but its version is not shown."
        return "The report does not show which PyTorch is installed." if facts.origin == "report" else ""
    build = build_kind(facts)
    named = f"PyTorch {t.version}" + (f" ({build})" if build else "")
    if t.cuda_available:
        n = t.device_count or len(facts.gpus.devices)
        if not n:  # a ROCm build's AMD GPUs are not NVIDIA devices; a report may not count them
            return f"{named} can use the GPU {where}; how many GPUs it sees is not shown."
        return f"{named} sees {_plural(n, 'GPU')} {where}."
    gpus = len(facts.gpus.devices) or len(facts.system.pci_gpus)
    if not gpus and facts.origin == "live":
        return f"{named} runs on the CPU; there is no NVIDIA GPU {where}."
    if not gpus and stated(facts.system, "pci_gpus"):  # a torchrig --json report: that machine looked
        return f"{named}; no NVIDIA GPU was seen on that machine's PCI bus."
    if not gpus:
        return f"{named}; the report does not show the GPUs."
    return f"{named}."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def format_value(value: object) -> str:
    """A fact or evidence value as words: lists joined, booleans as yes/no, nothing as an empty string."""
    if value is None or value in ([], {}):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def _bytes(n: int | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return ""


def _nvidia_evidence(facts: Facts) -> bool:
    d = facts.driver
    return bool(d.kernel_module or d.userspace or facts.gpus.devices or facts.system.pci_gpus)


def _short_clauses(value: str, limit: int = 100) -> str:
    """A long value made of space-separated clauses (NVIDIA_REQUIRE_CUDA: 60 driver-branch constraints)
    as its first clause and a count; paths and lists without spaces are never cut (they get copied)."""
    clauses = value.split()
    if len(value) <= limit or len(clauses) < 3:
        return value
    return f"{clauses[0]} (+{len(clauses) - 1} more)"


def fact_rows(facts: Facts) -> list[FactRow]:
    """The facts worth showing, with where each came from; empty values are left out."""
    rows: list[FactRow] = []

    def add(section: str, label: str, value: object, obj: object = None, field: str | None = None) -> None:
        text = format_value(value)
        if text:
            source = getattr(obj, "sources", {}).get(field or "", "") if obj is not None else ""
            rows.append(FactRow(section, label, text, source))

    d = facts.driver
    add("Driver", "kernel module", d.kernel_module, d, "kernel_module")
    add("Driver", "user-space library", d.userspace, d, "userspace")
    add("Driver", "newest CUDA it supports", d.cuda_driver_api, d, "cuda_driver_api")
    if d.nvml_error and "not found" in d.nvml_error.lower() and not _nvidia_evidence(facts):
        # no NVIDIA driver and no NVIDIA GPU: NVML's library is absent as it should be, not an error
        add("Driver", "NVML", "not installed (no NVIDIA driver here)", d, "nvml_error")
    else:
        add("Driver", "NVML error", d.nvml_error, d, "nvml_error")
    add("Driver", "nvidia-smi error", d.smi_error, d, "smi_error")
    for gpu in facts.gpus.devices:
        parts = [gpu.name or "?", f"compute capability {gpu.compute_capability}" if gpu.compute_capability else ""]
        if gpu.memory_total_mib:
            parts.append(f"{gpu.memory_total_mib} MiB")
        if gpu.mig_mode:
            parts.append("MIG on")
        rows.append(FactRow("GPUs", f"GPU {gpu.index}", ", ".join(p for p in parts if p), gpu.source or ""))
    if not facts.gpus.devices and facts.system.pci_gpus:
        for pci in facts.system.pci_gpus:
            rows.append(FactRow("GPUs", pci.address, f"NVIDIA device {pci.device} (on the PCI bus)", "/sys"))
    broken = [f"{link.a}<->{link.b}: {link.status}" for link in facts.gpus.p2p if link.status != "ok"]
    add("GPUs", "peer-to-peer not ok", broken)

    t = facts.torch
    add("PyTorch", "version", t.version, t, "version")
    if t.version:
        if t.hip:
            add("PyTorch", "built with ROCm", t.hip, t, "hip")
        elif t.cuda or build_kind(facts) == "CPU build":
            add("PyTorch", "built with CUDA", t.cuda or "no (CPU build)", t, "cuda")
        # else: the facts do not say how torch was built, and the row would claim it
    add("PyTorch", "location", t.location, t, "location")
    add("PyTorch", "installed by", t.installer, t, "installer")
    if len(t.copies) > 1:
        add("PyTorch", "copies on sys.path", t.copies, t, "copies")
    add("PyTorch", "import error", t.import_error, t, "import_error")
    add("PyTorch", "CUDA available", t.cuda_available, t, "cuda_available")
    add("PyTorch", "devices", t.device_count if t.cuda_available else None, t, "device_count")
    add("PyTorch", "compiled architectures", t.arch_list, t, "arch_list")
    add("PyTorch", "cuDNN", t.cudnn_version, t, "cudnn_version")
    add("PyTorch", "NCCL", t.nccl_version, t, "nccl_version")
    add("PyTorch", "CUDA init error", t.cuda_init_error, t, "cuda_init_error")
    for smoke in t.smoke:
        results = (smoke.matmul_ok, smoke.conv_ok)
        if smoke.error or False in results:
            outcome = f"failed: {smoke.error or 'wrong result'}"
        else:  # None is "not run" (the child died first), which is not a failure of the kernels
            outcome = "passed" if all(results) else "not finished"
        add("PyTorch", f"smoke test, device {smoke.device}", outcome)
    for pkg in facts.companions:
        add("Packages", pkg.name, f"{pkg.version or '?'}" + (f" ({pkg.installer})" if pkg.installer else ""))

    k = facts.toolkit
    add("CUDA toolkit", "CUDA_HOME (extensions build with)", k.cuda_home, k, "cuda_home")
    add("CUDA toolkit", "found by", k.found_by, k, "found_by")
    add("CUDA toolkit", "version", k.version, k, "version")
    add("CUDA toolkit", "other toolkits", [f"{o.path} ({o.version or '?'})" for o in k.others], k, "others")

    s = facts.system
    add("System", "OS", " ".join(p for p in (s.os, s.distro, s.kernel, s.machine) if p), s, "os")
    add("System", "Python", " ".join(p for p in (s.python_version, s.python_executable) if p), s, "python_version")
    add("System", "container", s.container, s, "container")
    add("System", "WSL", s.wsl or None, s, "wsl")
    add("System", "Jetson", s.jetson or None, s, "jetson")
    if s.shm_total_bytes is not None:
        add(
            "System",
            "/dev/shm",
            _bytes(s.shm_total_bytes) + (f" ({_bytes(s.shm_free_bytes)} free)" if s.shm_free_bytes is not None else ""),
            s,
            "shm_total_bytes",
        )
    add("System", "container network", s.container_network, s, "container_network")
    add("System", "container IPC namespace", s.container_ipc, s, "container_ipc")
    machines = {True: "several", False: "one"}.get(s.multi_node) if s.multi_node is not None else None
    add("System", "machines in the job", machines, s, "multi_node")
    add("System", "NCCL's interfaces", s.nccl_interfaces, s, "nccl_interfaces")
    add("System", "conda environment", s.conda_prefix, s, "conda_prefix")
    add("System", "virtual environment", s.venv, s, "venv")
    for name, value in sorted(s.env.items()):
        add("Environment", name, _short_clauses(value) if value else '""', s, "env")
    for title, section in (("Driver", d), ("GPUs", facts.gpus), ("PyTorch", t), ("CUDA toolkit", k), ("System", s)):
        for error in section.errors:  # a probe that failed says why, so a gap in the facts is explained
            rows.append(FactRow(title, "could not find out", error, "probe"))
    for hit in facts.signatures:
        where = f"line {hit.line}: " if hit.line else ""
        rows.append(FactRow("Report", hit.id, f"{where}{hit.excerpt}", "report"))
    return rows
