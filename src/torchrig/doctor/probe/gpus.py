"""Every GPU the driver sees, and whether each pair can talk peer-to-peer.

NVML first (name, UUID, compute capability, memory, MIG and persistence mode, PCI bus id, and
``nvmlDeviceGetP2PStatus`` for every pair); when NVML cannot be used, ``nvidia-smi --query-gpu``
(not in quick mode). A field a GPU does not support ("Not Supported", "[N/A]") stays ``None``;
other failures are recorded per GPU in ``errors``.

PCI bus ids are written the way ``/sys/bus/pci/devices`` names them ("0000:01:00.0"), so a GPU can
be matched with the PCI device the system probe saw even when the driver is not loaded.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from torchrig._core.seams.nvml import NOT_SUPPORTED, Nvml, NvmlError
from torchrig._core.seams.runner import Completed
from torchrig.doctor.facts import Gpu, GpuFacts, P2PLink
from torchrig.doctor.probe import nvidia_smi

if TYPE_CHECKING:
    from torchrig.doctor.probe import Host

T = TypeVar("T")

_QUERY = ("index", "name", "uuid", "compute_cap", "memory.total", "mig.mode.current", "persistence_mode", "pci.bus_id")


def normalise_bus_id(bus_id: str) -> str:
    """NVML's "00000000:01:00.0" (and nvidia-smi's) as sysfs writes it: "0000:01:00.0"."""
    bus_id = bus_id.strip().lower()
    domain, sep, rest = bus_id.partition(":")
    if sep and len(domain) > 4:
        return f"{domain[-4:]}:{rest}"
    return bus_id


def probe(host: Host, quick: bool) -> GpuFacts:
    facts = GpuFacts()
    if platform.system() == "Darwin":
        return facts  # Apple GPUs are not NVIDIA's: MPS is torch's business, reported by the torch probe
    nvml_ok = _nvml(host, facts)
    if not nvml_ok and not quick:
        _nvidia_smi(host, facts)
    return facts


def _nvml(host: Host, facts: GpuFacts) -> bool:
    nvml = host.nvml()
    try:
        nvml.init()
    except NvmlError:
        return False  # the driver probe records why
    try:
        count = nvml.device_count()
        for index in range(count):
            facts.devices.append(_device(nvml, index, facts.errors))
        for a in range(count):
            for b in range(a + 1, count):
                try:
                    facts.p2p.append(P2PLink(a, b, nvml.p2p_status(a, b), source="nvml"))
                except NvmlError as exc:
                    facts.errors.append(f"NVML P2P status of GPUs {a} and {b}: {exc}")
        facts.sources["devices"] = "nvml"
        if count > 1:
            facts.sources["p2p"] = "nvml"
        return True
    except NvmlError as exc:
        facts.errors.append(f"NVML device count: {exc}")
        return False
    finally:
        nvml.shutdown()


def _device(nvml: Nvml, index: int, errors: list[str]) -> Gpu:
    def get(what: str, call: Callable[[int], T]) -> T | None:
        try:
            return call(index)
        except NvmlError as exc:
            if exc.code != NOT_SUPPORTED:
                errors.append(f"NVML {what} of GPU {index}: {exc}")
            return None

    capability = get("compute capability", nvml.compute_capability)
    memory = get("memory", nvml.memory_total_bytes)
    bus_id = get("PCI bus id", nvml.pci_bus_id)
    return Gpu(
        index=index,
        name=get("name", nvml.name),
        uuid=get("UUID", nvml.uuid),
        compute_capability=f"{capability[0]}.{capability[1]}" if capability else None,
        memory_total_mib=memory // (1 << 20) if memory is not None else None,
        mig_mode=get("MIG mode", nvml.mig_mode),
        persistence_mode=get("persistence mode", nvml.persistence_mode),
        pci_bus_id=normalise_bus_id(bus_id) if bus_id else None,
        source="nvml",
    )


def _nvidia_smi(host: Host, facts: GpuFacts) -> None:
    fields = list(_QUERY)
    result = _query(host, fields)
    if not result.ok and "compute_cap" in nvidia_smi.output_of(result):
        # drivers before 510 do not know the compute_cap field and reject the whole query
        fields.remove("compute_cap")
        result = _query(host, fields)
    if not result.ok:
        output = nvidia_smi.output_of(result)
        # "not found" and NVML's own failures ("Driver/library version mismatch") are the driver probe's to report
        if result.error != "not found" and nvidia_smi.parse_failure(output) is None:
            trimmed = " ".join(output.split())[:300]
            facts.errors.append(f"nvidia-smi --query-gpu failed ({result.error or result.returncode}): {trimmed}")
        return
    for row in nvidia_smi.parse_query_csv(result.stdout):
        try:
            index = int(row["index"] or "")
        except ValueError:
            continue
        memory = row.get("memory.total")
        mig = row.get("mig.mode.current")
        persistence = row.get("persistence_mode")
        bus_id = row.get("pci.bus_id")
        facts.devices.append(
            Gpu(
                index=index,
                name=row.get("name"),
                uuid=row.get("uuid"),
                compute_capability=row.get("compute_cap"),
                memory_total_mib=int(float(memory)) if memory and memory.replace(".", "", 1).isdigit() else None,
                mig_mode=(mig == "Enabled") if mig else None,
                persistence_mode=(persistence == "Enabled") if persistence else None,
                pci_bus_id=normalise_bus_id(bus_id) if bus_id else None,
                source="nvidia-smi",
            )
        )
    if facts.devices:
        facts.sources["devices"] = "nvidia-smi"


def _query(host: Host, fields: list[str]) -> Completed:
    return nvidia_smi.run(host, [f"--query-gpu={','.join(fields)}", "--format=csv,nounits"])
