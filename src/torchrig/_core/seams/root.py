"""Reading the machine's files under a root that tests can move.

    >>> Root("/").read_text("/proc/driver/nvidia/version")
    'NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.95.05  ...'
    >>> Root(tmp_path).read_text("/proc/driver/nvidia/version")   # a recorded copy in a test
    >>> Root("/").read_text("/no/such/file") is None
    True

Paths are always given as absolute machine paths; ``Root`` maps them under its base. Reads never
raise: a missing or unreadable file is ``None``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Root:
    base: Path | str = "/"

    def path(self, machine_path: str) -> Path:
        """Where ``machine_path`` (absolute, as on the machine) lives under this root."""
        return Path(self.base) / machine_path.lstrip("/")

    def read_text(self, machine_path: str, *, limit: int = 1 << 20) -> str | None:
        try:
            with open(self.path(machine_path), "rb") as fh:
                return fh.read(limit).decode("utf-8", errors="replace")
        except OSError:
            return None

    def exists(self, machine_path: str) -> bool:
        return self.path(machine_path).exists()

    def listdir(self, machine_path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(machine_path)))
        except OSError:
            return []

    def glob(self, machine_pattern: str) -> list[str]:
        """Machine paths (not root-mapped ones) matching a glob pattern."""
        base = Path(self.base)
        return sorted("/" + str(p.relative_to(base)) for p in base.glob(machine_pattern.lstrip("/")))

    def statvfs(self, machine_path: str) -> os.statvfs_result | None:
        try:
            return os.statvfs(self.path(machine_path))
        except OSError:
            return None
