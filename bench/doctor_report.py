"""How long `doctor --report` takes to read pathological reports, and whether it stays linear.

Each input is a real collect_env head followed by filler of one kind (blank lines, whitespace-only
lines, quoted "> " lines, near-misses of the patterns the parser uses, one long line), at growing
sizes up to the 16 MiB cap. Printed: parse seconds, and the ratio to reading the same text's lines
(`str.splitlines`, the linear floor) and to the same filler at a quarter of the size (4.0 is linear;
a quadratic parser shows 16). Run: `python bench/doctor_report.py`.
"""

from __future__ import annotations

import contextlib
import time

from torchrig._core.errors import UserError
from torchrig.doctor.report import parse_report

HEAD = (
    "PyTorch version: 2.1.0+cu121\nCUDA used to build PyTorch: 12.1\nIs CUDA available: False\n"
    "GPU models and configuration: GPU 0: NVIDIA GeForce RTX 4090\nNvidia driver version: 535.104.05\n"
)
FILLERS = {
    "blank lines": "\n",
    "whitespace lines": "   \t  \n",
    "quoted lines": "> \n",
    "near-miss pip lines": "torch \n",
    "near-miss GPU lines": "  GPU 0: x (UUID: \n",
    "one long line": " ",
}
SIZES_MIB = (1, 4, 16)


def _seconds(text: str) -> float:
    start = time.perf_counter()
    with contextlib.suppress(UserError):
        parse_report(text)
    return time.perf_counter() - start


def main() -> None:
    print(f"{'filler':22} {'MiB':>4} {'parse s':>8} {'x splitlines':>13} {'x 1/4 size':>11}")
    for name, unit in FILLERS.items():
        previous = None
        for mib in SIZES_MIB:
            text = HEAD + unit * (mib * 2**20 // len(unit))
            parse = _seconds(text)
            start = time.perf_counter()
            text.splitlines()
            floor = max(time.perf_counter() - start, 1e-6)
            growth = f"{parse / previous:11.1f}" if previous else f"{'':>11}"
            print(f"{name:22} {mib:4d} {parse:8.2f} {parse / floor:13.0f} {growth}")
            previous = parse


if __name__ == "__main__":
    main()
