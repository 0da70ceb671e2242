"""The failures a report shows, whatever they are: the lines that say a program stopped.

Not evidence for any cause. They let the doctor say that a report shows a failure no rule explains
(``doctor.unexplained``), instead of refusing the report as "nothing recognised" or calling the
machine healthy. The line recorded is the last exception of the last traceback, which is what a
program died of; without a traceback, the first line that says something crashed or was killed.
"""

from __future__ import annotations

import collections
import heapq
import re
from collections.abc import Iterator

from torchrig._core.prefilter import Haystack

# Patterns run over the whole text (MULTILINE), never line by line in Python: a report may be 16 MiB.
# Within a line only [ \t], never \s, which would run across line ends.
# "ValueError: ...", "torch.OutOfMemoryError: ...", "subprocess.CalledProcessError: ..." alone on a line
# Python prints "RuntimeError:" alone when the message starts with a newline (multiprocessing's spawn
# bootstrapping error does): the message is then the next line, which _line_at joins on.
_EXCEPTION = re.compile(
    r"^[ \t]*(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)(?::[ \t]+\S.*|:?[ \t]*)$", re.MULTILINE
)
# An NVIDIA Xid line is a GPU-side failure of a program or of the GPU (gpu.hardware-fault tells which).
# Failures that are no Python exception: NVML's ("Failed to initialize NVML: Unknown Error", nvidia-smi's
# whole output when NVML fails), a C++ exception that ended the process (libstdc++ prints "terminate called
# after throwing an instance of 'c10::Error'" and its "what():"), torch's NCCL watchdog timing out, and torch's
# caching allocator refusing an allocation ("CUDA out of memory. Tried to allocate ...", c10/cuda/
# CUDACachingAllocator.cpp), which people also quote in their own sentences.
_CRASH = re.compile(
    r"Segmentation fault|core dumped|^[ \t]*Killed[ \t]*$|^[ \t]*Aborted\b|^[ \t]*ERROR: .{8,}|NVRM: Xid \("
    r"|Failed to initialize NVML: \S|terminate called after throwing an instance of|^[ \t]*what\(\):[ \t]+\S"
    r"|Watchdog caught collective operation timeout|\bCUDA out of memory\b",
    re.IGNORECASE | re.MULTILINE,
)
_TRACEBACK = re.compile(r"^[ \t]*Traceback \(most recent call last\)", re.MULTILINE)
_LIMIT = 300  # characters kept of a failure line


def failures(text: str | Haystack) -> list[str]:
    """The failure lines of ``text``, the most telling first (at most a few)."""
    haystack = text if isinstance(text, Haystack) else Haystack(text)
    text = haystack.text
    exceptions = haystack.may_match(_EXCEPTION)  # each pattern only where its words occur
    out: list[str] = []
    start = _last(haystack.finditer(_TRACEBACK))
    if start is not None and exceptions:
        last = _last(_EXCEPTION.finditer(text, start.end()))
        if last:
            out.append(_line_at(text, last.start()))
    seen = -1
    matches = heapq.merge(haystack.finditer(_EXCEPTION), haystack.finditer(_CRASH), key=lambda m: m.start())
    for match in matches:
        begin = text.rfind("\n", 0, match.start()) + 1
        if begin == seen:
            continue
        seen = begin
        out.append(_line_at(text, begin))
        if len(out) >= 4:
            break
    return list(dict.fromkeys(out))


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    tail = collections.deque(matches, maxlen=1)
    return tail[0] if tail else None


def _line_at(text: str, pos: int) -> str:
    """The whole line of ``text`` that holds position ``pos``, stripped and cut at :data:`_LIMIT`; a line that
    ends in ":" (an exception whose message starts on the next line) with that next line joined on."""
    begin = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    line = text[begin : end if end >= 0 else len(text)].strip()
    if line.endswith(":") and end >= 0:
        following = text[end + 1 : end + 1 + _LIMIT].lstrip("\n").split("\n", 1)[0].strip()
        line = f"{line} {following}".strip()
    return line[:_LIMIT]
