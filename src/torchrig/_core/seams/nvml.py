"""The NVML calls the driver and GPU probes make, behind one small interface.

    >>> nvml = PynvmlNvml()
    >>> nvml.init()                      # raises NvmlError("Driver/library version mismatch", code=18)
    >>> nvml.driver_version()
    '580.95.05'
    >>> nvml.cuda_driver_version()       # what the banner of nvidia-smi calls "CUDA Version"
    13000
    >>> nvml.compute_capability(0)
    (8, 6)
    >>> nvml.p2p_status(0, 1)
    'ok'

Every call raises :class:`NvmlError` on failure, with the message nvidia-smi would print for the same
NVML return code ("Driver/library version mismatch", "Driver Not Loaded", "Not Supported"), so a
fact gathered through NVML reads the same as one parsed from someone's pasted nvidia-smi output.

:class:`PynvmlNvml` is the real implementation (the ``pynvml`` module of ``nvidia-ml-py``; nothing
else in torchrig imports ``pynvml``). :class:`FakeNvml` replays recorded values for tests.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# NVML return codes (nvml.h) and the text nvidia-smi prints for them after "Failed to initialize NVML: ".
# pynvml's own strings differ for some codes (18 reads "RM has detected an NVML/RM version mismatch."),
# so we map the codes ourselves to match what users paste into issues.
ERROR_TEXT: dict[int, str] = {
    1: "Uninitialized",
    2: "Invalid Argument",
    3: "Not Supported",
    4: "Insufficient Permissions",
    6: "Not Found",
    9: "Driver Not Loaded",
    10: "Timeout",
    12: "NVML Shared Library Not Found",
    13: "Function Not Found",
    14: "Corrupted infoROM",
    15: "GPU is lost",
    16: "GPU requires restart",
    17: "The operating system has blocked the request.",
    18: "Driver/library version mismatch",
    20: "Insufficient Memory",
    999: "Unknown Error",
}
NOT_SUPPORTED = 3
LIBRARY_NOT_FOUND = 12

# nvmlGpuP2PStatus_t -> the words torchrig's facts use (nvidia-smi topo -p2p prints OK/CNS/GNS/TNS/DR/NS/U).
P2P_STATUS: dict[int, str] = {
    0: "ok",
    1: "chipset-not-supported",
    2: "not-supported",  # the GPU does not support P2P
    3: "topology-not-supported",
    4: "disabled-by-regkey",
    5: "not-supported",
    6: "unknown",
}


class NvmlError(Exception):
    """An NVML call failed; ``str()`` is the text nvidia-smi would print, ``code`` the NVML return code."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    @classmethod
    def from_code(cls, code: int) -> NvmlError:
        return cls(ERROR_TEXT.get(code, f"NVML error {code}"), code)


class Nvml(Protocol):
    """The NVML calls torchrig makes. ``init`` first; every call may raise :class:`NvmlError`."""

    def init(self) -> None: ...
    def shutdown(self) -> None: ...
    def driver_version(self) -> str: ...
    def cuda_driver_version(self) -> int: ...  # 12040 for CUDA 12.4
    def device_count(self) -> int: ...
    def name(self, index: int) -> str: ...
    def uuid(self, index: int) -> str: ...
    def compute_capability(self, index: int) -> tuple[int, int]: ...
    def memory_total_bytes(self, index: int) -> int: ...
    def mig_mode(self, index: int) -> bool: ...  # current mode; raises "Not Supported" on GPUs without MIG
    def persistence_mode(self, index: int) -> bool: ...
    def pci_bus_id(self, index: int) -> str: ...  # "00000000:01:00.0", as NVML prints it
    def p2p_status(self, a: int, b: int) -> str: ...  # read capability, one of P2P_STATUS's values


class PynvmlNvml:
    """The real NVML, through ``pynvml``. Importing ``pynvml`` is deferred to :meth:`init`."""

    def __init__(self) -> None:
        self._nv: Any = None
        self._handles: dict[int, Any] = {}

    def _call(self, fn: str, *args: Any) -> Any:
        nv = self._nv
        if nv is None:
            raise NvmlError.from_code(1)
        try:
            value = getattr(nv, fn)(*args)
        except nv.NVMLError as exc:
            raise NvmlError.from_code(int(getattr(exc, "value", 999))) from None
        return value.decode(errors="replace") if isinstance(value, bytes) else value

    def _handle(self, index: int) -> Any:
        if index not in self._handles:
            self._handles[index] = self._call("nvmlDeviceGetHandleByIndex", index)
        return self._handles[index]

    def init(self) -> None:
        try:
            import pynvml
        except ImportError:
            raise NvmlError("the pynvml module (nvidia-ml-py) is not installed") from None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise NvmlError.from_code(int(getattr(exc, "value", 999))) from None
        except OSError as exc:  # a libnvidia-ml.so that exists but cannot be loaded
            raise NvmlError(f"NVML Shared Library could not be loaded: {exc}", LIBRARY_NOT_FOUND) from None
        self._nv = pynvml

    def shutdown(self) -> None:
        if self._nv is not None:
            with contextlib.suppress(self._nv.NVMLError):
                self._nv.nvmlShutdown()
            self._nv = None
            self._handles.clear()

    def driver_version(self) -> str:
        return str(self._call("nvmlSystemGetDriverVersion"))

    def cuda_driver_version(self) -> int:
        return int(self._call("nvmlSystemGetCudaDriverVersion"))

    def device_count(self) -> int:
        return int(self._call("nvmlDeviceGetCount"))

    def name(self, index: int) -> str:
        return str(self._call("nvmlDeviceGetName", self._handle(index)))

    def uuid(self, index: int) -> str:
        return str(self._call("nvmlDeviceGetUUID", self._handle(index)))

    def compute_capability(self, index: int) -> tuple[int, int]:
        major, minor = self._call("nvmlDeviceGetCudaComputeCapability", self._handle(index))
        return int(major), int(minor)

    def memory_total_bytes(self, index: int) -> int:
        return int(self._call("nvmlDeviceGetMemoryInfo", self._handle(index)).total)

    def mig_mode(self, index: int) -> bool:
        current, _pending = self._call("nvmlDeviceGetMigMode", self._handle(index))
        return bool(current)

    def persistence_mode(self, index: int) -> bool:
        return bool(self._call("nvmlDeviceGetPersistenceMode", self._handle(index)))

    def pci_bus_id(self, index: int) -> str:
        info = self._call("nvmlDeviceGetPciInfo", self._handle(index))
        bus_id = info.busId
        return bus_id.decode(errors="replace") if isinstance(bus_id, bytes) else str(bus_id)

    def p2p_status(self, a: int, b: int) -> str:
        read = self._nv.NVML_P2P_CAPS_INDEX_READ if self._nv is not None else 0
        code = self._call("nvmlDeviceGetP2PStatus", self._handle(a), self._handle(b), read)
        return P2P_STATUS.get(int(code), "unknown")


