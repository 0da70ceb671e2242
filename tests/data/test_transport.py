"""make_loader's worker-to-main transport: reused ring slots, yet batches the user owns outright."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch.utils.data import DataLoader

from torchrig.data import make_loader, transport
from torchrig.data.cachefile import TOTAL_STORE_ORDER as _TSO

pytestmark = pytest.mark.skipif(not _TSO, reason="the ring transport is used on x86-64 only")


class Mixed:
    def __len__(self) -> int:
        return 37

    def __getitem__(self, i: int):
        return {
            "x": torch.full((3, 8, 8), i, dtype=torch.float32),
            "y": i,
            "w": i / 2,
            "pair": (torch.tensor([i, -i]), True),
        }


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=False))
    return a == b


@pytest.mark.slow
def test_batches_equal_the_stock_collate_and_stay_valid_after_the_slot_is_reused() -> None:
    ring = make_loader(
        Mixed(), batch_size=2, shuffle=False, num_workers=2, persistent_workers=True, multiprocessing_context="fork"
    )
    assert isinstance(ring, transport.RingLoader)
    stock = list(DataLoader(Mixed(), batch_size=2, shuffle=False))
    for _ in range(2):  # every batch held: the rings run out of slots and the rest come the stock way
        got = list(ring)
        assert len(got) == len(stock) and all(_same(a, b) for a, b in zip(got, stock, strict=False))
        assert not any(isinstance(b, transport.RingBatch) for b in got)
    del got
    ring.ring_batches = 0
    kept = None
    for k, batch in enumerate(ring):  # the usual loop: each batch dropped when the next arrives
        assert _same(batch, stock[k])
        if k == 0:
            kept = batch["x"][1:3]  # a view outliving its batch keeps its slot taken
    assert ring.ring_batches == len(stock) > 2 * 4, "every batch came through a ring, slots reused"
    for k, batch in enumerate(ring):  # another epoch of reuse around the kept slot
        assert _same(batch, stock[k])
    assert torch.equal(kept, stock[0]["x"][1:3]), "a slot still viewed was never written again"
    first = next(iter(ring))  # a partial epoch: the unread batches free their slots when dropped
    assert _same(first, stock[0])
    assert all(_same(a, b) for a, b in zip(list(ring), stock, strict=False)), "no slot stayed taken"


def test_the_slot_frees_when_the_last_view_of_its_batch_does(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    import pickle
    from multiprocessing.reduction import ForkingPickler

    import torch.multiprocessing  # noqa: F401  (registers the reductions that share tensors)

    monkeypatch.setattr(transport, "get_worker_info", object)
    items = [Mixed()[i] for i in range(3)]
    sent = transport.RingCollate(2)(items)
    received = pickle.loads(ForkingPickler.dumps(sent))  # what the main process gets: the same memory
    out = received.take()
    assert not isinstance(out, transport.RingBatch) and _same(out, sent.data)
    out["x"][0, 0, 0, 0] = -1.0  # the user's to write: no copy, and the worker does not touch it
    assert sent.data["x"][0, 0, 0, 0] == -1.0, "the user's batch is the slot itself"
    view = out["pair"][0][1:]
    del out, received
    gc.collect()
    assert sent.flag[0] == 1, "a view of the batch is still alive"
    del view
    gc.collect()
    assert sent.flag[0] == 0, "the last view is gone: the worker may reuse the slot"


def test_a_dtype_numpy_lacks_is_copied_out_and_frees_the_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    import pickle
    from multiprocessing.reduction import ForkingPickler

    import torch.multiprocessing

    monkeypatch.setattr(transport, "get_worker_info", object)
    items = [torch.full((4,), i / 4, dtype=torch.bfloat16) for i in range(3)]
    sent = transport.RingCollate(2)(items)
    out = pickle.loads(ForkingPickler.dumps(sent)).take()
    gc.collect()
    assert out.dtype == torch.bfloat16 and torch.equal(out, torch.stack(items))
    assert sent.flag[0] == 0, "copied out: nothing views the slot"


def test_a_slot_never_freed_falls_back_to_the_stock_collate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "get_worker_info", object)
    collate = transport.RingCollate(2)
    items = [Mixed()[i] for i in range(4)]
    held = [collate(items), collate(items)]  # never released: the user keeps them
    assert all(isinstance(b, transport.RingBatch) for b in held)
    third = collate(items)
    assert not isinstance(third, transport.RingBatch) and _same(third, held[0].data)


def test_a_batch_with_strings_goes_the_stock_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "get_worker_info", object)
    out = transport.RingCollate(2)([("a", torch.zeros(2)), ("b", torch.ones(2))])
    assert not isinstance(out, transport.RingBatch)
    assert list(out[0]) == ["a", "b"] and torch.equal(out[1], torch.tensor([[0.0, 0.0], [1.0, 1.0]]))


def test_the_runtime_without_torch_says_so_in_one_sentence() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from torchrig._core.errors import TorchMissingError\n"
        "try:\n    from torchrig.data import CachedDataset\nexcept TorchMissingError as e:\n    print('ok', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.startswith("ok torchrig.data needs PyTorch")


def test_pinning_is_the_one_copy_and_frees_the_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """With pin_memory=True the DataLoader's pin thread calls RingBatch.pin_memory() (no CUDA here:
    pinning is faked by a copy at the tensor method)."""
    import pickle
    from multiprocessing.reduction import ForkingPickler

    import torch.multiprocessing

    monkeypatch.setattr(transport, "get_worker_info", object)
    pinned = []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda t, *a: pinned.append(1) or t.clone())
    items = [Mixed()[i] for i in range(3)]
    sent = transport.RingCollate(2)(items)
    received = pickle.loads(ForkingPickler.dumps(sent))  # what the main process gets: the same memory
    assert sent.flag[0] == 1
    out = received.pin_memory()
    assert not isinstance(out, transport.RingBatch) and _same(out, sent.data) and pinned
    assert sent.flag[0] == 0, "pinned: the worker may reuse the slot"
