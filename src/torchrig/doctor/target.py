"""The one adapter from the doctor's Facts to the Target that knowledge's build rule plans for.

``torchrig env plan`` (on this machine) and every doctor fix that installs torch ask knowledge's rule
(:mod:`torchrig.knowledge.builds`) about the same :class:`~torchrig.knowledge.builds.Target`, made
here and nowhere else, so the two always agree:

- the driver is the one that decides what CUDA runs (:func:`torchrig.doctor.queries.driver_version`:
  the kernel module's, or the Windows driver's under WSL and on Windows);
- each GPU's compute capability comes from NVML, torch, or the model table where a report names the
  GPU without one; NVIDIA GPUs whose capability is still unknown are counted, not dropped;
- when no GPU is found, ``looked`` says how the probes looked, so a plan can explain the cpu build.
"""

from __future__ import annotations

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.facts import Facts
from torchrig.knowledge.builds import PLATFORMS, Target, capabilities, is_capability


def target_of(facts: Facts, *, driver: str | None = None, ccs: list[str] | None = None) -> Target:
    """The machine the facts describe, as the build rule sees it.

    ``driver`` replaces the facts' driver (``""`` plans as if the driver were unknown, e.g. to ask which
    build a driver upgrade would allow); ``ccs`` replaces the GPUs' compute capabilities.
    """
    os_name = (facts.system.os or "linux").lower()
    platform = os_name if os_name in PLATFORMS else "linux"
    gpus = queries.gpus(facts)
    if ccs is not None:
        named: list[tuple[str, str]] = [("", cc) for cc in capabilities(ccs) if is_capability(cc)]
        unidentified = 0
    else:
        named = [(gpu.name or "", gpu.capability) for gpu in gpus if gpu.capability and is_capability(gpu.capability)]
        unidentified = len(gpus) - len(named) if gpus else len(queries.nvidia_gpus_on_bus(facts))
    chosen = queries.driver_version(facts) if driver is None else driver or None
    if chosen and knowledge.parse_version(chosen) is None:  # "N/A" in a report: unknown, not an error
        chosen = None
    return Target(
        driver=chosen,
        driver_unknown=not chosen and driver is not None,
        capabilities=tuple(cc for _, cc in named),
        gpu_names=tuple(name for name, _ in named),
        unidentified_gpus=unidentified,
        wsl=bool(facts.system.wsl) and platform != "windows",
        platform=platform,
        # an unknown CPU is taken for x86_64 (the architecture lists), except on macOS, where PyPI's wheels for
        # Intel and Apple silicon cover different Pythons: "" leaves it open
        cpu_arch=facts.system.machine or ("" if platform == "darwin" else "x86_64"),
        looked=() if named or unidentified else _how_we_looked(facts),
    )


def _how_we_looked(facts: Facts) -> tuple[str, ...]:
    looked = []
    if facts.driver.nvml_error:
        looked.append(f"NVML: {facts.driver.nvml_error}")
    if not queries.nvidia_gpus_on_bus(facts):
        looked.append("no NVIDIA device on the PCI bus")
    if not facts.driver.kernel_module:
        looked.append("no NVIDIA kernel module loaded")
    return tuple(looked)
