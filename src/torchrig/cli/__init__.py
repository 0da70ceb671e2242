"""The ``torchrig`` command: one module per command group. Parses, calls the core, renders; no logic.

:func:`main` is the entry point. It starts a live ``torchrig doctor``'s probes before the command-line
machinery loads (see :mod:`torchrig.cli.early`), then hands over to :func:`torchrig.cli.main.main`.
"""

from __future__ import annotations

import sys

# Nothing more is imported before main() runs: until then, a Ctrl-C is Python's own traceback.


def main() -> None:
    try:
        from torchrig.cli import early

        early.start_if_doctor(sys.argv[1:])
        from torchrig.cli.main import main as run

        run()
    except KeyboardInterrupt:
        # Ctrl-C before typer took over (it turns later ones into 130 itself): no traceback, the shell's
        # code. A second Ctrl-C while cleaning up must not print one either.
        try:
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)
            from torchrig._core.seams.runner import kill_running

            kill_running()
        except KeyboardInterrupt:
            pass
        sys.exit(130)
