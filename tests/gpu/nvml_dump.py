"""Dump what NVML answers on this machine as JSON, in the format of tests/fixtures/recorded/nvml/*.json.

    python3 tests/gpu/nvml_dump.py [SOURCE] > machine.json

The output is what :meth:`FakeNvml.from_json` (torchrig's NVML seam) replays: ``driver_version``,
``cuda_driver_version`` (NVML's integer, 13000 for 13.0), one dict per GPU (``name``, ``uuid``,
``compute_capability`` as ``[major, minor]``, ``memory_total_bytes``, ``mig_mode``, ``persistence_mode``,
``pci_bus_id`` as NVML prints it), ``p2p`` (``"a,b"`` -> status, read capability) and ``errors``
(method, or ``method:index``, -> the text nvidia-smi prints for that NVML return code). A value NVML
answers "Not Supported" is ``null``, which the fake answers the same way. Keys starting with ``_`` are
extra evidence for a person (the fake ignores them): ``_source``, and per GPU the raw memory figures.

It asks ``pynvml`` directly, not torchrig's seam, so a mistake in the seam cannot hide in its own
recording; only the tables of messages and P2P statuses are torchrig's, to match what the fake expects.
It never fails: whatever goes wrong is recorded in ``errors`` and the exit status is 0.
"""

from __future__ import annotations

import contextlib
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

try:
    from torchrig._core.seams.nvml import ERROR_TEXT, NOT_SUPPORTED, P2P_STATUS
except ImportError:
    try:  # the layout before _core/
        from torchrig.seams.nvml import ERROR_TEXT, NOT_SUPPORTED, P2P_STATUS  # type: ignore[no-redef]
    except ImportError:  # a copy of this script without the checkout: NVML's own words then
        ERROR_TEXT, NOT_SUPPORTED, P2P_STATUS = {}, 3, {}

_NOT_SUPPORTED = object()


def _text(exc: Exception) -> str:
    code = getattr(exc, "value", None)
    if isinstance(code, int) and code in ERROR_TEXT:
        return ERROR_TEXT[code]
    return str(exc) or type(exc).__name__


def _decode(value: Any) -> Any:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def dump(source: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "_source": source,
        "driver_version": None,
        "cuda_driver_version": None,
        "devices": [],
        "p2p": {},
        "errors": {},
    }
    try:
        import pynvml
    except ImportError as exc:
        out["errors"]["init"] = f"the pynvml module (nvidia-ml-py) is not installed: {exc}"
        return out
    with contextlib.suppress(metadata.PackageNotFoundError):
        out["_source"] += f" (nvidia-ml-py {metadata.version('nvidia-ml-py')})"

    def call(key: str, fn: Any, *args: Any) -> Any:
        try:
            return _decode(fn(*args))
        except pynvml.NVMLError as exc:
            if getattr(exc, "value", None) != NOT_SUPPORTED:
                out["errors"][key] = _text(exc)
            return _NOT_SUPPORTED
        except Exception as exc:  # an older pynvml without the function, a ctypes surprise
            out["errors"][key] = f"{type(exc).__name__}: {exc}"
            return _NOT_SUPPORTED

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        out["errors"]["init"] = _text(exc)
        return out
    except OSError as exc:
        out["errors"]["init"] = f"NVML Shared Library could not be loaded: {exc}"
        return out
    try:
        for key, fn in (
            ("driver_version", pynvml.nvmlSystemGetDriverVersion),
            ("cuda_driver_version", pynvml.nvmlSystemGetCudaDriverVersion),
        ):
            value = call(key, fn)
            out[key] = None if value is _NOT_SUPPORTED else value
        nvml_version = call("_nvml_version", pynvml.nvmlSystemGetNVMLVersion)
        if nvml_version is not _NOT_SUPPORTED:
            out["_nvml_version"] = nvml_version
        count = call("device_count", pynvml.nvmlDeviceGetCount)
        handles = []
        for index in range(0 if count is _NOT_SUPPORTED else count):
            handle = call(f"_handle:{index}", pynvml.nvmlDeviceGetHandleByIndex, index)
            handles.append(handle)
            out["devices"].append({} if handle is _NOT_SUPPORTED else _device(pynvml, handle, index, call))
        for a in range(len(handles)):
            for b in range(a + 1, len(handles)):
                if _NOT_SUPPORTED in (handles[a], handles[b]):
                    continue
                status = call(
                    f"p2p_status:{a}",
                    pynvml.nvmlDeviceGetP2PStatus,
                    handles[a],
                    handles[b],
                    pynvml.NVML_P2P_CAPS_INDEX_READ,
                )
                if status is not _NOT_SUPPORTED:
                    out["p2p"][f"{a},{b}"] = P2P_STATUS.get(int(status), f"unknown ({status})")
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()
    return out


def _device(pynvml: Any, handle: Any, index: int, call: Any) -> dict[str, Any]:
    def value(method: str, fn: Any, *args: Any) -> Any:
        got = call(f"{method}:{index}", fn, handle, *args)
        return None if got is _NOT_SUPPORTED else got

    capability = value("compute_capability", pynvml.nvmlDeviceGetCudaComputeCapability)
    memory = value("memory_total_bytes", pynvml.nvmlDeviceGetMemoryInfo)
    mig = value("mig_mode", pynvml.nvmlDeviceGetMigMode)
    pci = value("pci_bus_id", pynvml.nvmlDeviceGetPciInfo)
    persistence = value("persistence_mode", pynvml.nvmlDeviceGetPersistenceMode)
    device: dict[str, Any] = {
        "name": value("name", pynvml.nvmlDeviceGetName),
        "uuid": value("uuid", pynvml.nvmlDeviceGetUUID),
        "compute_capability": [int(capability[0]), int(capability[1])] if capability else None,
        "memory_total_bytes": int(memory.total) if memory is not None else None,
        "mig_mode": bool(mig[0]) if mig is not None else None,
        "persistence_mode": bool(persistence) if persistence is not None else None,
        "pci_bus_id": _decode(pci.busId) if pci is not None else None,
    }
    if memory is not None:
        device["_memory_v1"] = {"total": int(memory.total), "free": int(memory.free), "used": int(memory.used)}
    version = getattr(pynvml, "nvmlMemory_v2", None)
    if version is not None:
        v2 = call(f"_memory_v2:{index}", pynvml.nvmlDeviceGetMemoryInfo, handle, version)
        if v2 is not _NOT_SUPPORTED:
            device["_memory_v2"] = {
                k: int(getattr(v2, k)) for k in ("total", "reserved", "free", "used") if hasattr(v2, k)
            }
    if pci is not None:
        device["_pci_device_id"] = f"0x{int(pci.pciDeviceId):08x}"
    return device


def main() -> None:
    source = sys.argv[1] if len(sys.argv) > 1 else "recorded by tests/gpu/nvml_dump.py"
    try:
        data = dump(source)
    except Exception as exc:  # never fail the recording run
        data = {"_source": source, "errors": {"init": f"the dumper failed: {type(exc).__name__}: {exc}"}}
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
