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

_pending: list[Future[Facts]] = []  # at most one: the probes a live doctor started early
_GLOBAL_FLAGS = ("--debug",)  # options of the torchrig command itself that may precede "doctor"
_NOT_LIVE = ("--quick", "--report", "-h", "--help")


def start_if_doctor(argv: Sequence[str]) -> None:
    """Start gathering in a background thread when ``argv`` asks for a live ``torchrig doctor``."""
    args = list(argv)
    while args and args[0] in _GLOBAL_FLAGS:
        args.pop(0)
    if not args or args[0] != "doctor":
        return
    if any(a in _NOT_LIVE or a.startswith("--report=") for a in args[1:]):
        return
    from torchrig.doctor.probe import gather

    future: Future[Facts] = Future()

    def run() -> None:
        try:
            future.set_result(gather(quick=False))
        except BaseException as exc:  # handed to doctor, which reports it like any error of its own
            future.set_exception(exc)

    # A daemon thread, unlike a pool's worker, is not waited for at exit: a usage error later in
    # parsing (`torchrig doctor --bogus`) then exits at once instead of after the probes.
    threading.Thread(target=run, name="torchrig-doctor-probes", daemon=True).start()
    _pending[:] = [future]


def take() -> Future[Facts] | None:
    """The probes started by :func:`start_if_doctor`, once; None when none were started."""
    return _pending.pop() if _pending else None
