"""AMD ROCm tools' output -> Facts: ``rocminfo``, ``rocm-smi --showproductname`` and ``rocm-smi``'s table.

What each prints (rocminfo.cc and rocm_smi.py, as of ROCm 6.x):

- ``rocminfo``: one block per HSA agent ("Agent 2" between rows of stars) with "Name:" (for a GPU its
  gfx target, "gfx1030"), "Marketing Name:" ("AMD Radeon RX 6800 XT") and "Device Type:" (CPU or GPU);
- ``rocm-smi --showproductname``: "GPU[0] : Card Series: <name>" (newer: "Card series") and
  "GPU[0] : GFX Version: gfx1030";
- ``rocm-smi``: the "ROCm System Management Interface" table, one row per GPU, its index first and no
  name: the GPU is known to be an AMD one and nothing more.

A GPU is recorded as "<marketing name> (<gfx target>)", the form torch's collect_env prints for ROCm
builds (``torch.cuda.get_device_properties().gcnArchName``), so the gfx target travels with the GPU to
the ROCm checks.
"""

from __future__ import annotations

import re

from torchrig.doctor.facts import Facts, Gpu
from torchrig.doctor.report.collect_env import SOURCE

_AGENT = re.compile(r"^[ \t]*Agent (?P<n>\d+)[ \t]*$", re.MULTILINE)
_AGENT_FIELD = {
    "name": re.compile(r"^[ \t]+Name:[ \t]+(?P<value>\S[^\n]*?)[ \t]*$", re.MULTILINE),
    "marketing": re.compile(r"^[ \t]+Marketing Name:[ \t]+(?P<value>\S[^\n]*?)[ \t]*$", re.MULTILINE),
    "type": re.compile(r"^[ \t]+Device Type:[ \t]+(?P<value>\w+)", re.MULTILINE),
}
_SMI_PRODUCT = re.compile(
    r"^GPU\[(?P<index>\d+)\][ \t]*:[ \t]*(?P<key>Card [Ss]eries|GFX Version):[ \t]*(?P<value>\S[^\n]*?)[ \t]*$",
    re.MULTILINE,
)
# a gfx target printed on its own, not inside a path, a file name, an assignment or a list ("gfx1030;gfx1100")
_LONE_GFX = re.compile(r"(?<![\w/.=;,-])(gfx\d{3,4}[a-z]?)(?![\w/.;,-])", re.IGNORECASE)
_RADEON_NAME = re.compile(
    r"^[ \t]*(?:device[ _]?)?name[ \t]*[:=][ \t]*(?P<name>AMD Radeon[^\n(]*?)[ \t]*$", re.I | re.M
)
_SMI_TABLE = re.compile(r"^=+ ROCm System Management Interface =+[ \t]*$", re.MULTILINE)
_SMI_ROW = re.compile(r"^(?P<index>\d{1,2})[ \t]+(?:\d+[ \t]+)?(?:[\d.]+c|N/A)[ \t]", re.MULTILINE)


def scan(text: str, facts: Facts) -> str | None:
    """Record the AMD GPUs the ROCm tools list; the tool read ("rocminfo", "rocm-smi"), or None."""
    if "Agent " not in text and "GPU[" not in text and "ROCm System Management" not in text:
        _one_target(text, facts)
        return None  # a substring test first: the patterns try every line start of a large report
    gpus = _rocminfo(text)
    tool = "rocminfo" if gpus else None
    if not gpus:
        gpus = _smi_products(text)
        tool = "rocm-smi" if gpus else None
    if not gpus and _SMI_TABLE.search(text):
        start = _SMI_TABLE.search(text)
        assert start is not None
        indices = dict.fromkeys(int(m.group("index")) for m in _SMI_ROW.finditer(text, start.end()))
        gpus = [Gpu(index=i, name="AMD GPU", source=SOURCE) for i in indices]
        tool = "rocm-smi" if gpus else None
    if gpus and not facts.gpus.devices:
        facts.gpus.devices = gpus
        facts.gpus.sources["devices"] = SOURCE
    return tool


def _one_target(text: str, facts: Facts) -> None:
    """A ROCm report that prints one gfx target and no tool's table: the one AMD GPU it names.

    A gfx target is the ISA of one AMD GPU (LLVM AMDGPU Usage, "Processors"); scripts print it from rocminfo's
    agent Name or torch's gcnArchName. Only where the text speaks of ROCm, names a single target (two or more:
    a build list, an override tried, several GPUs: unknown which is this one), and nothing else recorded a GPU.
    The marketing name comes with it only from a "name:" / "name =" line naming one AMD Radeon.
    """
    lowered = text.lower()
    if facts.gpus.devices or "gfx" not in lowered or "rocm" not in lowered:
        return
    if "gpu models and configuration:" in lowered:
        return  # a collect_env output: its reader owns the device list it prints (report/collect_env.py)
    targets = {m.group(1).lower() for m in _LONE_GFX.finditer(text)}
    if len(targets) != 1:
        return
    names = {" ".join(m.group("name").split()) for m in _RADEON_NAME.finditer(text)}
    gfx = targets.pop()
    name = f"{names.pop()} ({gfx})" if len(names) == 1 else f"AMD GPU ({gfx})"
    facts.gpus.devices = [Gpu(index=0, name=name, source=SOURCE)]
    facts.gpus.sources["devices"] = SOURCE


def _rocminfo(text: str) -> list[Gpu]:
    agents = list(_AGENT.finditer(text))
    gpus: list[Gpu] = []
    for n, agent in enumerate(agents):
        end = agents[n + 1].start() if n + 1 < len(agents) else len(text)
        body = text[agent.end() : end]
        values = {key: m.group("value") for key, pattern in _AGENT_FIELD.items() if (m := pattern.search(body))}
        if values.get("type", "").upper() != "GPU":
            continue
        gfx = values.get("name", "")
        marketing = values.get("marketing", "")
        name = f"{marketing} ({gfx})" if marketing and gfx.startswith("gfx") else marketing or gfx
        gpus.append(Gpu(index=len(gpus), name=name or None, source=SOURCE))
    return gpus


def _smi_products(text: str) -> list[Gpu]:
    series: dict[int, str] = {}
    gfx: dict[int, str] = {}
    for match in _SMI_PRODUCT.finditer(text):
        index = int(match.group("index"))
        (series if match.group("key").lower() == "card series" else gfx)[index] = match.group("value")
    names = {i: f"{series.get(i, 'AMD GPU')} ({gfx[i]})" if i in gfx else series[i] for i in {*series, *gfx}}
    return [Gpu(index=i, name=names[i], source=SOURCE) for i in sorted(names)]
