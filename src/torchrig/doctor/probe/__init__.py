"""Gathering :class:`~torchrig.doctor.facts.Facts` on this machine: the only code of ``doctor`` that touches it.

    >>> facts = gather(quick=True)
    >>> facts.driver.kernel_module, facts.torch.version, facts.toolkit.cuda_home
    (None, '2.13.0+cpu', '/usr/local/cuda')

One module per source (``driver``, ``gpus``, ``pytorch``, ``companions``, ``toolkit``, ``system``),
each a function ``probe(host, quick) -> section``. The protocol of :func:`gather`:

1. Every probe runs in its own daemon thread, all at once: they are independent, and the slow ones
   (importing torch in a subprocess, NVML on a busy 8-GPU box) overlap instead of adding up.
2. Each probe has a deadline. A probe still running at its deadline is abandoned (a daemon thread
   never blocks the exit); its section is left empty with "timed out" in ``errors``.
3. A probe never raises into ``gather``: an exception becomes one line in its section's ``errors``.
4. ``facts.timings`` holds each probe's seconds (and ``total``), so a slow source is visible.

``quick`` skips every subprocess (the torch import, ``nvidia-smi``, ``nvcc --version``): what is left
reads files, metadata and NVML.

Probes reach the host only through :class:`Host`, so tests give them a fake root directory, a
:class:`~torchrig._core.seams.runner.FakeRunner` and a :class:`~torchrig._core.seams.nvml.FakeNvml`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torchrig._core.seams.nvml import Nvml, PynvmlNvml
from torchrig._core.seams.root import Root
from torchrig._core.seams.runner import Runner, SubprocessRunner
from torchrig.doctor.facts import DriverFacts, Facts, GpuFacts, SystemFacts, ToolkitFacts, TorchFacts

__all__ = ["Host", "ProbeBoard", "gather"]


@dataclass(frozen=True)
class Host:
    """The seams a probe may touch, and the facts about this process it starts from."""

    root: Root = field(default_factory=Root)
    runner: Runner = field(default_factory=SubprocessRunner)
    nvml: Callable[[], Nvml] = PynvmlNvml  # a new session per probe; NVML counts init/shutdown pairs
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = "/"
    python: str = sys.executable  # the interpreter that imports torch in the subprocess
    sys_path: tuple[str, ...] = ()
    prefix: str = sys.prefix
    base_prefix: str = sys.base_prefix
    torch_timeout: float = 60.0  # a cold CUDA import on a network filesystem can take tens of seconds
    command_timeout: float = 10.0  # nvidia-smi, nvcc --version

    @classmethod
    def live(cls, timeout: float | None = None) -> Host:
        """This host, as the running interpreter sees it; ``timeout`` bounds the slowest probe (importing torch)."""
        try:
            cwd = os.getcwd()
        except OSError:  # the working directory was deleted under us
            cwd = ""
        return cls(
            root=Root("/"),
            runner=SubprocessRunner(),
            nvml=PynvmlNvml,
            env=dict(os.environ),
            cwd=cwd,
            python=sys.executable,
            sys_path=tuple(sys.path),
            prefix=sys.prefix,
            base_prefix=sys.base_prefix,
            **({"torch_timeout": timeout, "command_timeout": min(10.0, timeout)} if timeout else {}),
        )


class ProbeBoard:
    """Which probes are still running, for a status line while the slow ones (importing torch) work."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, float] = {}
        self.started = time.perf_counter()

    def start(self, name: str) -> None:
        with self._lock:
            self._running[name] = time.perf_counter()

    def finish(self, name: str) -> None:
        with self._lock:
            self._running.pop(name, None)

    def running(self) -> list[str]:
        """The probes not finished yet, longest-running first."""
        with self._lock:
            return sorted(self._running, key=self._running.__getitem__)


def gather(host: Host | None = None, *, quick: bool = False, board: ProbeBoard | None = None) -> Facts:
    """Run every probe concurrently, each within its deadline, and return what they found.

    ``board`` is told which probes start and finish (a caller may show them while it waits).
    """
    from torchrig.doctor.probe import companions, driver, gpus, pytorch, system, toolkit

    host = host or Host.live()
    # name -> (probe, deadline in seconds, what an abandoned probe leaves behind)
    probes: dict[str, tuple[Callable[[Host, bool], Any], float, Callable[[], Any]]] = {
        "driver": (driver.probe, 3 * host.command_timeout, DriverFacts),
        "gpus": (gpus.probe, 3 * host.command_timeout, GpuFacts),
        "torch": (pytorch.probe, host.torch_timeout + host.command_timeout, TorchFacts),
        "companions": (companions.probe, 2 * host.command_timeout, list),
        "toolkit": (toolkit.probe, 2 * host.command_timeout, ToolkitFacts),
        "system": (system.probe, 2 * host.command_timeout, SystemFacts),
    }
    started = time.perf_counter()
    runs = {name: _Run(name, fn, host, quick, board) for name, (fn, _, _) in probes.items()}
    for run in runs.values():
        run.thread.start()

    results: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name, (_, deadline, empty) in probes.items():
        run = runs[name]
        run.thread.join(max(0.0, started + deadline - time.perf_counter()))
        if run.thread.is_alive():
            results[name] = empty()
            problems.append((name, f"the {name} probe timed out after {deadline:g} s and was abandoned"))
        elif run.error is not None:
            results[name] = empty()
            problems.append((name, f"the {name} probe failed: {run.error}"))
        else:
            results[name] = run.result

    facts = Facts(
        origin="live",
        driver=results["driver"],
        gpus=results["gpus"],
        torch=results["torch"],
        companions=results["companions"],
        toolkit=results["toolkit"],
        system=results["system"],
    )
    for name, message in problems:
        # companions is a plain list with no errors of its own; its problems are the environment's
        section = facts.system if name == "companions" else getattr(facts, name)
        section.errors.append(message)
    for name, run in runs.items():
        facts.timings[name] = round(run.seconds if run.seconds is not None else time.perf_counter() - run.t0, 4)
    facts.timings["total"] = round(time.perf_counter() - started, 4)
    return facts


class _Run:
    """One probe on its own daemon thread: its result or its exception, and how long it took."""

    def __init__(
        self, name: str, fn: Callable[[Host, bool], Any], host: Host, quick: bool, board: ProbeBoard | None = None
    ) -> None:
        self.result: Any = None
        self.error: str | None = None
        self.seconds: float | None = None
        self.t0 = time.perf_counter()
        self._fn, self._host, self._quick, self._board = fn, host, quick, board
        self.name = name
        self.thread = threading.Thread(target=self._target, name=f"torchrig-probe-{name}", daemon=True)

    def _target(self) -> None:
        self.t0 = time.perf_counter()
        if self._board is not None:
            self._board.start(self.name)
        try:
            self.result = self._fn(self._host, self._quick)
        except Exception as exc:  # a probe bug must not cost the user the rest of the report
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.seconds = time.perf_counter() - self.t0
            if self._board is not None:
                self._board.finish(self.name)
