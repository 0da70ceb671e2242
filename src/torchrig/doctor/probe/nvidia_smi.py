"""``nvidia-smi``: the fallback when NVML cannot be used from Python, and the parsers of what it prints.

The parsers are pure (text in, values out) so the report parser can use them on pasted output too:

    >>> parse_banner("| NVIDIA-SMI 550.135   Driver Version: 550.135   CUDA Version: 12.4 |")
    SmiBanner(smi='550.135', driver='550.135', cuda='12.4')
    >>> parse_failure("Failed to initialize NVML: Driver/library version mismatch\\nNVML library version: 570.124")
    SmiFailure(nvml_error='Driver/library version mismatch', nvml_library='570.124', message='Failed to ...')
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torchrig._core.seams.runner import Completed

if TYPE_CHECKING:
    from torchrig.doctor.probe import Host

# WSL puts nvidia-smi next to the Windows driver's libraries, which a login shell's PATH may lack.
_WSL_SMI = "/usr/lib/wsl/lib/nvidia-smi"

_BANNER = re.compile(
    r"NVIDIA-SMI\s+(?P<smi>[\w.]+)\s+Driver Version:\s+(?P<driver>[\w.]+)(?:\s+CUDA Version:\s+(?P<cuda>[\w.!]+))?"
)
_NVML_FAILED = re.compile(r"Failed to initialize NVML:\s*(?P<why>[^\r\n]+)")
_NVML_LIBRARY = re.compile(r"NVML library version:\s*(?P<version>[\d.]+)")
_COULD_NOT_COMMUNICATE = "couldn't communicate with the NVIDIA driver"


@dataclass(frozen=True)
class SmiBanner:
    smi: str  # nvidia-smi's own version (on WSL the Linux side: 555.52.01)
    driver: str  # the driver it talks to (on WSL the Windows driver: 555.99)
    cuda: str | None  # newest CUDA the driver supports; None when it printed "ERR!" or nothing (old drivers)


@dataclass(frozen=True)
class SmiFailure:
    nvml_error: str | None  # "Driver/library version mismatch", "Driver Not Loaded", ...
    nvml_library: str | None  # "570.124": printed after a version mismatch by newer drivers
    message: str  # what nvidia-smi printed, trimmed


def parse_banner(text: str) -> SmiBanner | None:
    match = _BANNER.search(text)
    if match is None:
        return None
    cuda = match.group("cuda")
    return SmiBanner(match.group("smi"), match.group("driver"), cuda if cuda and cuda[0].isdigit() else None)


def parse_failure(text: str) -> SmiFailure | None:
    """What went wrong, if ``text`` is one of nvidia-smi's failure messages."""
    nvml = _NVML_FAILED.search(text)
    library = _NVML_LIBRARY.search(text)
    if nvml is None and _COULD_NOT_COMMUNICATE not in text:
        return None
    why = nvml.group("why").strip() if nvml else None
    if why is None:
        # "...couldn't communicate with the NVIDIA driver..." is nvidia-smi's wording for NVML's Driver Not Loaded
        shutdown = re.search(r"Failed to properly shut down NVML:\s*([^\r\n]+)", text)
        why = shutdown.group(1).strip() if shutdown else "Driver Not Loaded"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return SmiFailure(why, library.group("version") if library else None, " ".join(lines)[:500])


def parse_query_csv(text: str) -> list[dict[str, str | None]]:
    """Rows of ``--query-gpu=... --format=csv,nounits``, keyed by the header's field names.

    The header is what makes old and new outputs readable alike ("memory.total [MiB]" is read as
    "memory.total"); "[N/A]"-like cells become None.
    """
    reader = csv.reader(io.StringIO(text.strip()), skipinitialspace=True)
    header = next(reader, None)
    if not header:
        return []
    fields = [re.sub(r"\s*\[.*\]$", "", name.strip()) for name in header]
    return [{f: _cell(c) for f, c in zip(fields, cells, strict=True)} for cells in reader if len(cells) == len(fields)]


def _cell(value: str) -> str | None:
    value = value.strip()
    if not value or value.strip("[]") in ("N/A", "Not Supported", "Unknown Error", "Insufficient Permissions"):
        return None
    return value


def run(host: Host, args: Sequence[str]) -> Completed:
    """Run nvidia-smi with ``args`` through the host's runner (PATH first, then WSL's place for it)."""
    result = host.runner.run(["nvidia-smi", *args], timeout=host.command_timeout, env=host.env)
    if result.error == "not found" and host.root.exists(_WSL_SMI):
        result = host.runner.run([_WSL_SMI, *args], timeout=host.command_timeout, env=host.env)
    return result


def output_of(result: Completed) -> str:
    """Everything nvidia-smi printed: it writes its failures to stdout, not stderr."""
    return "\n".join(part for part in (result.stdout, result.stderr) if part.strip())
