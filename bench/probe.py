"""How long the probes alone take, ``gather()`` and ``gather(quick=True)``, against ``torch.utils.collect_env``.

bench/doctor.py times the whole command; this one isolates the probes, so a slow probe shows up here
before it hides behind the CLI's start-up. Each variant runs in a fresh interpreter, REPEATS times,
interleaved so that drift in the machine's load hits all three alike; medians are compared.
Targets (issue 2): full <= 1.0 of collect_env, quick <= 0.25.

    python bench/probe.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from _interleaved import interleaved  # bench/, next to this script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    python = sys.executable
    commands = {
        "collect_env": [python, "-m", "torch.utils.collect_env"],
        "gather": [python, "-c", "from torchrig.doctor.probe import gather; gather()"],
        "gather quick": [python, "-c", "from torchrig.doctor.probe import gather; gather(quick=True)"],
    }
    times = interleaved(commands, args.repeats)

    base = statistics.median(times["collect_env"])
    result = {}
    for name, samples in times.items():
        median = statistics.median(samples)
        result[name] = {"median_s": round(median, 3), "ratio": round(median / base, 3)}
        print(f"{name:13s} median {median:6.3f} s   ratio to collect_env {median / base:5.2f}")
    print(json.dumps(result))
    ok = result["gather"]["ratio"] <= 1.0 and result["gather quick"]["ratio"] <= 0.25
    print("targets met" if ok else "targets MISSED (full <= 1.0, quick <= 0.25)")


if __name__ == "__main__":
    main()
