"""A pattern is ruled out only where it cannot match: the literals derived from it are in every match."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from torchrig._core.prefilter import Haystack, fold, required
from torchrig.doctor.report import collect_env, failures, logs, tried
from torchrig.knowledge import signatures

TESTS = Path(__file__).resolve().parents[1]


def _doctor_patterns() -> list[re.Pattern[str]]:
    """Every regex the report reader searches a whole text with (signatures, their requirements, readers)."""
    out: list[re.Pattern[str]] = []
    for sig in signatures.signatures():
        out.append(sig.pattern)
        if sig.requires is not None:
            out.append(sig.requires)
    for module in (collect_env, failures, logs, tried, sys.modules["torchrig.doctor.report"]):
        out.extend(value for value in vars(module).values() if isinstance(value, re.Pattern))
    out.extend(logs._VISIBLE_DEVICES)
    return out


def test_literals_come_from_runs_alternatives_and_small_classes() -> None:
    assert required(re.compile("no kernel image is available")) == ((("no kernel image is available", False),),)
    assert required(re.compile(r"Error (?:804|999)\b")) == ((("Error ", False),), (("804", False), ("999", False)))
    assert required(re.compile("^[ \t]*[│|]x")) == (((("│", False), ("|", False)), (("x", False),)))
    # a repeat that may be absent needs nothing; one that must be there needs what it holds
    assert required(re.compile("ab(?:cd)?")) == ((("ab", False),),)
    assert required(re.compile("ab(?:cd)+")) == ((("ab", False),), (("cd", False),))


def test_case_insensitive_literals_are_lowered_and_inline_flags_count() -> None:
    assert required(re.compile("Torch Not Compiled", re.IGNORECASE)) == ((("torch not compiled", True),),)
    assert required(re.compile("(?i:Driver) Version")) == (((" Version", False),), (("driver", True),))


def test_nothing_derivable_means_always_searched() -> None:
    for pattern in (r"\d+\s\d+", r"[A-Za-z_]\w*", "a|[0-9]", "(?P<x>.)(?P=x)"):
        assert required(re.compile(pattern)) == ()
        assert Haystack("").may_match(re.compile(pattern))


def test_an_alternative_without_a_literal_leaves_the_whole_branch_without_one() -> None:
    assert required(re.compile(r"foo|\d+")) == ()


def test_folding_finds_what_ignorecase_matches_for_every_character() -> None:
    # Whole Unicode: every character re.IGNORECASE matches to an ASCII character folds to its lower case.
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    for code in range(0x80):
        char = chr(code)
        matched = re.findall(re.escape(char), everything, re.IGNORECASE)
        assert matched, char
        assert {fold(m) for m in matched} == {char.lower()}, char
    assert len(fold(everything)) == len(everything)  # folding keeps offsets


def test_exotic_case_variants_are_not_ruled_out() -> None:
    pattern = re.compile("insufficient shared memory", re.IGNORECASE)
    for text in ("INSUFFICIENT SHARED MEMORY", "inſufficıent ſhared memory", "İNSUFFİCİENT shared memory"):
        assert pattern.search(text), text
        assert Haystack(text).may_match(pattern), text


@pytest.mark.parametrize("offset", [0, 4096 - 10, 4096 - 1, 4096, 3 * 4096 + 4090])
def test_a_literal_across_a_block_boundary_of_a_repetitive_text_is_found(offset: int) -> None:
    literal = "no kernel image is available"
    text = "\n" * offset + literal + "\n" * (64 * 4096)
    assert Haystack(text).may_match(re.compile(literal))
    assert not Haystack(text.replace(literal, "no kernel image is availabl")).may_match(re.compile(literal))


def test_a_literal_longer_than_the_overlap_is_looked_for_in_the_whole_text() -> None:
    literal = "x" * 300 + "y"
    text = "\n" * 4000 + literal + "\n" * (64 * 4096)
    assert Haystack(text).may_match(re.compile(literal))


def _texts() -> list[str]:
    corpus = sorted((TESTS / "corpus").glob("*.txt")) + sorted((TESTS / "fixtures" / "recorded").rglob("*.txt"))
    assert len(corpus) > 50
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in corpus]
    return texts + [text.upper() for text in texts] + [text.replace("\n", "\n> ") for text in texts]


def test_no_pattern_of_the_doctor_is_ruled_out_where_it_matches_a_real_report() -> None:
    patterns = _doctor_patterns()
    assert len(patterns) > 40
    checked = 0
    for text in _texts():
        haystack = Haystack(text)
        for pattern in patterns:
            if pattern.search(text):
                assert haystack.may_match(pattern), (pattern.pattern, text[:200])
                checked += 1
    assert checked > 1000  # the corpus exercises the patterns, not an empty loop
