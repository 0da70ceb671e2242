"""How long `torchrig selftest --cpu 2` takes, stage by stage, against its 60 s budget.

    python bench/selftest.py [--runs 3] [--cpu 2] [--steps N]

Runs the real command (a subprocess, as a user would) ``--runs`` times and prints, per run: the wall time
of the whole command, the run as the launcher timed it, each stage's time, the time outside the stages
(starting Python and importing torch in the launcher and the ranks), the training data-stall figure; then
the median, and the ratio of the median wall time to the budget (below 1.00 is within budget).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

BUDGET_S = 60.0


def one_run(cpu: int, steps: int | None) -> dict:
    argv = [sys.executable, "-m", "torchrig", "selftest", "--cpu", str(cpu), "--json"]
    if steps is not None:
        argv += ["--steps", str(steps)]
    begin = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - begin
    if proc.returncode not in (0, 1):
        raise SystemExit(f"selftest exited {proc.returncode}: {proc.stderr.strip()}")
    data = json.loads(proc.stdout)
    stages = {s["name"]: s["seconds"] for s in data["stages"]}
    training = next(s for s in data["stages"] if s["name"] == "training")
    return {
        "wall": wall,
        "run": data["seconds"],
        "ok": data["ok"],
        "stages": stages,
        "outside": wall - sum(stages.values()),
        "stall": training["figures"].get("data_stall"),
        "step": training["figures"].get("median_step_s"),
        "setup": training["figures"].get("setup_s"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()
    runs = [one_run(args.cpu, args.steps) for _ in range(args.runs)]
    names = list(runs[0]["stages"])
    print(f"torchrig selftest --cpu {args.cpu} ({len(runs)} runs; seconds)")
    header = ["run", "wall", "launcher", *names, "outside stages", "step (median)", "train setup", "data stall", "ok"]
    print("  ".join(f"{h:>12}" for h in header))
    for i, r in enumerate(runs, 1):
        cells = [str(i), f"{r['wall']:.1f}", f"{r['run']:.1f}"] + [f"{r['stages'][n]:.2f}" for n in names]
        cells += [
            f"{r['outside']:.1f}",
            f"{(r['step'] or 0) * 1000:.0f} ms",
            f"{r['setup'] or 0:.1f}",
            f"{(r['stall'] or 0):.0%}",
            str(r["ok"]),
        ]
        print("  ".join(f"{c:>12}" for c in cells))
    median = statistics.median(r["wall"] for r in runs)
    print(
        f"\nmedian wall time {median:.1f} s against a budget of {BUDGET_S:.0f} s: ratio {median / BUDGET_S:.2f} "
        f"({'within' if median <= BUDGET_S else 'OVER'} budget)"
    )
    slowest = max(names, key=lambda n: statistics.median(r["stages"][n] for r in runs))
    print(
        f"slowest stage: {slowest}; time outside the stages (interpreter starts, torch imports): "
        f"{statistics.median(r['outside'] for r in runs):.1f} s"
    )


if __name__ == "__main__":
    main()
