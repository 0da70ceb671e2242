"""Timing commands against each other in one run: warm once, then interleave the repeats.

Interleaving means drift in the machine's speed (this host's CPU speed varies minute to minute) hits
every command alike, so ratios of medians stay meaningful. Used by bench/doctor.py and bench/probe.py; the leading underscore keeps `make bench` from running it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Collection, Mapping, Sequence


def timed(argv: Sequence[str], ok: Collection[int] = (0,)) -> float:
    """Wall seconds of one run of ``argv``; an exit status outside ``ok`` stops the benchmark with stderr's end."""
    start = time.perf_counter()
    proc = subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv[:3])} failed with exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return elapsed


def interleaved(
    commands: Mapping[str, Sequence[str]], repeats: int, ok: Collection[int] = (0,)
) -> dict[str, list[float]]:
    """Each command's wall seconds over ``repeats`` interleaved rounds, after one untimed warm-up round."""
    for argv in commands.values():  # warm the page cache once, untimed
        timed(argv, ok)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            times[name].append(timed(argv, ok))
    return times
