"""How long `torchrig doctor` takes against `python -m torch.utils.collect_env`, on this machine, in one run.

Targets (issue 2): `doctor` no slower than collect_env (ratio <= 1.0) while saying far more;
`doctor --quick` at most a quarter of it (ratio <= 0.25). Each command runs REPEATS times,
interleaved so that drift in the machine's speed hits all three alike; medians are compared.

    python bench/doctor.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

from _interleaved import interleaved  # bench/, next to this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    python = sys.executable
    torchrig = shutil.which("torchrig", path=str(Path(python).parent) + os.pathsep + os.environ.get("PATH", ""))
    if torchrig is None:
        raise SystemExit("torchrig is not installed next to this interpreter; run `make install` first.")
    commands = {
        "collect_env": [python, "-m", "torch.utils.collect_env"],
        "doctor": [torchrig, "doctor", "--json"],
        "doctor --quick": [torchrig, "doctor", "--quick", "--json"],
    }
    # doctor exits 1 when it finds errors; that is a result, not a failure
    times = interleaved(commands, args.repeats, ok=(0, 1))

    base = statistics.median(times["collect_env"])
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {args.repeats} interleaved repeats, medians"
    )
    print(f"{'command':<16} {'median s':>9} {'min s':>7} {'ratio vs collect_env':>21}")
    for name, samples in times.items():
        med = statistics.median(samples)
        print(f"{name:<16} {med:>9.3f} {min(samples):>7.3f} {med / base:>21.2f}")
    doctor_ratio = statistics.median(times["doctor"]) / base
    quick_ratio = statistics.median(times["doctor --quick"]) / base
    print(f"doctor / collect_env = {doctor_ratio:.2f} (target <= 1.00): {'met' if doctor_ratio <= 1.0 else 'NOT met'}")
    print(
        f"doctor --quick / collect_env = {quick_ratio:.2f} (target <= 0.25): {'met' if quick_ratio <= 0.25 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
