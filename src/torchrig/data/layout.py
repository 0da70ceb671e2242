"""How a dataset item becomes raw bytes in the shared cache, and back, without pickle.

An item is a tree: tuples, lists and dicts (string keys) whose leaves are torch tensors, numpy
arrays, numpy scalars, Python ``int``/``float``/``bool``/``str``/``bytes`` or ``None``. A numpy
scalar (``labels[i]`` of an int64 array) comes back as a numpy scalar of the same dtype. Its *spec* is that tree
written as plain JSON-able data (kinds, dtypes, shapes); the bytes are the leaves' raw buffers.
Reading back only ever interprets bytes as the dtypes and shapes of a spec, so whoever can write the
cache can at worst make us read wrong numbers, never run code.

Two record formats:

- **fixed**: every item has the same spec, shapes included. A record is the leaves back to back,
  each at an 8-byte aligned offset; the record size is padded to 64 bytes. Batches of records
  decode with one tensor view per leaf (the fast path).
- **variable**: every item has the same tree, kinds and dtypes, but shapes and string lengths vary.
  A record starts with an int64 prefix (every array leaf's dims, every str/bytes leaf's length),
  then the leaves as above.

An item whose tree does not match the cache's spec is simply not cached (it is served uncached).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

_ALIGN = 8
RECORD_ALIGN = 64


def round_up(n: int, to: int) -> int:
    return (n + to - 1) // to * to


# torch dtypes numpy has no name for travel as raw bytes of the same width.
_TORCH_ONLY = {"bfloat16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1}


class Uncacheable(ValueError):
    """This item has no raw-bytes form here (an unsupported type, or a tree the cache was not made for)."""


def _torch() -> ModuleType:
    import torch

    return torch


def _leaf_array(obj: Any) -> tuple[dict, np.ndarray | None]:
    """(spec of one leaf, its bytes as a flat uint8 array or None for no bytes)."""
    # Before the Python types: np.float64 is a float subclass, and it should come back as itself.
    if isinstance(obj, np.generic) and not isinstance(obj, (str, bytes)):
        arr = np.asarray(obj)
        if arr.dtype.hasobject or arr.dtype.fields is not None or arr.dtype.itemsize == 0:
            raise Uncacheable(f"a numpy scalar of dtype {arr.dtype}")
        return {"k": "npscalar", "dtype": arr.dtype.str}, arr.reshape(-1).view(np.uint8)
    if isinstance(obj, bool):
        return {"k": "bool"}, np.frombuffer(np.int64(obj).tobytes(), np.uint8)
    if isinstance(obj, int):
        if not -(2**63) <= obj < 2**63:
            raise Uncacheable("an int wider than 64 bits")
        return {"k": "int"}, np.frombuffer(np.int64(obj).tobytes(), np.uint8)
    if isinstance(obj, float):
        return {"k": "float"}, np.frombuffer(np.float64(obj).tobytes(), np.uint8)
    if obj is None:
        return {"k": "none"}, None
    if isinstance(obj, str):
        return {"k": "str"}, np.frombuffer(obj.encode("utf-8"), np.uint8)
    if isinstance(obj, (bytes, bytearray)):
        return {"k": "bytes"}, np.frombuffer(bytes(obj), np.uint8)
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject or obj.dtype.fields is not None:
            raise Uncacheable(f"a numpy array of dtype {obj.dtype}")
        arr = np.ascontiguousarray(obj)
        return {"k": "ndarray", "dtype": arr.dtype.str, "shape": list(arr.shape)}, arr.reshape(-1).view(np.uint8)
    if type(obj).__module__.startswith("torch") and hasattr(obj, "dtype") and hasattr(obj, "untyped_storage"):
        torch = _torch()
        if obj.is_sparse or obj.layout != torch.strided or obj.is_quantized:
            raise Uncacheable("a sparse or quantized tensor")
        t = obj.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        t = t.contiguous()
        dtype = str(t.dtype).removeprefix("torch.")
        flat = t.reshape(-1)
        raw = flat.view(torch.uint8) if flat.numel() else torch.empty(0, dtype=torch.uint8)
        return {"k": "tensor", "dtype": dtype, "shape": list(t.shape)}, raw.numpy()
    raise Uncacheable(f"a {type(obj).__name__}")


def describe(item: Any) -> tuple[dict, list[np.ndarray | None]]:
    """The spec of ``item`` (shapes included) and its leaves' bytes, depth first."""
    leaves: list[np.ndarray | None] = []

    def walk(obj: Any) -> dict:
        if isinstance(obj, (tuple, list)):
            return {"k": "tuple" if isinstance(obj, tuple) else "list", "c": [walk(x) for x in obj]}
        if isinstance(obj, dict):
            if not all(isinstance(k, str) for k in obj):
                raise Uncacheable("a dict with non-string keys")
            return {"k": "dict", "keys": list(obj), "c": [walk(v) for v in obj.values()]}
        spec, raw = _leaf_array(obj)
        leaves.append(raw)
        return spec

    return walk(item), leaves


