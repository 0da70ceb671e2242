"""Running other programs: an argv list, a timeout, and a result that never raises.

    >>> SubprocessRunner().run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], timeout=5)
    Completed(argv=('nvidia-smi', ...), returncode=0, stdout='580.95.05\\n', stderr='', error=None)

A program that is missing or times out comes back as a ``Completed`` with ``returncode=None`` and
``error`` set, so probes record the problem instead of crashing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    error: str | None = None  # "not found", "timed out after 5 s", ...

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.error is None


class Runner(Protocol):
    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> Completed: ...


# Every child running now, by pid (each leads its own process group). The runner waits for a child in
# whatever thread called it (a doctor probe runs in a daemon thread), so Ctrl-C or SIGTERM in the main
# thread cannot reach that wait: the process that is ending calls kill_running() to end them all.
_RUNNING: dict[int, subprocess.Popen[str]] = {}
_RUNNING_LOCK = threading.Lock()


def kill_running() -> int:
    """SIGKILL the process group of every child a runner started and is still waiting for; how many."""
    with _RUNNING_LOCK:
        procs = list(_RUNNING.values())
    for proc in procs:
        _kill_tree(proc)
    return len(procs)


class SubprocessRunner:
    """The real runner: ``shell=False``, captured text output, and a timeout that ends the whole process tree."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> Completed:
        args = tuple(argv)
        try:
            # its own session, so a timeout or Ctrl-C can end the whole tree it starts (`conda run` -> pip)
            proc = subprocess.Popen(
                args,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        except FileNotFoundError:
            return Completed(args, None, error="not found")
        except PermissionError as exc:
            return Completed(args, None, error=f"not executable: {exc.strerror}")
        except OSError as exc:
            return Completed(args, None, error=f"{type(exc).__name__}: {exc}")
        with _RUNNING_LOCK:
            _RUNNING[proc.pid] = proc
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            out, err = _drain(proc)
            return Completed(args, None, out, err, error=f"timed out after {timeout:g} s")
        except BaseException:  # Ctrl-C: the child's session no longer gets the terminal's SIGINT
            _kill_tree(proc)
            _drain(proc)
            raise
        finally:
            with _RUNNING_LOCK:
                _RUNNING.pop(proc.pid, None)
        return Completed(args, proc.returncode, stdout, stderr)


def _kill_tree(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the child's whole process group (it leads its own session), or the child alone off POSIX."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def _drain(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """What the killed child wrote; bounded, since a descendant that left the group may hold the pipes open."""
    try:
        out, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = "", ""
    proc.wait()
    return out or "", err or ""


@dataclass
class FakeRunner:
    """A test double: answers by program name (argv[0]'s basename), or by a function of the argv.

    ``FakeRunner({"nvidia-smi": Completed(("nvidia-smi",), 0, stdout=recorded)})``; programs it does not
    know come back as "not found", like a machine that lacks them. ``calls`` records every argv.
    """

    answers: Mapping[str, Completed | Callable[[tuple[str, ...]], Completed]] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> Completed:
        args = tuple(argv)
        self.calls.append(args)
        answer = self.answers.get(os.path.basename(args[0]))
        if answer is None:
            return Completed(args, None, error="not found")
        return answer(args) if callable(answer) else answer
