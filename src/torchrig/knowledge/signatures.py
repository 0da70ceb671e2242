"""Known error signatures (``signatures.toml``) and the search over a text.

A signature is a line people paste when a GPU/PyTorch setup is broken ("found version 11040",
"no kernel image is available", "Error 804", ...). Each row names the doctor finding ``code`` it is
evidence for; that column is the contract with :mod:`torchrig.doctor.checks`, which turns the hits recorded
in ``Facts.signatures`` into findings::

    >>> [m.signature.code for m in find("RuntimeError: No CUDA GPUs are available")]
    ['cuda.visible-devices']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from torchrig._core.prefilter import Haystack, alternatives, required
from torchrig.knowledge import load

_EXCERPT_LIMIT = 300  # a hit keeps the line that matched; tracebacks can put kilobytes on one line


@dataclass(frozen=True)
class Signature:
    id: str  # "driver.found-version"
    pattern: re.Pattern[str]
    code: str  # the finding it is evidence for: "driver.too-old"
    title: str
    source: str  # a public report that shows it
    example: str  # a line from that report; the table test checks that ``pattern`` matches it
    requires: re.Pattern[str] | None = None  # must also occur somewhere in the text
    # For a message consistent with several causes (code ``doctor.unexplained``): the commands that tell them apart
    diagnose: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignatureMatch:
    signature: Signature
    line: int  # 1-based line number in the text
    excerpt: str  # the lines the match spans, stripped, joined and capped


@functools.cache
def signatures() -> tuple[Signature, ...]:
    """Every known signature, in table order."""
    rows = load("signatures")["signature"]
    return tuple(
        Signature(
            id=row["id"],
            pattern=re.compile(row["pattern"], re.IGNORECASE),
            code=row["code"],
            title=row["title"],
            source=row["source"],
            example=row["example"],
            requires=re.compile(row["requires"], re.IGNORECASE) if row.get("requires") else None,
            diagnose=tuple(row.get("diagnose", ())),
        )
        for row in rows
    )


def by_id(signature_id: str) -> Signature | None:
    """The signature named ``signature_id``, or None for an id this version does not know."""
    return next((s for s in signatures() if s.id == signature_id), None)


def find(text: str, haystack: Haystack | None = None) -> list[SignatureMatch]:
    """Every signature that occurs in ``text``: one match per signature (its first), in text order.

    Newlines count as spaces, so a message that a terminal or a paste wrapped still matches
    ("... killed by signal: Bus\\nerror."); the hit records the line where the match starts, and the lines it spans.
    ``haystack``, a :class:`Haystack` of the same text, shares the work of another search of it.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    flat = text.replace("\n", " ")  # same length: offsets in ``flat`` are offsets in ``text``
    # Most signatures cannot occur in a given text: each needs literal words ("no kernel image ...")
    # that a substring test rules out far faster than the regex engine (a report may be 16 MiB). The
    # words between the spaces of those literals are the same in ``text`` and ``flat``.
    if haystack is None or haystack.text != text:
        haystack = Haystack(text)
    found: list[SignatureMatch] = []
    for sig in signatures():
        if not haystack.may_match(sig.pattern, whitespace_free=True):
            continue
        if sig.requires is not None and not (
            haystack.may_match(sig.requires, whitespace_free=True) and sig.requires.search(flat)
        ):
            continue
        match = _search(sig.pattern, flat, haystack)
        if match is None:
            continue
        line = text.count("\n", 0, match.start()) + 1
        found.append(SignatureMatch(sig, line, _excerpt(text, match.start(), match.end())))
    return sorted(found, key=lambda m: m.line)


# A signature's match lies within this much text before and after any literal it needs (a message, a few wrapped
# lines, a lookahead of at most 2000 characters): searched only there, the regex engine skips the rest of a 16 MiB
# report, which a pattern that starts with "\b" or an alternation makes it walk character by character.
_BEFORE = 2048
_AFTER = 4096
_MAX_SPOTS = 64  # occurrences of a literal beyond which the windows would cover the text anyway


def _search(pattern: re.Pattern[str], flat: str, haystack: Haystack) -> re.Match[str] | None:
    """Where ``pattern.search(flat)`` matches (the span, from its alternative that matched there): each of its top-level
    alternatives is searched apart, only where its own literals occur ("CUDA ... error 802" needs "error" as well as
    "CUDA", which a long log may print on every line), the leftmost match winning, the earlier alternative on a tie."""
    first: re.Match[str] | None = None
    for alternative in alternatives(pattern):
        if alternative is not pattern and not haystack.may_match(alternative, whitespace_free=True):
            continue
        match = _search_around(alternative, flat, haystack)
        if match is not None and (first is None or match.start() < first.start()):
            first = match
    return first


def _search_around(pattern: re.Pattern[str], flat: str, haystack: Haystack) -> re.Match[str] | None:
    """``pattern.search(flat)``, run only in the windows around the occurrences of its rarest required literal."""
    spots = _spots(pattern, haystack)
    if spots is None:
        return pattern.search(flat)
    windows: list[list[int]] = []
    for spot, length in sorted(spots):
        start, end = max(0, spot - _BEFORE), spot + length + _AFTER
        if windows and start <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], end)
        else:
            windows.append([start, end])
    for start, end in windows:
        match = pattern.search(flat, start, min(end, len(flat)))
        if match is not None:
            return match
    return None


def _spots(pattern: re.Pattern[str], haystack: Haystack) -> list[tuple[int, int]] | None:
    """Where the fewest-occurring requirement of ``pattern`` occurs (offset, length of the word found), or None
    when every requirement occurs too often to be worth it (or none can be derived)."""
    best: list[tuple[int, int]] | None = None
    for need in required(pattern):
        spots: list[tuple[int, int]] | None = []
        for literal, ignore_case in need:
            words = literal.split()  # the text is searched with its line breaks made spaces: a word at a time
            if not words or spots is None:
                spots = None
                break
            word = max(words, key=len)
            if not haystack.contains(word, ignore_case):  # known absent, at no cost: no scan for its occurrences
                continue
            text = haystack.folded if ignore_case else haystack.text
            at = text.find(word)
            while at >= 0 and len(spots) <= _MAX_SPOTS:
                spots.append((at, len(word)))
                at = text.find(word, at + 1)
            if len(spots) > _MAX_SPOTS:
                spots = None
        if spots is not None and (best is None or len(spots) < len(best)):
            best = spots
    return best


def _excerpt(text: str, start: int, end: int) -> str:
    """The lines the match spans (a message wrapped over several), or the part of a very long line around it."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", max(start, end - 1))
    line_end = len(text) if line_end == -1 else line_end
    if line_end - line_start > _EXCERPT_LIMIT:
        line_start = max(line_start, start - 40)
        line_end = min(line_end, max(end, line_start + _EXCERPT_LIMIT))
    return " ".join(text[line_start:line_end].split())
