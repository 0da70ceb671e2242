"""Running other programs: an argv list, a timeout, and a result that never raises.

    >>> SubprocessRunner().run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], timeout=5)
    Completed(argv=('nvidia-smi', ...), returncode=0, stdout='580.95.05\\n', stderr='', error=None)

A program that is missing or times out comes back as a ``Completed`` with ``returncode=None`` and
``error`` set, so probes record the problem instead of crashing.
"""

from __future__ import annotations

import os
import subprocess
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


class SubprocessRunner:
    """The real runner: ``subprocess.run`` with ``shell=False``, captured text output and a timeout."""

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
            proc = subprocess.run(
                args,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                env=dict(env) if env is not None else None,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError:
            return Completed(args, None, error="not found")
        except PermissionError as exc:
            return Completed(args, None, error=f"not executable: {exc.strerror}")
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            return Completed(args, None, out, err, error=f"timed out after {timeout:g} s")
        except OSError as exc:
            return Completed(args, None, error=f"{type(exc).__name__}: {exc}")
        return Completed(args, proc.returncode, proc.stdout, proc.stderr)


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
