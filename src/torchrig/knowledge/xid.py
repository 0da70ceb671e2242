"""NVIDIA Xid events: the kernel log's numbered GPU errors, and which of them are hardware faults.

    >>> event(79).kind, event(79).meaning
    ('hardware', 'GPU has fallen off the bus: it stopped answering on PCIe')
    >>> numbers_in("NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.")
    [79]

The table (``xid.toml``) names its sources; an Xid it does not list is unknown, never assumed benign.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from torchrig.knowledge import load

# "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, ..." and the older "NVRM: Xid (0000:01:00): 31, Ch ..."
_XID = re.compile(r"\bXid\s*\((?:PCI:)?[0-9a-fA-F:.]*\)\s*:\s*(\d{1,3})\b")


@dataclass(frozen=True)
class XidEvent:
    number: int
    meaning: str
    kind: str  # "hardware", "driver", "application"
    action: str


@functools.cache
def _table() -> dict[int, XidEvent]:
    rows = load("xid")["xid"]
    return {int(n): XidEvent(int(n), r["meaning"], r["kind"], r["action"]) for n, r in rows.items()}


def event(number: int) -> XidEvent | None:
    """What Xid ``number`` means, or None when the table does not list it."""
    return _table().get(number)


def numbers_in(text: str) -> list[int]:
    """The Xid numbers a kernel-log text mentions, in order, each once."""
    return list(dict.fromkeys(int(m) for m in _XID.findall(text)))
