"""Start a live ``torchrig doctor``'s probes before typer loads.

The probes of a live run take as long as ``import torch`` (the torch subprocess is the long pole), and
loading typer and parsing the arguments take another ~0.3 s before the command body runs. The probes
depend on no option of the command (``--json``, ``--markdown`` and ``--strict`` only change what is
shown), so the entry point starts them from the raw arguments and ``doctor`` picks them up with
:func:`take`. Anything other than a plain live ``doctor`` (``--quick``, ``--report``, ``--help``) starts
nothing here. This module imports nothing heavy: it runs before everything else.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchrig.doctor.facts import Facts
    from torchrig.doctor.probe import ProbeBoard

# at most one: the probes a live doctor started early, and the board that says which still run
_pending: list[tuple[Future[Facts], ProbeBoard]] = []
_GLOBAL_FLAGS = ("--debug",)  # options of the torchrig command itself that may precede "doctor"
_NOT_LIVE = ("--quick", "--report", "--merge", "--cluster", "-h", "--help")  # --cluster: one rank per node probes


def start_if_doctor(argv: Sequence[str]) -> None:
    """Start gathering in a background thread when ``argv`` asks for a live ``torchrig doctor``."""
    args = list(argv)
    while args and args[0] in _GLOBAL_FLAGS:
        args.pop(0)
    if not args or args[0] != "doctor":
        return
    if any(a in _NOT_LIVE or a.startswith("--report=") for a in args[1:]):
        return
    from torchrig.doctor.probe import Host, ProbeBoard, gather

    future: Future[Facts] = Future()
    board = ProbeBoard()
    timeout = timeout_of(args[1:])

    def run() -> None:
        try:
            future.set_result(gather(Host.live(timeout), quick=False, board=board))
        except BaseException as exc:  # handed to doctor, which reports it like any error of its own
            future.set_exception(exc)

    end_children_on_exit()
    # A daemon thread, unlike a pool's worker, is not waited for at exit: a usage error later in
    # parsing (`torchrig doctor --bogus`) then exits at once instead of after the probes.
    threading.Thread(target=run, name="torchrig-doctor-probes", daemon=True).start()
    _pending[:] = [(future, board)]


def end_children_on_exit() -> None:
    """However this process ends (normally, Ctrl-C, SIGTERM), end the probes' children with it.

    The torch probe's child leads its own process group, so the terminal's Ctrl-C does not reach it,
    and it waits in a daemon thread that dies without cleaning up: a hung ``import torch`` would
    outlive torchrig. SIGKILL of torchrig itself cannot be caught; the child then ends at its timeout.
    """
    import atexit
    import signal

    from torchrig._core.seams.runner import kill_running

    def on_sigterm(signum: int, _frame: object) -> None:
        kill_running()
        raise SystemExit(128 + signum)

    atexit.register(kill_running)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)


def timeout_of(args: Sequence[str]) -> float | None:
    """``--timeout N`` (or ``--timeout=N``) among the doctor's arguments, when it is a positive number."""
    for i, arg in enumerate(args):
        value = arg.partition("=")[2] if arg.startswith("--timeout=") else None
        if arg == "--timeout" and i + 1 < len(args):
            value = args[i + 1]
        if value is not None:
            try:
                number = float(value)
            except ValueError:
                return None
            return number if number > 0 else None
    return None


def take() -> tuple[Future[Facts], ProbeBoard] | None:
    """The probes started by :func:`start_if_doctor` and their board, once; None when none were started."""
    return _pending.pop() if _pending else None
