"""``nvidia-smi`` output -> Facts: the table, ``nvidia-smi -q`` and ``nvidia-smi -L``.

What each form prints (nvidia-smi's man page and its output since R410):

- the table: a banner ("NVIDIA-SMI 550.127.05  Driver Version: 550.127.05  CUDA Version: 12.4", read by
  :mod:`.logs`), then per GPU a row ``|   0  NVIDIA GeForce RTX 4090   Off |   00000000:01:00.0  On |``:
  index, name (cut with "..." when long), persistence mode (On/Off; on Windows the driver model, WDDM
  or TCC), bus id, and on the next row the memory "512MiB /  24564MiB";
- ``-q``: "Driver Version : 550.127.05", "CUDA Version : 12.4", then per GPU a block opened by
  "GPU 00000000:17:00.0" with "Product Name", "GPU UUID", "Persistence Mode", MIG "Current", and
  "FB Memory Usage" / "Total : 81920 MiB";
- ``-L``: "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-...)" (read by :mod:`.logs`).

A name nvidia-smi cut short ("NVIDIA GeForce RTX 4070 ...") is kept as printed; its compute capability
is then looked up only if the shortened name still names one model.
"""

from __future__ import annotations

import re

from torchrig.doctor.facts import Facts, Gpu
from torchrig.doctor.report.collect_env import SOURCE, put

_TABLE_ROW = re.compile(
    r"^\|[ \t]+(?P<index>\d{1,2})[ \t]+(?P<name>\S[^|\n]*?)[ \t]+(?P<mode>On|Off|WDDM|TCC|N/A)[ \t]*\|"
    r"[ \t]*(?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d)[ \t]"
    r"(?:[^\n]*\n\|?[^\n|]*\|[ \t]*\d+MiB[ \t]*/[ \t]*(?P<total>\d+)MiB)?",  # "| N/A" loses its "|" to quoting
    re.MULTILINE,
)
_Q_DRIVER = re.compile(r"^Driver Version[ \t]+:[ \t]*(?P<version>\d{3}\.\d+(?:\.\d+)?)[ \t]*$", re.MULTILINE)
_Q_CUDA = re.compile(r"^CUDA Version[ \t]+:[ \t]*(?P<version>\d+\.\d+)[ \t]*$", re.MULTILINE)
_Q_GPU = re.compile(r"^GPU (?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d)[ \t]*$", re.MULTILINE)
_Q_FIELD = {
    "name": re.compile(r"^[ \t]+Product Name[ \t]+:[ \t]*(?P<value>\S[^\n]*?)[ \t]*$", re.MULTILINE),
    "uuid": re.compile(r"^[ \t]+GPU UUID[ \t]+:[ \t]*(?P<value>GPU-[0-9A-Fa-f-]+)[ \t]*$", re.MULTILINE),
    "persistence": re.compile(r"^[ \t]+Persistence Mode[ \t]+:[ \t]*(?P<value>Enabled|Disabled)", re.MULTILINE),
    "memory": re.compile(r"^[ \t]+FB Memory Usage[ \t]*\n[ \t]+Total[ \t]+:[ \t]*(?P<value>\d+) MiB", re.MULTILINE),
    "mig": re.compile(r"^[ \t]+MIG Mode[ \t]*\n[ \t]+Current[ \t]+:[ \t]*(?P<value>Enabled|Disabled)", re.MULTILINE),
}


def scan(text: str, facts: Facts) -> str | None:
    """Record what nvidia-smi printed; "nvidia-smi-q" or "nvidia-smi" for the form read, None for neither."""
    form = None
    if _query(text, facts):
        form = "nvidia-smi-q"
    if _table(text, facts):
        form = form or "nvidia-smi"
    return form


def _table(text: str, facts: Facts) -> bool:
    rows = list(_TABLE_ROW.finditer(text)) if "|" in text else []
    if not rows:
        return False
    if not facts.gpus.devices:
        seen: dict[int, Gpu] = {}
        for row in rows:
            index = int(row.group("index"))
            total = row.group("total")
            seen.setdefault(
                index,
                Gpu(
                    index=index,
                    name=row.group("name").strip(),
                    pci_bus_id=row.group("bus"),
                    persistence_mode={"On": True, "Off": False}.get(row.group("mode")),
                    memory_total_mib=int(total) if total else None,
                    source=SOURCE,
                ),
            )
        facts.gpus.devices = list(seen.values())
        facts.gpus.sources["devices"] = SOURCE
    return True


def _query(text: str, facts: Facts) -> bool:
    if "Driver Version" not in text and "Product Name" not in text:
        return False  # a substring test first: the patterns try every line start of a large report
    driver = _Q_DRIVER.search(text)
    blocks = list(_Q_GPU.finditer(text))
    if driver is None and not blocks:
        return False
    if driver:
        put(facts.driver, "userspace", driver.group("version"))
    cuda = _Q_CUDA.search(text)
    if cuda:
        put(facts.driver, "cuda_driver_api", cuda.group("version"))
    gpus: list[Gpu] = []
    for n, block in enumerate(blocks):
        end = blocks[n + 1].start() if n + 1 < len(blocks) else len(text)
        body = text[block.end() : end]
        values = {key: m.group("value") for key, pattern in _Q_FIELD.items() if (m := pattern.search(body))}
        gpus.append(
            Gpu(
                index=n,  # -q lists GPUs in nvidia-smi's (PCI) order, the numbering nvidia-smi's table uses
                name=values.get("name"),
                uuid=values.get("uuid"),
                pci_bus_id=block.group("bus"),
                persistence_mode={"Enabled": True, "Disabled": False}.get(values.get("persistence", "")),
                mig_mode={"Enabled": True, "Disabled": False}.get(values.get("mig", "")),
                memory_total_mib=int(values["memory"]) if "memory" in values else None,
                source=SOURCE,
            )
        )
    if gpus and not facts.gpus.devices:
        facts.gpus.devices = gpus
        facts.gpus.sources["devices"] = SOURCE
    return True