def strip_shapes(spec: dict) -> dict:
    """The spec with shapes replaced by ranks: what all items of a variable-size cache share."""
    out = {k: v for k, v in spec.items() if k not in ("shape", "c")}
    if "shape" in spec:
        out["ndim"] = len(spec["shape"])
    if "c" in spec:
        out["c"] = [strip_shapes(c) for c in spec["c"]]
    return out


@dataclass(frozen=True)
class _Leaf:
    kind: str
    dtype: str | None
    shape: tuple[int, ...] | None  # fixed format; None in the variable format
    ndim: int
    offset: int  # fixed format: byte offset in the record
    nbytes: int  # fixed format: payload bytes


def _leaves_of(spec: dict) -> list[dict]:
    out: list[dict] = []

    def walk(s: dict) -> None:
        if s["k"] in ("tuple", "list", "dict"):
            for c in s["c"]:
                walk(c)
        else:
            out.append(s)

    walk(spec)
    return out


def _itemsize(kind: str, dtype: str | None) -> int:
    if kind in ("int", "float", "bool"):
        return 8
    if kind in ("str", "bytes", "none"):
        return 1
    if dtype in _TORCH_ONLY:
        return _TORCH_ONLY[dtype]
    if kind == "tensor":
        size: int = _torch().empty(0, dtype=getattr(_torch(), cast(str, dtype))).element_size()
        return size
    return np.dtype(dtype).itemsize


