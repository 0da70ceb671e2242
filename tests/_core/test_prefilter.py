"""A pattern is ruled out only where it cannot match: the literals derived from it are in every match."""

from __future__ import annotations

import base64
import random
import re
import sys
from pathlib import Path

import pytest

from torchrig._core import prefilter
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


def test_a_requirement_every_alternative_has_is_the_branch_s_own() -> None:
    # "cpu" is in both alternatives: a text without it is ruled out even though it holds "version" and "torch"
    pattern = re.compile(r"\bcpu[ -]?(?:version|build) of torch|cpu\s*版本的torch", re.IGNORECASE)
    assert (("cpu", True),) in required(pattern)
    assert not Haystack("the CUDA version of torch").may_match(pattern)
    assert required(re.compile("ab|cd")) == ((("ab", False), ("cd", False)),)


def _log(lines: int, seed: int = 0) -> str:
    """Training-log lines whose numbers never repeat: a text the block shortcut cannot shorten."""
    rng = random.Random(seed)
    return "".join(
        f"[{rng.randint(10, 23)}:{rng.randint(10, 59)}] epoch {i // 1000} step {i} loss {rng.random():.4f} | ok\n"
        for i in range(lines)
    )


LONG_LOG = _log(30_000)  # indexed (prefilter._INDEXED), in more than one chunk (_INDEX_CHUNK)


def test_a_long_text_that_does_not_repeat_is_ruled_out_by_its_word_index() -> None:
    assert len(LONG_LOG) > prefilter._INDEX_CHUNK + 200
    haystack = Haystack(LONG_LOG)
    assert haystack._word_index()  # built: a few distinct words (numbers separate them)
    assert len(haystack._word_index()) < 100
    assert not haystack.may_match(re.compile("no kernel image is available"))
    assert not haystack.may_match(re.compile(r"CUDA error: (?:out of memory|device-side assert)", re.IGNORECASE))
    assert haystack.may_match(re.compile(r"epoch \d+ step"))


@pytest.mark.parametrize("offset", [0, 1 << 20, (1 << 20) - 5, (1 << 20) + 200, len(LONG_LOG) - 1])
@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        # torch's and the driver's own wording (c10/cuda/CUDAException.cpp; cuda_runtime_api.h's error 804)
        ("RuntimeError: CUDA error: no kernel image is available for execution on the device", "no kernel image is"),
        (
            "cudaErrorCompatNotSupportedOnDevice: forward compatibility was attempted on non supported HW",
            "Error 804|forward compatibility was attempted",
        ),
        ("CUDA error 804: forward compatibility was attempted on non supported HW", r"error 804\b"),
        ("İNSUFFİCİENT ſHARED MEMORY", "(?i)insufficient shared memory"),
        ("libcudnn_cnn_infer.so.8: cannot open shared object file", r"libcudnn\w*\.so\.\d+: cannot open"),
    ],
)
def test_the_word_index_never_rules_out_a_literal_that_is_there(offset: int, line: str, pattern: str) -> None:
    text = LONG_LOG[:offset] + line + "\n" + LONG_LOG[offset:]
    compiled = re.compile(pattern)
    assert compiled.search(text)
    haystack = Haystack(text)
    assert haystack._word_index()
    assert haystack.may_match(compiled, whitespace_free=True)
    assert Haystack(text).may_match(compiled)


def test_a_text_of_unique_tokens_gives_up_its_index_and_is_scanned() -> None:
    rng = random.Random(1)
    blob = base64.encodebytes(rng.randbytes(400_000)).decode()  # letters at random: every word a new one
    text = blob + "Segmentation fault (core dumped)\n"
    haystack = Haystack(text)
    assert haystack._word_index() == b""  # more distinct words than the text's share allows
    assert haystack.may_match(re.compile("segmentation fault", re.IGNORECASE))
    assert not haystack.may_match(re.compile("illegal memory access"))


def test_no_pattern_of_the_doctor_is_ruled_out_by_the_word_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefilter, "_INDEXED", 0)  # every text indexed, however short
    patterns = _doctor_patterns()
    checked = 0
    for text in _texts():
        haystack = Haystack(text)
        for pattern in patterns:
            if pattern.search(text):
                assert haystack.may_match(pattern), (pattern.pattern, text[:200])
                assert haystack.may_match(pattern, whitespace_free=True), (pattern.pattern, text[:200])
                checked += 1
    assert checked > 1000


def test_top_level_alternatives_are_split_outside_groups_classes_and_escapes() -> None:
    def parts(source: str, flags: int = 0) -> list[str]:
        return [p.pattern for p in prefilter.alternatives(re.compile(source, flags))]

    assert parts(r"Error 802|\bCUDA\b(?:error|fail)s? 802|[|│] x\|y") == [
        "Error 802",
        r"\bCUDA\b(?:error|fail)s? 802",
        r"[|│] x\|y",
    ]
    assert parts(r"[]|]a|b") == ["[]|]a", "b"]
    assert parts(r"[^]|]a|b") == ["[^]|]a", "b"]
    assert [p.flags & re.IGNORECASE for p in prefilter.alternatives(re.compile("a|b", re.IGNORECASE))] == [2, 2]
    # one alternative, or alternatives that depend on each other, stay whole
    for source, flags in (("(a|b)c", 0), (r"(a)x|\1y", 0), ("(?P<q>a)|(?P=q)", 0), ("a # x|y\n|b", re.VERBOSE)):
        pattern = re.compile(source, flags)
        assert prefilter.alternatives(pattern) == (pattern,)


def test_the_doctor_s_patterns_are_their_alternatives_joined() -> None:
    for pattern in _doctor_patterns():
        split = prefilter.alternatives(pattern)
        assert "|".join(p.pattern for p in split) == pattern.pattern
        assert {p.flags for p in split} == {pattern.flags}
