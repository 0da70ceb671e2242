"""Loading a state dict into a model whatever wrapped it when it was saved.

A checkpoint saved from ``DistributedDataParallel`` has every key under ``module.``; one saved from
``torch.compile`` has them under ``_orig_mod.``; one saved from a compiled DDP model has both, in either
order. ``model.load_state_dict`` refuses all of these unless the model is wrapped the same way.

    >>> from torchrig.checkpoint import load_state_dict
    >>> load_state_dict(plain_model, "ddp_run/last.pt")          # keys module.conv.weight -> conv.weight
    >>> load_state_dict(ddp_model, plain_model.state_dict())     # conv.weight -> module.conv.weight

How keys are matched: the **wrapper prefix** of a set of keys is the longest run of leading
``module.`` / ``_orig_mod.`` segments that every key shares. The checkpoint's wrapper prefix is replaced
by the model's, and ``_orig_mod.`` segments deeper in a key (a compiled submodule) are matched as if
absent. Because the prefix must be shared by *every* key, a model whose only child is really called
``module`` still loads its own checkpoints unchanged.

Files are read with ``torch.load(..., weights_only=True)``: tensors and plain containers only, never
arbitrary pickled objects, so a checkpoint from someone else cannot run code.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torchrig._core.errors import UserError, require_torch

if TYPE_CHECKING:
    import torch

__all__ = ["CheckpointError", "load_state_dict"]

_WRAPPERS = ("module", "_orig_mod")  # DistributedDataParallel / DataParallel, torch.compile
_COMPILED = "_orig_mod"
_NESTED_KEYS = ("state_dict", "model_state_dict", "model")  # {"state_dict": {...}, "epoch": 3, ...}
_LISTED = 8  # keys named in an error message before "and N more"


class CheckpointError(UserError):
    """The checkpoint cannot be read, or does not fit the model; the message says which keys."""


def load_state_dict(
    model: torch.nn.Module,
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    strict: bool = True,
) -> Any:
    """Load ``source`` (a path or a state dict) into ``model``, adding or stripping wrapper prefixes.

    Returns what ``model.load_state_dict`` returns (``missing_keys``, ``unexpected_keys``, in the model's
    names). With ``strict=True`` any missing or unexpected key raises :class:`CheckpointError` naming
    them all in one message; a tensor whose shape differs always does.
    """
    require_torch("torchrig.checkpoint")
    state = _read(source) if isinstance(source, (str, os.PathLike)) else source
    if not isinstance(state, Mapping):
        raise CheckpointError(f"a state dict must be a mapping of names to tensors, not {type(state).__name__}.")
    state = _unwrap_container(state)

    wanted = model.state_dict()
    remapped, source_name = _remap(state, list(wanted))
    missing = [k for k in wanted if k not in remapped]
    unexpected = [source_name[k] for k in remapped if k not in wanted]
    shapes = [
        f"{k} (checkpoint {tuple(v.shape)}, model {tuple(wanted[k].shape)})"
        for k, v in remapped.items()
        if k in wanted
        and hasattr(v, "shape")
        and hasattr(wanted[k], "shape")
        and tuple(v.shape) != tuple(wanted[k].shape)
    ]
    if shapes or (strict and (missing or unexpected)):
        raise CheckpointError(_mismatch_message(missing if strict else [], unexpected if strict else [], shapes))
    return model.load_state_dict(remapped, strict=strict)


def _read(path: str | os.PathLike[str]) -> Any:
    import torch

    name = os.fspath(path)
    if os.path.isdir(name):
        raise CheckpointError(f"{name} is a directory; give the checkpoint file saved with torch.save.")
    try:
        return torch.load(name, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {name}.") from None
    except PermissionError:
        raise CheckpointError(f"cannot read the checkpoint {name}: permission denied.") from None
    except Exception as exc:  # a foreign, truncated or unsafe file fails deep in the unpickler, in many ways
        raise CheckpointError(f"{name} {_why_unreadable(name, exc)}.") from None


def _why_unreadable(name: str, exc: Exception) -> str:
    """Why torch.load failed on ``name``, as the rest of a sentence that starts with the file's name."""
    found = re.search(r"GLOBAL (\S+)", str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
    if found:
        # weights_only=True refuses anything but tensors and plain containers: loading this object could run code
        return (
            f"holds pickled Python objects, not only tensors (it references {found.group(1)}); torchrig loads "
            "with weights_only=True and will not run them: save model.state_dict() instead"
        )
    try:
        with open(name, "rb") as fh:
            instead = _not_a_checkpoint(fh.read(_HEAD))
    except OSError:
        instead = None
    if instead:
        return f"is not a torch checkpoint: {instead}"
    why = _first_line_naming(str(exc), ("Unsupported", "error"), after="WeightsUnpickler error:")
    return f"is not a readable torch checkpoint (torch: {_shorten(why)})"


_HEAD = 64  # enough bytes to tell what a file is
_ZIP = b"PK\x03\x04"  # torch.save's format since torch 1.6
_LFS = b"version https://git-lfs.github.com/spec/"


def _not_a_checkpoint(head: bytes) -> str | None:
    """What a file torch.load failed on is instead, when its first bytes tell; else None.

    torch.save writes a zip archive (torch 1.6+) or, in the legacy format, a pickle of protocol 2 or
    later (first byte PROTO, 0x80). Asked only after torch.load failed, so a file torch can read is
    never refused on its looks.
    """
    if not head:
        return "it is empty"
    if head.startswith(_ZIP) or (head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= 5):
        return None  # the right format, damaged further in
    if head.startswith(_LFS):
        return "it is a Git LFS pointer, not the file itself (run `git lfs pull` where you cloned it)"
    size = int.from_bytes(head[:8], "little")
    if len(head) > 8 and head[8:9] == b"{" and 0 < size < 100_000_000:
        return "it is a safetensors file; load it with safetensors.torch.load_file and pass the result"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut by the end of the head is still text
        text = head[: exc.start].decode("utf-8") if exc.start >= len(head) - 3 else ""
    if not text or not "".join(text.split()).isprintable():
        return "its first bytes are neither a zip archive nor a pickle, the two formats torch.save writes"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"it is a text file, starting {_shorten(first, 40)!r}, where torch.save writes a zip archive"


def _shorten(text: str, limit: int = 200) -> str:
    """``text`` cut at the last word boundary before ``limit`` characters, never mid-word."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(",;:") + " ..."


def _first_line_naming(text: str, markers: tuple[str, ...], *, after: str | None = None) -> str:
    """The first line of ``text`` naming one of ``markers`` (after the line holding ``after``), else the first."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if after is not None:
        at = next((i for i, line in enumerate(lines) if after in line), None)
        if at is not None:
            rest = lines[at].split(after, 1)[1].strip()
            following = [rest] if rest else []
            following += lines[at + 1 :]
            if following:
                return following[0].rstrip(".")
    for line in lines:
        if any(m in line for m in markers):
            return line.rstrip(".")
    return (lines[0] if lines else "no detail").rstrip(".")


def _unwrap_container(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """A training checkpoint ``{"state_dict": {...}, "epoch": 3}`` -> the state dict inside it."""
    if any(_is_tensor(v) for v in state.values()):
        return state
    for key in _NESTED_KEYS:
        inner = state.get(key)
        if isinstance(inner, Mapping) and any(_is_tensor(v) for v in inner.values()):
            return inner
    return state


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def _split(key: str) -> tuple[str, str]:
    """``"module._orig_mod.fc.weight"`` -> (``"module._orig_mod."``, ``"fc.weight"``)."""
    parts = key.split(".")
    n = 0
    while n < len(parts) - 1 and parts[n] in _WRAPPERS:
        n += 1
    return "".join(p + "." for p in parts[:n]), ".".join(parts[n:])


def _wrapper_prefix(keys: list[str]) -> str:
    """The leading wrapper segments that every key shares (``""`` when they share none)."""
    if not keys:
        return ""
    prefixes = [_split(k)[0].split(".")[:-1] for k in keys]
    common: list[str] = []
    for segments in zip(*prefixes, strict=False):
        if len(set(segments)) != 1:
            break
        common.append(segments[0])
    return "".join(s + "." for s in common)


def _canonical(key: str) -> str:
    """A key with its ``_orig_mod.`` segments removed: compiled submodules match their plain selves."""
    return ".".join(p for p in key.split(".") if p != _COMPILED) or key


def _remap(state: Mapping[str, Any], wanted: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The checkpoint under the model's names, and for each new name the checkpoint's original one.

    Every shortening of the two wrapper prefixes is tried and the one that matches the most keys wins
    (the longest on a tie): a partial checkpoint that happens to hold only a child named ``module``
    keeps its name.
    """
    best: tuple[int, dict[str, Any], dict[str, str]] | None = None
    wanted_set = set(wanted)
    for src_prefix in _shortenings(_wrapper_prefix(list(state))):
        for dst_prefix in _shortenings(_wrapper_prefix(wanted)):
            model_name = {_canonical(k[len(dst_prefix) :]): k for k in wanted}
            remapped: dict[str, Any] = {}
            source_name: dict[str, str] = {}
            for key, value in state.items():
                rest = key[len(src_prefix) :]
                name = model_name.get(_canonical(rest), dst_prefix + rest)
                remapped[name] = value
                source_name[name] = key
            matched = sum(1 for name in remapped if name in wanted_set)
            if best is None or matched > best[0]:
                best = (matched, remapped, source_name)
    assert best is not None
    return best[1], best[2]


def _shortenings(prefix: str) -> list[str]:
    """``"module._orig_mod."`` -> [``"module._orig_mod."``, ``"module."``, ``""``]."""
    segments = prefix.split(".")[:-1]
    return ["".join(s + "." for s in segments[:n]) for n in range(len(segments), -1, -1)]


def _mismatch_message(missing: list[str], unexpected: list[str], shapes: list[str]) -> str:
    parts = []
    if missing:
        parts.append(f"{_count(len(missing), 'missing key')} ({_listing(missing)})")
    if unexpected:
        parts.append(f"{_count(len(unexpected), 'unexpected key')} ({_listing(unexpected)})")
    if shapes:
        parts.append(f"{_count(len(shapes), 'shape mismatch', 'shape mismatches')} ({_listing(shapes)})")
    hint = "; pass strict=False to load the keys that fit" if (missing or unexpected) and not shapes else ""
    return "the checkpoint does not fit the model: " + ", ".join(parts) + hint + "."


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")
