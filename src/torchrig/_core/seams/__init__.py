"""The narrow places where torchrig touches the outside world.

Every probe reaches the machine through one of these, so tests swap in a double and no test needs a
GPU, the network or the real home directory:

- :class:`~torchrig._core.seams.runner.Runner` runs a program (argv list, never a shell string) with a timeout;
- :class:`~torchrig._core.seams.root.Root` reads files under a filesystem root (``/proc``, ``/sys``, ``/dev``);
- :mod:`torchrig._core.seams.nvml` wraps the NVML calls the driver and GPU probes make.
"""

from torchrig._core.seams.nvml import FakeNvml, Nvml, NvmlError, PynvmlNvml
from torchrig._core.seams.root import Root
from torchrig._core.seams.runner import Completed, FakeRunner, Runner, SubprocessRunner

__all__ = [
    "Completed",
    "FakeNvml",
    "FakeRunner",
    "Nvml",
    "NvmlError",
    "PynvmlNvml",
    "Root",
    "Runner",
    "SubprocessRunner",
]
