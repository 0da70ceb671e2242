"""The machine an environment is planned for: this one (from the doctor's probes) or one the user describes.

The plan itself is knowledge's rule (:func:`torchrig.knowledge.builds.plan`); this module only makes
its :class:`~torchrig.knowledge.builds.Target`, through the doctor's one Facts-to-target adapter for
this machine, or from ``--driver`` / ``--gpu-model`` / ``--cc`` for another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from torchrig._core.errors import UserError
from torchrig.knowledge.builds import Target, capabilities
from torchrig.knowledge.gpu_models import capability_of


def this_machine() -> Target:
    """This machine as the doctor's quick probes see it (no torch import, no subprocess)."""
    from torchrig.doctor.probe import gather
    from torchrig.doctor.target import target_of

    return target_of(gather(quick=True))


def described_machine(
    *, driver: str | None, gpu_models: Sequence[str] = (), ccs: Sequence[str] = (), wsl: bool = False
) -> Target:
    """Another machine: a driver version, GPU models (looked up in the model table) and compute capabilities.

    Without a driver the plan assumes one new enough; without GPUs, one NVIDIA GPU of unknown capability.
    """
    models = [(name, _model_capability(name)) for name in gpu_models]
    return Target(
        driver=_driver_version(driver) if driver is not None else None,
        capabilities=tuple(cc for _, cc in models) + capabilities(ccs),
        gpu_names=tuple(name for name, _ in models),
        driver_unknown=driver is None,
        wsl=wsl,
        unidentified_gpus=0 if ccs or gpu_models else 1,
    )


# NVIDIA driver versions: a branch of two to four digits and up to two dotted parts ("96.43.23",
# "470", "535.54", "580.95.05"), as nvidia-smi and /proc/driver/nvidia/version print them. Target
# itself reads any leading number (probes and reports carry suffixes); what a user types must be one.
_DRIVER = re.compile(r"\d{2,4}(\.\d{1,3}){0,2}")


def _driver_version(text: str) -> str:
    version = text.strip()
    if not _DRIVER.fullmatch(version):
        raise UserError(f"{text!r} is not a driver version; give it as nvidia-smi shows it, e.g. 580.95.05 or 535.")
    return version


def _model_capability(name: str) -> str:
    cc = capability_of(name)
    if cc is None:
        raise UserError(
            f"torchrig does not know the GPU model {name!r}; give its compute capability with --cc "
            "(nvidia-smi --query-gpu=compute_cap --format=csv shows it)."
        )
    return cc
