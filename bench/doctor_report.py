"""How long `doctor --report` takes to read pathological reports, and whether it stays linear.

Each input is a real collect_env head followed by filler of one kind (blank lines, whitespace-only
lines, quoted "> " lines, near-misses of the patterns the parser uses, one long line, log lines
that never repeat, which no shortcut for repeated text helps, a flood of "GPU n: name" lines in
collect_env's GPU field, and NCCL lines whose hex addresses make every line new), at growing sizes up to
the 16 MiB cap.
Printed: parse seconds (wall clock, and CPU time, which a busy machine disturbs less), and the ratio
to reading the same text's lines (`str.splitlines`, the linear floor) and to the same filler at a
quarter of the size (4.0 is linear; a quadratic parser shows 16). The goal: under 2 s at 16 MiB.
Run: `python bench/doctor_report.py`.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable

from torchrig._core.errors import UserError
from torchrig.doctor.report import parse_report

HEAD = (
    "PyTorch version: 2.1.0+cu121\nCUDA used to build PyTorch: 12.1\nIs CUDA available: False\n"
    "GPU models and configuration: GPU 0: NVIDIA GeForce RTX 4090\nNvidia driver version: 535.104.05\n"
)


def _log_lines(size: int) -> str:
    """Training-log lines with changing numbers, a "|" and a "->" in each: ``size`` characters."""
    rng = random.Random(0)
    lines: list[str] = []
    total = 0
    while total < size:
        line = (
            f"[12:{rng.randint(10, 59)}:{rng.randint(10, 59)}] epoch {rng.randint(0, 99)} step {rng.randint(0, 99999)} "
            f"loss {rng.random():.4f} | gpu mem {rng.randint(1000, 80000)} MiB -> ok\n"
        )
        lines.append(line)
        total += len(line)
    return "".join(lines)[:size]


def _nccl_lines(size: int) -> str:
    """NCCL's INFO lines at init (its wording, as in NVIDIA/nccl#1814: "comm 0x... rank 0 nranks 8 cudaDev 0 nvmlDev 0
    busId 18000 commId 0x... - Init COMPLETE"), with new hex addresses: words that never repeat, unless digits
    separate words."""
    rng = random.Random(0)
    lines: list[str] = []
    total = 0
    while total < size:
        rank = rng.randint(0, 7)
        line = (
            f"node{rng.randint(1, 64)}:{rng.randint(1000, 99999)}:{rng.randint(1000, 99999)} [{rank}] NCCL INFO "
            f"comm 0x{rng.getrandbits(48):012x} rank {rank} nranks 8 cudaDev {rank} nvmlDev {rank} busId {rng.getrandbits(20):x}000 "
            f"commId 0x{rng.getrandbits(64):016x} - Init COMPLETE\n"
        )
        lines.append(line)
        total += len(line)
    return "".join(lines)[:size]


def _gpu_flood(size: int) -> str:
    """The GPU field again, then ``GPU n: name`` lines: more GPUs than a machine holds (read up to MAX_GPUS)."""
    lines = ["GPU models and configuration:\n"]
    total = len(lines[0])
    i = 0
    while total < size:
        line = f"GPU {i}: NVIDIA A100-SXM4-80GB (UUID: GPU-{i:08x}-0000-0000-0000-000000000000)\n"
        lines.append(line)
        total += len(line)
        i += 1
    return "".join(lines)[:size]


FILLERS: dict[str, str | Callable[[int], str]] = {
    "blank lines": "\n",
    "whitespace lines": "   \t  \n",
    "quoted lines": "> \n",
    "near-miss pip lines": "torch \n",
    "near-miss GPU lines": "  GPU 0: x (UUID: \n",
    "one long line": " ",
    "log lines, no repeats": _log_lines,
    "GPU field flood": _gpu_flood,
    "NCCL lines, new hex": _nccl_lines,
}
SIZES_MIB = (1, 4, 16)


def _seconds(text: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds of parsing ``text``."""
    start, cpu = time.perf_counter(), time.process_time()
    with contextlib.suppress(UserError):
        parse_report(text)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    print(f"{'filler':22} {'MiB':>4} {'parse s':>8} {'cpu s':>6} {'x splitlines':>13} {'x 1/4 size':>11}")
    for name, unit in FILLERS.items():
        previous = None
        for mib in SIZES_MIB:
            size = mib * 2**20
            text = HEAD + (unit * (size // len(unit)) if isinstance(unit, str) else unit(size))
            parse, cpu = _seconds(text)
            start = time.perf_counter()
            text.splitlines()
            floor = max(time.perf_counter() - start, 1e-6)
            growth = f"{parse / previous:11.1f}" if previous else f"{'':>11}"
            print(f"{name:22} {mib:4d} {parse:8.2f} {cpu:6.2f} {parse / floor:13.0f} {growth}")
            previous = parse


if __name__ == "__main__":
    main()
