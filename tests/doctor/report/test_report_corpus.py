"""Every report in tests/corpus parses into the facts its manifest states, and (with the checks) gets
its known root cause as the first finding."""

from __future__ import annotations

import sys

import pytest
from report_corpus import CORPUS, Case, cases, fact_mismatch

from torchrig.doctor.facts import Facts
from torchrig.doctor.report import parse_report

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CASES = cases()
IDS = [case.file.removesuffix(".txt") for case in CASES]
# Known misses of the development split (tests/corpus/dev-misses.toml): expected failures, strictly, so
# that a fix makes its entry go away; an expectation is never edited to match the doctor instead.
MISSES = tomllib.loads((CORPUS / "dev-misses.toml").read_text(encoding="utf-8"))
FORMATS = {
    "collect_env",
    "log",
    "mixed",
    "docker",
    "pip",
    "nvidia-smi",
    "nvidia-smi-q",
    "nvidia-smi-L",
    "nvcc",
    "dmesg",
    "dpkg",
    "conda-list",
    "transformers-env",
    "accelerate-env",
    "ds_report",
    "vllm-collect-env",
}


def _known_miss(case: Case, kind: str, request: pytest.FixtureRequest, *, refused_only: bool = False) -> None:
    reason = MISSES.get(kind, {}).get(case.file)
    if reason and (reason.startswith("refused") or not refused_only):
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


def _check_expected(case: Case, facts: Facts) -> None:
    for path, want in case.expect.items():
        wrong = fact_mismatch(facts, path, want)
        assert wrong is None, wrong


def test_the_corpus_is_large_and_covers_most_codes() -> None:
    assert len(CASES) >= 20
    codes = {case.root_cause for case in CASES} - {"none"}
    assert len(codes) >= 12, sorted(codes)
    assert {case.format for case in CASES} <= FORMATS
    for case in CASES:
        assert case.source.startswith("https://github.com/"), case.file
        assert case.path.is_file(), case.file
        if case.batch:  # collected blind: where the cause was established, and what kind of case it is
            assert case.repo and case.date and case.why and case.cause_quote, case.file
            assert case.control or case.root_cause != "none", case.file
    assert set(MISSES.get("root_cause", {})) | set(MISSES.get("facts", {})) <= {case.file for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_report_parses_into_the_stated_facts(case: Case, request: pytest.FixtureRequest) -> None:
    _known_miss(case, "facts", request)
    facts = parse_report(case.text)
    assert facts.origin == "report"
    assert facts.report_format == case.format
    _check_expected(case, facts)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_fact_read_from_a_report_says_so(case: Case, request: pytest.FixtureRequest) -> None:
    _known_miss(case, "facts", request, refused_only=True)
    facts = parse_report(case.text)
    # "report": what a program printed; "stated": what the reporter wrote about the machine (report/stated.py)
    for section in (facts.driver, facts.gpus, facts.torch, facts.toolkit, facts.system):
        assert set(section.sources.values()) <= {"report", "stated"}
    assert all(gpu.source in ("report", "stated") for gpu in facts.gpus.devices)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_root_cause_comes_first(case: Case, request: pytest.FixtureRequest) -> None:
    from torchrig.doctor import checks

    if case.check_bug:
        request.applymarker(pytest.mark.xfail(reason=case.check_bug, strict=True))
    _known_miss(case, "root_cause", request)
    findings = checks.run_checks(parse_report(case.text))
    errors = [f for f in findings if f.severity.value == "error"]
    if case.root_cause == "none":
        assert errors == [], [f.code for f in errors]
    else:
        assert findings, "no findings"
        assert findings[0].code == case.root_cause, [f.code for f in findings]
        assert set(case.also) <= {f.code for f in findings[1:]}, [f.code for f in findings]


def test_a_gpu_named_without_its_capability_is_still_checked_against_the_build() -> None:
    """The RTX 5090 D report with torch's warning removed: the capability comes from the model name."""
    from torchrig.doctor import checks

    case = next(c for c in CASES if c.file.startswith("pytorch-150733"))
    quiet = "\n".join(line for line in case.text.splitlines() if "sm_" not in line and "warn" not in line.lower())
    facts = parse_report(quiet)
    assert facts.signatures == [] and facts.torch.arch_list == []
    assert [(g.name, g.compute_capability) for g in facts.gpus.devices] == [("NVIDIA GeForce RTX 5090 D", "12.0")]
    assert checks.run_checks(facts)[0].code == "gpu.arch-unsupported"


def test_every_report_cut_off_anywhere_is_read_or_refused_in_one_sentence_and_no_check_breaks() -> None:
    """Pastes are cut anywhere (an issue's length limit, a copy of the first screen): each development report, cut
    at a dozen points, parses or is refused with a UserError, and no check fails on what was read."""
    import random

    from torchrig._core.errors import UserError
    from torchrig.doctor import checks

    rng = random.Random(20261206)
    broken = []
    for case in CASES:
        text = case.text
        for cut in sorted({rng.randrange(1, len(text) + 1) for _ in range(12)}):
            try:
                facts = parse_report(text[:cut])
            except UserError:
                continue
            failed = [f.title for f in checks.run_checks(facts) if f.code == checks.CHECK_FAILED]
            broken += [f"{case.file}[:{cut}]: {title}" for title in failed]
    assert broken == []
