"""The batch ring's pinned-memory path with real CUDA pinning (torchrig.data.transport, R2).

With ``pin_memory=True`` the DataLoader's pin-memory thread calls ``RingBatch.pin_memory()``: the one copy
out of the worker's ring slot goes straight into page-locked memory, and the slot is freed. On a CPU
machine that path can only be faked; here the batches must come back really pinned, equal to what the
stock DataLoader gives, stay valid after their slots are reused, and reach the GPU intact through
``.to("cuda", non_blocking=True)``.
"""

from __future__ import annotations

from typing import Any

import pytest
from gpu_lane import no_gpu_reason

if no_gpu_reason() is None:  # else conftest skips every test, saying why
    import torch
    from torch.utils.data import DataLoader

    from torchrig.data import make_loader, transport
    from torchrig.data.store import _TSO

pytestmark = pytest.mark.gpu

BATCH = 8


class Mixed:
    """Items of every kind the ring collates: tensors, ints, floats, a dict and a tuple in it."""

    def __len__(self) -> int:
        return 61  # a short last batch

    def __getitem__(self, i: int) -> dict[str, Any]:
        gen = torch.Generator().manual_seed(i)
        return {
            "x": torch.randn(3, 32, 32, generator=gen),
            "y": i,
            "w": i / 4,
            "pair": (torch.full((5,), i, dtype=torch.int64), torch.tensor(i % 2 == 0)),
        }


def tensors(batch: Any) -> list[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        return [batch]
    if isinstance(batch, dict):
        return [t for v in batch.values() for t in tensors(v)]
    if isinstance(batch, (list, tuple)):
        return [t for v in batch for t in tensors(v)]
    return []


def test_pinned_batches_equal_the_stock_collate_and_reach_the_gpu_intact(monkeypatch: pytest.MonkeyPatch) -> None:
    if not _TSO:
        pytest.skip("the ring transport is used on x86-64 only")
    # The CUDA context first, so that the pin thread's first pin does not hold up the workers past the
    # ring's wait for a free slot (R3), which would send batches the stock way.
    torch.zeros(1, device="cuda")
    pinned_from_ring = []
    original = transport.RingBatch.pin_memory

    def counting(self: transport.RingBatch, device: Any = None) -> Any:
        pinned_from_ring.append(1)
        return original(self, device)

    monkeypatch.setattr(transport.RingBatch, "pin_memory", counting)  # the pin thread runs in this process

    loader = make_loader(
        Mixed(),
        batch_size=BATCH,
        shuffle=False,
        num_workers=2,
        pin_memory=True,
        persistent_workers=True,
        multiprocessing_context="fork",
    )
    assert isinstance(loader, transport.RingLoader) and loader.pin_memory
    stock = list(DataLoader(Mixed(), batch_size=BATCH, shuffle=False))
    epochs = [list(loader) for _ in range(2)]  # the second epoch reuses every slot while the first is still held
    assert len(pinned_from_ring) == 2 * len(stock), "every batch was pinned straight out of its ring slot"

    stream = torch.cuda.Stream()
    for got in epochs:
        assert len(got) == len(stock)
        for batch, expected in zip(got, stock, strict=True):
            assert isinstance(batch, dict) and not isinstance(batch, transport.RingBatch)
            assert batch["y"].tolist() == expected["y"].tolist() and batch["w"].dtype == torch.float64
            pairs = list(zip(tensors(batch), tensors(expected), strict=True))
            assert all(t.is_pinned() for t, _ in pairs), "a batch came back in pageable memory"
            assert all(t.dtype == e.dtype and torch.equal(t, e) for t, e in pairs)
            with torch.cuda.stream(stream):  # asynchronous copies from pinned memory, off the default stream
                on_gpu = [t.to("cuda", non_blocking=True) for t, _ in pairs]
            stream.synchronize()
            assert all(g.is_cuda and torch.equal(g.cpu(), e) for g, (_, e) in zip(on_gpu, pairs, strict=True))
    del loader
