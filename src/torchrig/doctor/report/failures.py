"""The failures a report shows, whatever they are: the lines that say a program stopped.

Not evidence for any cause. They let the doctor say that a report shows a failure no rule explains
(``doctor.unexplained``), instead of refusing the report as "nothing recognised" or calling the
machine healthy. The line recorded is the last exception of the last traceback, which is what a
program died of; without a traceback, the first line that says something crashed or was killed.
Without either, an exception the reporter quotes in a sentence ('I get "RuntimeError: CUDA error: out of
memory" when ...'): Python prints an uncaught exception as its class name, ": " and the message
(traceback.format_exception_only), and people quote that line; a fullwidth colon typed with a CJK input
method arrives as " :" after normalisation ("RuntimeError ：Expected all tensors ...").
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
# CUDACachingAllocator.cpp), which people also quote in their own sentences; on a Mac, its MPS allocator's
# TORCH_CHECK ("MPS backend out of memory (MPS allocated: ..., max allowed: ...)", aten/src/ATen/mps/
# MPSAllocator.mm), likewise quoted without its "RuntimeError: ". nccl-tests' and rccl-tests' own check of an
# NCCL or CUDA call ("host: Test NCCL failure common.cu:777 'unhandled system error'", src/common.h).
_CRASH = re.compile(
    r"Segmentation fault|core dumped|^[ \t]*Killed[ \t]*$|^[ \t]*Aborted\b|^[ \t]*ERROR: .{8,}|NVRM: Xid \("
    r"|\bTest (?:NCCL|CUDA) failure \S+:\d+"
    r"|Failed to initialize NVML: \S|terminate called after throwing an instance of|^[ \t]*what\(\):[ \t]+\S"
    r"|Watchdog caught collective operation timeout|\bCUDA out of memory\b|\bMPS backend out of memory\b",
    re.IGNORECASE | re.MULTILINE,
)
# An exception quoted within a sentence: a quote mark or backtick, then a class name that Python's naming
# convention gives exceptions (CamelCase, ending in Error or Exception), a colon (one blank allowed before it),
# and its message. Only quoted: a sentence that names an exception in passing ("a RuntimeError: see below")
# quotes no program's output. The message runs to the matching closing mark (followed by no letter: the
# apostrophe of "Couldn't" closes nothing) or the end of the line. A quote that a condition governs ('if you
# get "RuntimeError: ..."', a program's own hint) shows no failure that happened (_CONDITION).
_QUOTED_EXCEPTION = re.compile(
    r"(?P<open>[\"'`“‘「『])(?P<line>(?:[a-z_]\w*\.)*[A-Z][A-Za-z0-9]*(?:Error|Exception)[ \t]?:[ \t]*[^\s\"'`”’」』][^\n]*)"
)
_CLOSING = {'"': '"', "'": "'", "`": "`", "“": "”", "‘": "’", "「": "」", "『": "』"}
_CONDITION = re.compile(r"\b(?:if|unless|whether|in case|avoid|prevent)\b|如果|若", re.IGNORECASE)
_CONDITION_LOOK_BACK = 80
# Python's "Traceback (most recent call last):", and IPython's (Jupyter, Colab), which puts the exception's
# class name first on that line: IPython/core/ultratb.py's simplified header is etype followed by
# "Traceback (most recent call last)".rjust(width - len(etype)), so "KeyError      Traceback (most recent call
# last)"; its message comes last, after the frames, and is lost where the paste is cut before it
_TRACEBACK = re.compile(
    r"^[ \t]*(?:(?P<ipython>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)[ \t]+)?Traceback \(most recent call last\)", re.MULTILINE
)
_LIMIT = 300  # characters kept of a failure line


def failures(text: str | Haystack) -> list[str]:
    """The failure lines of ``text``, the most telling first (at most a few)."""
    haystack = text if isinstance(text, Haystack) else Haystack(text)
    text = haystack.text
    exceptions = haystack.may_match(_EXCEPTION)  # each pattern only where its words occur
    out: list[str] = []
    start = _last(haystack.finditer(_TRACEBACK))
    last = _last(_EXCEPTION.finditer(text, start.end())) if start is not None and exceptions else None
    if last:
        out.append(_line_at(text, last.start()))
    elif start is not None and start.group("ipython"):
        out.append(f"{start.group('ipython')} (IPython's traceback; the paste ends before its message)")
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
    if not out:
        out.extend(_quoted(haystack))
    return list(dict.fromkeys(out))


def _quoted(haystack: Haystack) -> list[str]:
    """The first exception quoted in the reporter's sentences, its message cut at the closing mark."""
    text = haystack.text
    for match in haystack.finditer(_QUOTED_EXCEPTION):
        low = max(0, match.start() - _CONDITION_LOOK_BACK)
        if _CONDITION.search(text, text.rfind("\n", low, match.start()) + 1 or low, match.start()):
            continue
        line = match.group("line")
        closing = re.compile(re.escape(_CLOSING[match.group("open")]) + r"(?!\w)")
        end = closing.search(line, 1)
        return [" ".join(line[: end.start() if end else len(line)].split())[:_LIMIT]]
    return []


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
