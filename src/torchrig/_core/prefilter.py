"""Cheap necessary conditions for regular expressions: the literal text a match cannot do without.

A report may be 16 MiB, and the doctor looks for dozens of patterns in it. Most of them cannot occur:
``no kernel image is available`` needs the words "no kernel image", which ``str.__contains__`` rules
out a hundred times faster than the regular expression engine can. :func:`required` reads a compiled
pattern (with the standard library's own parser) and returns the literals every match must contain;
:class:`Haystack` answers "may this pattern match this text?" from them, and searches only when it may.

The answer is exact in one direction: when :meth:`Haystack.may_match` says no, the pattern has no
match. A pattern from which no literal can be derived is simply always searched. Case-insensitive
literals are compared on a folded copy of the text that maps every character the ``re`` module would
match to an ASCII letter onto that letter (``str.lower`` plus the three characters it folds
differently: U+0130, U+0131 and U+017F); only ASCII literals are used for them.

    >>> hay = Haystack("RuntimeError: CUDA error: no kernel image is available")
    >>> hay.may_match(re.compile("NO KERNEL IMAGE", re.IGNORECASE)), hay.may_match(re.compile("sm_\\\\d+"))
    (True, False)
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["Haystack", "alternatives", "fold", "required"]

# The standard library's regex parser: ``re._parser`` since Python 3.11, ``sre_parse`` before. If a
# future Python moves it, :func:`required` derives nothing and every pattern is searched in full.
try:
    _parser: Any = importlib.import_module("re._parser")
    _ops: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - Python 3.10
    _parser = importlib.import_module("sre_parse")
    _ops = importlib.import_module("sre_constants")

_MAX_CLASS = 8  # a character class of at most this many plain characters counts as alternatives
_MAX_NEEDS = 4  # literals tested per pattern: the longest (the rarest, as a rule) first

# (literal, ignore_case): one text that must occur. A requirement is satisfied by any one of its
# alternatives; a pattern's requirements must all be satisfied.
Literal = tuple[str, bool]
Requirement = tuple[Literal, ...]

# Characters ``re.IGNORECASE`` matches to an ASCII letter that ``str.lower`` does not map onto it
# (``İ``.lower() is two characters). tests/_core/test_prefilter.py checks the whole of Unicode.
_FOLD_EXTRA = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"))


def fold(text: str) -> str:
    """``text`` lowered so that an ASCII literal occurs in it iff it occurs case-insensitively (``re``)."""
    if not text.isascii():
        for char, ascii_letter in _FOLD_EXTRA:
            if char in text:
                text = text.replace(char, ascii_letter)
    return text.lower()


@functools.lru_cache(maxsize=512)
def required(pattern: re.Pattern[str]) -> tuple[Requirement, ...]:
    """The literals every match of ``pattern`` contains: all requirements, each met by one alternative.

    Case-insensitive literals are returned lowered. Empty when nothing can be derived (a pattern of
    character classes only, a bytes pattern, a parser this Python does not have)::

        >>> required(re.compile(r"Error (?:804|999): \\w+"))
        ((('error ', False),), (('804', False), ('999', False)), ((': ', False),))
    """
    if not isinstance(pattern.pattern, str):
        return ()
    try:
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        needs = _sequence(list(parsed), bool(parsed.state.flags & re.IGNORECASE))
    except Exception:  # any surprise from a private parser means "no prefilter"
        return ()
    needs = sorted(dict.fromkeys(needs), key=lambda need: -min(len(text) for text, _ in need))
    return tuple(needs[:_MAX_NEEDS])


# What makes a pattern's alternatives depend on each other: a back reference or a conditional group (group numbers
# shift when the alternatives are compiled apart), and verbose mode, whose comments may hold a "|".
_LINKED = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")


@functools.lru_cache(maxsize=512)
def alternatives(pattern: re.Pattern[str]) -> tuple[re.Pattern[str], ...]:
    """The top-level alternatives of ``pattern`` (``a|b(?:c|d)|e``: ``a``, ``b(?:c|d)``, ``e``), each compiled with its
    flags; ``(pattern,)`` where it has one, or where they cannot stand alone.

    At any position the pattern matches what its first alternative that matches there matches, so its leftmost match is
    the leftmost of theirs, the earlier alternative winning a tie; searched apart, each is searched only where its own
    literals occur (:func:`required`), which the pattern's as a whole, one per alternative, cannot say::

        >>> [p.pattern for p in alternatives(re.compile("Error 802|CUDA.{0,40}?(?:error|fail)ed 802"))]
        ['Error 802', 'CUDA.{0,40}?(?:error|fail)ed 802']
    """
    source = pattern.pattern
    if not isinstance(source, str) or pattern.flags & re.VERBOSE or _LINKED.search(source):
        return (pattern,)
    parts: list[str] = []
    depth, start, i, in_class = 0, 0, 0, False
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 1  # the escaped character is never syntax
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            i += 1 if source[i + 1 : i + 2] == "^" else 0
            i += 1 if source[i + 1 : i + 2] == "]" else 0  # "[]...]" and "[^]...]": the first "]" is a member
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
        i += 1
    if not parts:
        return (pattern,)
    parts.append(source[start:])
    try:
        return tuple(re.compile(part, pattern.flags) for part in parts)
    except re.error:  # pragma: no cover - a pattern this scanner misread: searched whole
        return (pattern,)


def _sequence(items: list[tuple[Any, Any]], ignore_case: bool) -> list[Requirement]:
    """The requirements of a sequence of parsed items, one per run of literal characters."""
    needs: list[Requirement] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            needs.append((("".join(run), ignore_case),))
            run.clear()

    for op, arg in items:
        if op is _ops.LITERAL:
            char = chr(arg)
            if ignore_case and not char.isascii():
                flush()  # fold() is exact for ASCII literals only
            else:
                run.append(char.lower() if ignore_case else char)
            continue
        flush()
        if op is _ops.SUBPATTERN:
            _group, add, remove, body = arg
            case = (ignore_case or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            needs.extend(_sequence(list(body), case))
        elif op is _ops.BRANCH:
            needs.extend(_branch(arg[1], ignore_case))
        elif op in (_ops.MAX_REPEAT, _ops.MIN_REPEAT, getattr(_ops, "POSSESSIVE_REPEAT", None)):
            low, _high, body = arg
            if low >= 1:
                needs.extend(_sequence(list(body), ignore_case))
        elif op is getattr(_ops, "ATOMIC_GROUP", None):
            needs.extend(_sequence(list(arg), ignore_case))
        elif op is _ops.IN:
            alternatives = _class(arg, ignore_case)
            if alternatives:
                needs.append(alternatives)
        # anything else (any character, categories, anchors, lookarounds, back references) needs nothing
    flush()
    return needs


def _branch(alternatives: list[Any], ignore_case: bool) -> list[Requirement]:
    """One alternative must match: each contributes its most selective literal, or the branch nothing. A
    requirement that every alternative has is the branch's too (``\\bcpu build|cpu版本`` needs "cpu"): it may
    be the rarer one in a text, which is what :mod:`torchrig.knowledge.signatures` searches around."""
    out: list[Literal] = []
    shared: list[Requirement] | None = None
    for alternative in alternatives:
        needs = _sequence(list(alternative), ignore_case)
        if not needs:
            return []
        out.extend(max(needs, key=lambda need: min(len(text) for text, _ in need)))
        shared = list(dict.fromkeys(needs)) if shared is None else [need for need in shared if need in needs]
    return [tuple(dict.fromkeys(out)), *(shared or ())]


def _class(members: list[tuple[Any, Any]], ignore_case: bool) -> Requirement:
    """A small class of plain characters (``[│┃|]``): each is an alternative; anything else, nothing."""
    if len(members) > _MAX_CLASS or any(op is not _ops.LITERAL for op, _ in members):
        return ()
    chars = [chr(code) for _, code in members]
    if ignore_case:
        if not all(char.isascii() for char in chars):
            return ()
        chars = [char.lower() for char in chars]
    return tuple(dict.fromkeys((char, ignore_case) for char in chars))


# Literals are looked for in the text's distinct blocks: a 16 MiB text of one line repeated holds a few
# distinct blocks, and dozens of substring tests on those are free. Each block overlaps the next by
# _OVERLAP characters, so a literal of up to _OVERLAP + 1 characters that occurs in the text lies whole
# in some block; the blocks are joined with a character no such literal may contain.
_BLOCK = 4096
_OVERLAP = 255
_JOIN = "\x00"

# A long text that does not repeat itself (a training log, a flood of GPU lines or of NCCL's hex addresses, all
# numbers different) is ruled out a literal at a time by its word index, built once from the folded text: its
# distinct words, where a word is a run of ASCII letters and "_"; every other character (digits, which are what
# changes from line to line, punctuation, whitespace, anything not ASCII) separates words. The invariant: where a
# literal occurs in the text (folded, for a case-insensitive one), each of the literal's own words lies inside one
# word of the index, and in one chunk of _INDEX_CHUNK + _OVERLAP characters when it is at most _OVERLAP + 1 long
# (the reason blocks overlap). So the index answers "absent" from a few kilobytes instead of a scan of 16 MiB per
# literal (~300 of them); "present" is checked on the text itself.
_INDEXED = 1 << 18  # a shorter text is scanned in less time than indexing it takes
_INDEX_CHUNK = 1 << 20  # characters made words at a time: memory stays bounded
_INDEX_SHARE = 8  # an index above 1/_INDEX_SHARE of the text (unique tokens: hashes) is not worth it
_INDEX_WORDS = 1 << 18  # nor one of more distinct words than this


def _word_byte(code: int) -> int:
    char = chr(code)
    return ord(char.lower()) if char.isascii() and (char.isalpha() or char == "_") else ord(" ")


_WORD_BYTES = bytes(_word_byte(code) for code in range(256))


def _words(text: str) -> list[bytes]:
    """The words of ``text`` as the word index writes them (non-ASCII characters encode as "?", a separator)."""
    return text.encode("ascii", "replace").translate(_WORD_BYTES).split()


class Haystack:
    """A text searched by many patterns: each is run only where its literals occur.

    The folded copy for case-insensitive literals is made once, on first need, as is the word index of a
    long text.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._folded: str | None = None
        self._blocks: str | None = None
        self._folded_blocks: str | None = None
        self._index: bytes | None = None  # b"" once given up (or not worth it)
        self._seen: dict[Literal, bool] = {}  # patterns share literals ("GPU ", "."): each is looked for once

    @property
    def folded(self) -> str:
        """:func:`fold` of the text (same length, same offsets)."""
        if self._folded is None:
            self._folded = fold(self.text)
        return self._folded

    def contains(self, literal: str, ignore_case: bool) -> bool:
        """Whether ``literal`` occurs in the text (lowered: in the folded text)."""
        key = (literal, ignore_case)
        if key not in self._seen:
            if not self._may_hold(literal):
                self._seen[key] = False
            elif len(literal) > _OVERLAP + 1 or _JOIN in literal:
                self._seen[key] = literal in (self.folded if ignore_case else self.text)
            else:
                self._seen[key] = literal in self._distinct_blocks(ignore_case)
        return self._seen[key]

    def _may_hold(self, literal: str) -> bool:
        """False only if the word index rules ``literal`` out (the invariant above :data:`_INDEXED`)."""
        index = self._word_index()
        return not index or all(word in index for word in _words(fold(literal)) if len(word) <= _OVERLAP + 1)

    def _word_index(self) -> bytes:
        """The distinct words of the folded text, joined by spaces; b"" where the text is short, repeats itself in
        blocks (which serve better) or holds too many distinct words."""
        if self._index is None:
            self._index = b""
            if len(self.text) >= _INDEXED and self._distinct_blocks(False) is self.text:
                folded = self.folded
                words: set[bytes] = set()
                size = 0
                for start in range(0, len(folded), _INDEX_CHUNK):
                    new = set(_words(folded[start : start + _INDEX_CHUNK + _OVERLAP])) - words
                    size += sum(map(len, new)) + len(new)
                    words |= new
                    if size * _INDEX_SHARE > len(folded) or len(words) > _INDEX_WORDS:
                        return self._index
                self._index = b" ".join(words)
        return self._index

    def _distinct_blocks(self, folded: bool) -> str:
        """The text's distinct overlapping blocks, joined (folded: the same, folded)."""
        if self._blocks is None:
            text = self.text
            self._blocks = text
            if len(text) > 4 * _BLOCK:
                blocks = dict.fromkeys(text[i : i + _BLOCK + _OVERLAP] for i in range(0, len(text), _BLOCK))
                if len(blocks) * 2 * _BLOCK < len(text):  # worth it only where the text repeats itself
                    self._blocks = _JOIN.join(blocks)
        if not folded:
            return self._blocks
        if self._folded_blocks is None:
            self._folded_blocks = self.folded if self._blocks is self.text else fold(self._blocks)
        return self._folded_blocks

    def may_match(self, pattern: re.Pattern[str], *, whitespace_free: bool = False) -> bool:
        """False only if ``pattern`` cannot match anywhere in the text.

        With ``whitespace_free``, for a pattern searched in the text with its whitespace changed (runs
        made one space, line breaks made spaces): only the parts of each literal between whitespace count.
        """
        return all(any(self._holds(text, case, whitespace_free) for text, case in need) for need in required(pattern))

    def _holds(self, literal: str, ignore_case: bool, whitespace_free: bool) -> bool:
        if whitespace_free:  # the longest word first: the likeliest to be absent, and the quickest to rule out
            return all(self.contains(word, ignore_case) for word in sorted(literal.split(), key=len, reverse=True))
        return self.contains(literal, ignore_case)

    def search(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """``pattern.search(text)``, skipped where the text lacks a literal the pattern needs."""
        return pattern.search(self.text) if self.may_match(pattern) else None

    def finditer(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """``pattern.finditer(text)``, empty where the text lacks a literal the pattern needs."""
        return pattern.finditer(self.text) if self.may_match(pattern) else iter(())