class Layout:
    """A validated spec and the arithmetic to encode items into records and decode them back.

    A process decodes only with the layout it derived from its own dataset; a cache file's spec is
    merely compared with it (see store.py, P2), so a tampered header cannot steer decoding.
    """

    def __init__(self, spec: dict, *, fixed: bool) -> None:
        self.spec = spec
        self.fixed = fixed
        self._tree = spec
        leaves = _leaves_of(spec)
        self.leaves: list[_Leaf] = []
        offset = 0
        for leaf in leaves:
            kind, dtype = leaf["k"], leaf.get("dtype")
            if fixed:
                if kind in ("str", "bytes"):
                    raise ValueError("strings and bytes need the variable format")
                shape = tuple(int(x) for x in leaf.get("shape", ()))
                n = (
                    int(np.prod(shape, dtype=np.int64))
                    if kind in ("tensor", "ndarray")
                    else (0 if kind == "none" else 1)
                )
                nbytes = n * _itemsize(kind, dtype)
                self.leaves.append(_Leaf(kind, dtype, shape, len(shape), offset, nbytes))
                offset = round_up(offset + nbytes, _ALIGN)
            else:
                ndim = int(leaf.get("ndim", 0))
                self.leaves.append(_Leaf(kind, dtype, None, ndim, 0, 0))
        self.record_size = round_up(max(offset, 1), RECORD_ALIGN) if fixed else 0
        # Variable format: how many int64 the prefix holds (dims of arrays, lengths of str/bytes).
        self.prefix_len = sum(
            leaf.ndim if leaf.kind in ("tensor", "ndarray") else 1
            for leaf in self.leaves
            if leaf.kind not in ("int", "float", "bool", "none", "npscalar")
        )

    # ----- encoding ------------------------------------------------------------------------------

    def encode(self, item: Any) -> list[np.ndarray]:
        """The record's parts (uint8 arrays written back to back), or :class:`Uncacheable`."""
        spec, raw = describe(item)
        if self.fixed:
            if spec != self.spec:
                raise Uncacheable("an item whose shape or type differs from the first items'")
            parts: list[np.ndarray] = []
            pos = 0
            for leaf, data in zip(self.leaves, raw, strict=False):
                if leaf.offset > pos:
                    parts.append(np.zeros(leaf.offset - pos, np.uint8))
                if data is not None:
                    parts.append(data)
                pos = leaf.offset + leaf.nbytes
            return parts
        if strip_shapes(spec) != self.spec:
            raise Uncacheable("an item whose structure or dtypes differ from the first items'")
        # The prefix holds, in leaf order, every array leaf's dims and every str/bytes leaf's length.
        prefix: list[int] = []
        body: list[np.ndarray] = []
        for leaf_spec, data in zip(_leaves_of(spec), raw, strict=False):
            if leaf_spec["k"] in ("tensor", "ndarray"):
                prefix.extend(leaf_spec["shape"])
            elif leaf_spec["k"] in ("str", "bytes"):
                prefix.append(cast(np.ndarray, data).size)  # a str or bytes leaf always has bytes
            if data is not None and data.size:
                body.append(data)
                pad = round_up(data.size, _ALIGN) - data.size
                if pad:
                    body.append(np.zeros(pad, np.uint8))
        head = np.asarray(prefix, np.int64).view(np.uint8)
        return [head, *body]

    # ----- decoding ------------------------------------------------------------------------------

    def decode_batch(self, records: np.ndarray) -> list[Any]:
        """Items from a 2-D uint8 array of fixed-format records (a private copy: no aliasing)."""
        b = records.shape[0]
        columns: list[Any] = []
        torch = None
        for leaf in self.leaves:
            col = records[:, leaf.offset : leaf.offset + leaf.nbytes]
            if leaf.kind == "int":
                columns.append(col.view(np.int64)[:, 0].tolist())
            elif leaf.kind == "float":
                columns.append(col.view(np.float64)[:, 0].tolist())
            elif leaf.kind == "bool":
                columns.append([bool(x) for x in col.view(np.int64)[:, 0]])
            elif leaf.kind == "none":
                columns.append([None] * b)
            elif leaf.kind == "ndarray":
                arr = col.view(np.dtype(leaf.dtype)).reshape((b, *cast("tuple[int, ...]", leaf.shape)))
                columns.append(list(arr))
            elif leaf.kind == "npscalar":
                columns.append(list(col.view(np.dtype(leaf.dtype))[:, 0]))
            else:  # tensor
                torch = torch or _torch()
                t = torch.from_numpy(col)
                t = _as_dtype(torch, t, cast(str, leaf.dtype)).reshape((b, *cast("tuple[int, ...]", leaf.shape)))
                columns.append(t.unbind(0))
        return [self._build(iter([c[j] for c in columns])) for j in range(b)]

    def decode_var(self, record: np.ndarray) -> Any:
        """One item from a variable-format record (a private uint8 copy)."""
        prefix = record[: self.prefix_len * 8].view(np.int64).tolist()
        pos = self.prefix_len * 8
        p = 0
        values: list[Any] = []
        torch = None
        for leaf in self.leaves:
            if leaf.kind in ("int", "float", "bool"):
                raw = record[pos : pos + 8]
                v = raw.view(np.int64)[0] if leaf.kind != "float" else raw.view(np.float64)[0]
                values.append(bool(v) if leaf.kind == "bool" else int(v) if leaf.kind == "int" else float(v))
                pos += 8
            elif leaf.kind == "none":
                values.append(None)
            elif leaf.kind == "npscalar":
                dt = np.dtype(leaf.dtype)
                if pos + dt.itemsize > record.size:
                    raise ValueError("a cached record shorter than its spec says")
                values.append(record[pos : pos + dt.itemsize].view(dt)[0])
                pos += round_up(dt.itemsize, _ALIGN)
            elif leaf.kind in ("str", "bytes"):
                n = prefix[p]
                p += 1
                blob = record[pos : pos + n].tobytes()
                values.append(blob.decode("utf-8") if leaf.kind == "str" else blob)
                pos += round_up(n, _ALIGN)
            else:
                shape = tuple(prefix[p : p + leaf.ndim])
                p += leaf.ndim
                if any(d < 0 for d in shape):
                    raise ValueError("a negative dimension in a cached record")
                nbytes = int(np.prod(shape, dtype=np.int64)) * _itemsize(leaf.kind, leaf.dtype)
                if pos + nbytes > record.size:
                    raise ValueError("a cached record shorter than its shapes say")
                col = record[pos : pos + nbytes]
                if leaf.kind == "ndarray":
                    values.append(col.view(np.dtype(leaf.dtype)).reshape(shape))
                else:
                    torch = torch or _torch()
                    values.append(_as_dtype(torch, torch.from_numpy(col), cast(str, leaf.dtype)).reshape(shape))
                pos += round_up(nbytes, _ALIGN)
        return self._build(iter(values))

    def _build(self, values: Iterator[Any]) -> Any:
        return _walk(self._tree, values)


def _walk(s: dict, values: Iterator[Any]) -> Any:
    """The item the tree ``s`` describes, its leaves taken from ``values`` in order.

    A module function on purpose: a nested function that calls itself is a reference cycle (function,
    closure cell, function) that holds ``values``, and so every decoded item and through them the
    whole batch buffer, until the cyclic garbage collector runs. That kept several ~12 MB read
    buffers alive per DataLoader worker (the store could not reuse its buffer) and was most of the
    cache's extra private memory (issue 12)."""
    k = s["k"]
    if k == "tuple":
        return tuple(_walk(c, values) for c in s["c"])
    if k == "list":
        return [_walk(c, values) for c in s["c"]]
    if k == "dict":
        return {key: _walk(c, values) for key, c in zip(s["keys"], s["c"], strict=False)}
    return next(values)


def _as_dtype(torch: ModuleType, t: Tensor, dtype: str) -> Tensor:
    target = getattr(torch, dtype)
    if target == torch.uint8:
        return t
    if t.numel() == 0:
        empty: Tensor = torch.empty((*t.shape[:-1], 0), dtype=target)
        return empty
    return t.view(target)
