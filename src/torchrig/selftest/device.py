"""The few places where the self-test does something different on a GPU: timing, waiting, precision.

Everything CUDA-specific in the stages goes through here (and the peer-copy code in ``stages/p2p.py``),
so the CPU path that CI runs and the GPU path differ only in these functions.

Timing on a GPU uses CUDA events recorded on the current stream (``torch.cuda.Event(enable_timing=True)``,
``elapsed_time`` in milliseconds after ``synchronize``): kernels and NCCL collectives are asynchronous,
so a host clock would measure the launch, not the work. NCCL runs collectives on its own stream but makes
the current stream wait for them, so events on the current stream bracket the whole collective.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any


def synchronize(device: Any) -> None:
    """Wait for the device's queued work (nothing to wait for on CPU)."""
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def time_repeated(device: Any, fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Seconds per call of ``fn`` after ``warmup`` untimed calls: CUDA events on a GPU, a wall clock on CPU."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        for _ in range(repeats):
            fn()
        end.record()
        end.synchronize()
        seconds: float = start.elapsed_time(end) / 1000.0 / repeats
        return seconds
    begin = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - begin) / repeats


@contextlib.contextmanager
def highest_matmul_precision() -> Iterator[None]:
    """Plain float32 products (no TF32, no bfloat16 splitting) while the block runs."""
    import torch

    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def name(device: Any) -> str:
    if device.type == "cuda":
        import torch

        return f"cuda:{device.index} {torch.cuda.get_device_name(device)}"
    return "cpu"
