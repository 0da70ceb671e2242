"""Helpers for probe tests: a fake machine built from a temporary root, recorded outputs, and fakes."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from torchrig._core.seams.nvml import FakeNvml
from torchrig._core.seams.root import Root
from torchrig._core.seams.runner import Completed, FakeRunner
from torchrig.doctor.probe import Host

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "recorded"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text(encoding="utf-8")


def nvml_fixture(name: str) -> FakeNvml:
    return FakeNvml.from_json(RECORDED / "nvml" / name)


def smi(stdout: str, returncode: int = 0) -> Completed:
    """What nvidia-smi answered; it writes its failures to stdout too."""
    return Completed(("nvidia-smi",), returncode, stdout=stdout)


class FakeTree:
    """A machine's filesystem under a temporary directory: write('/proc/...', text)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = Root(base)

    def write(self, machine_path: str, text: str = "", *, mode: int | None = None) -> Path:
        path = self.root.path(machine_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if mode is not None:
            os.chmod(path, mode)
        return path

    def mkdir(self, machine_path: str) -> Path:
        path = self.root.path(machine_path)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def symlink(self, machine_path: str, target: str) -> None:
        path = self.root.path(machine_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)

    def dist(
        self,
        site: str,
        name: str,
        version: str,
        *,
        installer: str | None = "pip",
        requires: tuple[str, ...] = (),
        package: str | None = None,
        top_level: str | None = None,
    ) -> None:
        """An installed distribution: <site>/<name>-<version>.dist-info and, optionally, its package."""
        info = f"{site}/{name.replace('-', '_')}-{version}.dist-info"
        metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        metadata += [f"Requires-Dist: {r}" for r in requires]
        self.write(f"{info}/METADATA", "\n".join(metadata) + "\n")
        if installer is not None:
            self.write(f"{info}/INSTALLER", installer + "\n")
        if top_level is not None:
            self.write(f"{info}/top_level.txt", top_level + "\n")
        if package is not None:
            self.write(f"{site}/{package}/__init__.py", "")


def fake_machine(
    tree: FakeTree, *, nvml: FakeNvml | None = None, runner: FakeRunner | None = None, **overrides: Any
) -> Host:
    fake = nvml if nvml is not None else FakeNvml(errors={"init": "NVML Shared Library Not Found"})
    machine = Host(
        root=tree.root,
        runner=runner if runner is not None else FakeRunner(),
        nvml=lambda: fake,
        env={"PATH": "/usr/bin:/bin"},
        cwd="/home/user/project",
        python="/usr/bin/python3",
        sys_path=(),
        prefix="/usr",
        base_prefix="/usr",
        command_timeout=5.0,
        torch_timeout=10.0,
    )
    return replace(machine, **overrides)