@dataclass
class FakeNvml:
    """Recorded NVML answers for tests.

    ``errors`` maps a method name (``"init"``, ``"mig_mode"``, ...) to the NVML message it raises, for
    every device, or ``"mig_mode:1"`` for device 1 only. ``devices`` hold one dict per GPU with the keys
    ``name``, ``uuid``, ``compute_capability`` ([8, 0]), ``memory_total_bytes``, ``mig_mode``,
    ``persistence_mode``, ``pci_bus_id``. ``p2p`` maps ``"0,1"`` to a status; unlisted pairs get ``p2p_default``.
    ``calls`` records every method called, so a test can say NVML was (or was not) used.
    """

    driver: str | None = None
    cuda_driver: int | None = None
    devices: list[dict[str, Any]] = field(default_factory=list)
    p2p: dict[str, str] = field(default_factory=dict)
    p2p_default: str = "ok"
    errors: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    _inits: int = 0  # NVML counts init/shutdown pairs; the driver and GPU probes share one fake

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FakeNvml:
        return cls(
            driver=data.get("driver_version"),
            cuda_driver=data.get("cuda_driver_version"),
            devices=[dict(d) for d in data.get("devices", [])],
            p2p=dict(data.get("p2p", {})),
            p2p_default=data.get("p2p_default", "ok"),
            errors=dict(data.get("errors", {})),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> FakeNvml:
        """A fake from a recorded JSON file (see tests/fixtures/recorded/nvml/)."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def _check(self, method: str, index: int | None = None) -> None:
        self.calls.append(method)
        if method != "init" and self._inits <= 0:
            raise NvmlError.from_code(1)
        message = self.errors.get(f"{method}:{index}") if index is not None else None
        message = message or self.errors.get(method)
        if message:
            code = next((c for c, text in ERROR_TEXT.items() if text == message), None)
            raise NvmlError(message, code)

    def _device(self, method: str, index: int, key: str) -> Any:
        self._check(method, index)
        if not 0 <= index < len(self.devices):
            raise NvmlError.from_code(2)
        value = self.devices[index].get(key)
        if value is None:
            raise NvmlError.from_code(NOT_SUPPORTED)
        return value

    def init(self) -> None:
        self._check("init")
        self._inits += 1

    def shutdown(self) -> None:
        self.calls.append("shutdown")
        self._inits = max(0, self._inits - 1)

    def driver_version(self) -> str:
        self._check("driver_version")
        if self.driver is None:
            raise NvmlError.from_code(NOT_SUPPORTED)
        return self.driver

    def cuda_driver_version(self) -> int:
        self._check("cuda_driver_version")
        if self.cuda_driver is None:
            raise NvmlError.from_code(NOT_SUPPORTED)
        return self.cuda_driver

    def device_count(self) -> int:
        self._check("device_count")
        return len(self.devices)

    def name(self, index: int) -> str:
        return str(self._device("name", index, "name"))

    def uuid(self, index: int) -> str:
        return str(self._device("uuid", index, "uuid"))

    def compute_capability(self, index: int) -> tuple[int, int]:
        major, minor = self._device("compute_capability", index, "compute_capability")
        return int(major), int(minor)

    def memory_total_bytes(self, index: int) -> int:
        return int(self._device("memory_total_bytes", index, "memory_total_bytes"))

    def mig_mode(self, index: int) -> bool:
        return bool(self._device("mig_mode", index, "mig_mode"))

    def persistence_mode(self, index: int) -> bool:
        return bool(self._device("persistence_mode", index, "persistence_mode"))

    def pci_bus_id(self, index: int) -> str:
        return str(self._device("pci_bus_id", index, "pci_bus_id"))

    def p2p_status(self, a: int, b: int) -> str:
        self._check("p2p_status", a)
        return self.p2p.get(f"{a},{b}") or self.p2p.get(f"{b},{a}") or self.p2p_default
