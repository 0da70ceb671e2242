"""The Facts model: what torchrig knows about a machine, live or read from someone's report.

Probes (:mod:`torchrig.doctor.probe`) fill it on this machine; :mod:`torchrig.doctor.report` fills it from a
pasted ``collect_env`` output, a log or a saved ``--json``. Checks (:mod:`torchrig.doctor.checks`) read it
and never touch the machine. Every field is optional: a report may say nothing about the driver, and
a probe that failed leaves its fields ``None`` and says why in ``errors``.

Provenance: each section has ``sources`` (field name -> where the value came from: ``nvml``,
``/proc``, ``/sys``, ``nvidia-smi``, ``torch``, ``importlib``, ``env``, ``report``) and ``errors``
(what went wrong while gathering it, one line each).

JSON round-trip: ``Facts.from_dict(facts.to_dict()) == facts``. The dict is the ``facts`` member of
``torchrig doctor --json`` (schema ``torchrig.doctor/1``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

SCHEMA = "torchrig.doctor/1"


@dataclass
class Section:
    """Provenance shared by every section."""

    sources: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def set(self, name: str, value: Any, source: str) -> None:
        """Set a field and record where it came from, unless a value is already there."""
        if getattr(self, name) in (None, [], {}):
            setattr(self, name, value)
            self.sources[name] = source


@dataclass
class DriverFacts(Section):
    kernel_module: str | None = None  # "580.95.05": the loaded kernel module (/proc, /sys)
    userspace: str | None = None  # "580.95.05": the user-space library (NVML, nvidia-smi)
    cuda_driver_api: str | None = None  # "13.0": newest CUDA the driver supports (NVML, smi banner)
    nvml_error: str | None = None  # "Driver/library version mismatch", "NVML Shared Library Not Found"
    smi_error: str | None = None  # what nvidia-smi printed when it failed


@dataclass
class Gpu:
    index: int
    name: str | None = None
    uuid: str | None = None
    compute_capability: str | None = None  # "8.6"
    memory_total_mib: int | None = None
    mig_mode: bool | None = None
    persistence_mode: bool | None = None
    pci_bus_id: str | None = None
    source: str | None = None


@dataclass
class P2PLink:
    a: int
    b: int
    status: str  # "ok", "not-supported", "chipset-not-supported", "disabled-by-regkey", "unknown", "broken"
    source: str | None = None


@dataclass
class GpuFacts(Section):
    devices: list[Gpu] = field(default_factory=list)
    p2p: list[P2PLink] = field(default_factory=list)


@dataclass
class LoadedLib:
    name: str  # "libcudnn.so.9"
    path: str  # where it was mapped from (/proc/self/maps of the process that imported torch)


@dataclass
class DeviceSmoke:
    device: int
    name: str | None = None
    capability: str | None = None  # as torch sees it: "8.6"
    matmul_ok: bool | None = None
    conv_ok: bool | None = None
    error: str | None = None


@dataclass
class TorchFacts(Section):
    installed: bool | None = None
    version: str | None = None  # "2.13.0+cu130"
    cuda: str | None = None  # torch.version.cuda: "13.0", None for a CPU build
    hip: str | None = None
    location: str | None = None  # the package directory
    installer: str | None = None  # "pip", "conda", "uv", ...
    copies: list[str] = field(default_factory=list)  # every torch package directory on sys.path
    python: str | None = None  # interpreter that ran the import
    import_ok: bool | None = None
    import_error: str | None = None  # last line(s) of the traceback
    cuda_available: bool | None = None
    device_count: int | None = None
    arch_list: list[str] = field(default_factory=list)  # torch.cuda.get_arch_list(): ["sm_75", ...]
    cudnn_version: str | None = None  # "9.10.2"
    nccl_version: str | None = None  # "2.27.5"
    cuda_init_error: str | None = None
    smoke: list[DeviceSmoke] = field(default_factory=list)
    loaded_libs: list[LoadedLib] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # warnings torch printed while initialising
    replaced: str | None = None  # a report: the torch pip uninstalled to put ``version`` in its place


@dataclass
class Package:
    name: str
    version: str | None = None
    location: str | None = None
    installer: str | None = None
    requires: list[str] = field(default_factory=list)  # Requires-Dist lines


@dataclass
class ToolkitInstall:
    path: str
    version: str | None = None


@dataclass
class ToolkitFacts(Section):
    cuda_home: str | None = None  # the toolkit PyTorch's extension builder would use
    found_by: str | None = None  # "CUDA_HOME", "CUDA_PATH", "nvcc on PATH", "/usr/local/cuda", "conda"
    nvcc: str | None = None
    version: str | None = None  # "13.0"
    others: list[ToolkitInstall] = field(default_factory=list)
    headers: bool | None = None  # cuda_home holds include/cuda_runtime.h (extensions compile against it)


@dataclass
class PciDevice:
    address: str  # "0000:01:00.0"
    vendor: str  # "0x10de"
    device: str  # "0x2684"
    device_class: str  # "0x030000"


@dataclass
class ShadowedModule:
    name: str  # "torch"
    path: str  # the file or directory that shadows it


@dataclass
class SystemFacts(Section):
    os: str | None = None  # "Linux", "Darwin", "Windows"
    kernel: str | None = None
    distro: str | None = None
    machine: str | None = None  # "x86_64", "aarch64"
    python_version: str | None = None
    python_executable: str | None = None
    container: str | None = None  # "docker", "podman", "kubernetes", "lxc", None when not in one
    wsl: bool | None = None
    jetson: bool | None = None
    shm_total_bytes: int | None = None
    shm_free_bytes: int | None = None
    env: dict[str, str] = field(default_factory=dict)  # only the variables that matter (see probe.system)
    # variables of ``env`` the program's own code sets (a report's os.environ[...] = ...), name -> that line:
    # a fix in the shell (`unset`, `export`) would not change them
    set_in_program: dict[str, str] = field(default_factory=dict)
    conda_prefix: str | None = None
    venv: str | None = None
    dev_nodes: list[str] = field(default_factory=list)  # /dev/nvidia0, /dev/nvidiactl, /dev/dxg, ...
    pci_gpus: list[PciDevice] = field(default_factory=list)  # NVIDIA display/3D controllers on the bus
    shadowed_modules: list[ShadowedModule] = field(default_factory=list)
    # where an installer that found no torch looked (pip's "Looking in indexes/links:" URLs), and the line where it
    # said it could not reach an index (report/installer.py)
    package_indexes: list[str] = field(default_factory=list)
    index_unreachable: str | None = None
    # a report: the interfaces NCCL's NET/Socket and Bootstrap lines say it uses, as "name:address" ("eth0:10.0.0.1")
    nccl_interfaces: list[str] = field(default_factory=list)
    multi_node: bool | None = None  # the job spans several machines (a launcher's node count, NCCL's, the reporter's)
    # a report's docker run / compose: its network ("host", "bridge": Docker's default where none is given, or a
    # named network) and IPC namespace ("host": the host's /dev/shm)
    container_network: str | None = None
    container_ipc: str | None = None


@dataclass
class SignatureHit:
    """A known error signature recognised in a report or log (see knowledge/signatures)."""

    id: str  # "cuda.no-kernel-image"
    excerpt: str  # the line that matched
    line: int | None = None


@dataclass
class Facts:
    origin: str = "live"  # "live" or "report"
    report_format: str | None = None  # "collect_env", "torchrig-json", "log" when origin == "report"
    driver: DriverFacts = field(default_factory=DriverFacts)
    gpus: GpuFacts = field(default_factory=GpuFacts)
    torch: TorchFacts = field(default_factory=TorchFacts)
    companions: list[Package] = field(default_factory=list)  # torchvision, torchaudio, flash-attn, ...
    toolkit: ToolkitFacts = field(default_factory=ToolkitFacts)
    system: SystemFacts = field(default_factory=SystemFacts)
    signatures: list[SignatureHit] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # what a report shows a program died of (report/failures.py)
    tried: list[str] = field(default_factory=list)  # installer commands a report shows were run (report/tried.py)
    timings: dict[str, float] = field(default_factory=dict)  # probe name -> seconds

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Facts:
        """Rebuild from :meth:`to_dict` output; unknown keys are ignored (newer writers)."""
        return _build(cls, data)

    def is_empty(self) -> bool:
        """Whether nothing at all is known: no value in any section, no package, no signature, no failure."""
        sections = (self.driver, self.gpus, self.torch, self.toolkit, self.system)
        known = any(
            getattr(section, f.name) not in (None, [], {}, False)
            for section in sections
            for f in dataclasses.fields(section)
            if f.name not in ("sources", "errors")
        )
        return not (known or self.companions or self.signatures or self.failures)

    def companion(self, name: str) -> Package | None:
        for pkg in self.companions:
            if pkg.name.lower() == name.lower():
                return pkg
        return None


T = TypeVar("T")


def _build(cls: type[T], data: Any) -> T:
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be an object, not {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data and data[f.name] is None and f.default_factory is not dataclasses.MISSING:
            continue  # a section written as null is a section nobody filled: unknown, the default
        if f.name in data:
            try:
                kwargs[f.name] = _convert(hints[f.name], data[f.name])
            except TypeError as exc:
                raise TypeError(f"{cls.__name__}.{f.name}: {exc}") from None
    return cls(**kwargs)


def _convert(tp: Any, value: Any) -> Any:
    """``value`` as type ``tp``; a value of another type is a TypeError (a saved report is someone's file)."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_convert(item, v) for v in _expect(value, list)]
    if origin is dict:
        _, item = typing.get_args(tp)
        return {k: _convert(item, v) for k, v in _expect(value, dict).items()}
    if dataclasses.is_dataclass(tp):
        return _build(typing.cast("type[Any]", tp), value)  # a type hint: the class, never an instance
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (str, int, float, bool) and (not isinstance(value, tp) or (tp is int and isinstance(value, bool))):
        raise TypeError(f"expected {tp.__name__}, got {type(value).__name__} {value!r:.40}")
    return value


def _expect(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise TypeError(
            f"expected a{'n' if kind is dict else ''} {'object' if kind is dict else 'list'}, "
            f"got {type(value).__name__} {value!r:.40}"
        )
    return value
