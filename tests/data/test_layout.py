"""Items become raw records and come back equal; a tampered spec is rejected, never executed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchrig.data.layout import Layout, Uncacheable, describe, strip_shapes


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


ITEM = (
    torch.arange(12, dtype=torch.float32).reshape(3, 4),
    {"ids": np.arange(5, dtype=np.int32), "w": torch.tensor([1.5, -2.0], dtype=torch.bfloat16), "none": None},
    [7, 2.5, True],
)


def test_fixed_records_round_trip_every_leaf_kind() -> None:
    spec, _ = describe(ITEM)
    layout = Layout(spec, fixed=True)
    parts = layout.encode(ITEM)
    record = np.concatenate(parts)
    records = np.zeros((2, layout.record_size), np.uint8)
    records[0, : record.size] = record
    records[1, : record.size] = record
    out = layout.decode_batch(records)
    assert len(out) == 2 and all(_equal(ITEM, o) for o in out)
    assert layout.record_size % 64 == 0


def test_variable_records_round_trip_strings_and_ragged_arrays() -> None:
    items = [(torch.arange(n, dtype=torch.int64), f"text {n} é", b"\x00" * n) for n in (0, 3, 17)]
    layout = Layout(strip_shapes(describe(items[0])[0]), fixed=False)
    for item in items:
        back = layout.decode_var(np.concatenate(layout.encode(item)))
        assert _equal(item, back)


def test_an_item_of_another_shape_is_not_cacheable_in_a_fixed_layout() -> None:
    layout = Layout(describe((torch.zeros(3), 1))[0], fixed=True)
    with pytest.raises(Uncacheable):
        layout.encode((torch.zeros(4), 1))


def test_objects_are_never_cached() -> None:
    with pytest.raises(Uncacheable):
        describe((object(),))
    with pytest.raises(Uncacheable):
        describe(np.array([object()], dtype=object))


def test_numpy_scalars_come_back_as_numpy_scalars_of_the_same_dtype() -> None:
    labels = np.arange(4, dtype=np.int64)
    item = (np.ones(3, np.uint8), labels[2], np.float32(0.25), np.float64(-1.5), np.bool_(True), np.uint16(7))
    fixed = Layout(describe(item)[0], fixed=True)
    records = np.zeros((1, fixed.record_size), np.uint8)
    record = np.concatenate(fixed.encode(item))
    records[0, : record.size] = record
    (back,) = fixed.decode_batch(records)
    assert _equal(item, back) and type(back[1]) is np.int64 and type(back[3]) is np.float64
    ragged = (np.ones(5, np.uint8), labels[3], "x", np.float32(2.0))
    var = Layout(strip_shapes(describe(ragged)[0]), fixed=False)
    assert _equal(ragged, var.decode_var(np.concatenate(var.encode(ragged))))


def test_one_rounding_helper_serves_the_whole_data_package() -> None:
    from torchrig.data import layout, store, transport

    assert store.round_up is layout.round_up and transport.round_up is layout.round_up
    assert [layout.round_up(n, 64) for n in (0, 1, 64, 65)] == [0, 64, 64, 128]
