"""How often `torchrig doctor --report` names the root cause first, on real reports it was not tuned on.

The corpus (tests/corpus/README.md) holds real public reports whose root cause was written down from
their thread before the doctor ever ran on them. This runs the frozen held-out split (or, with
--split dev, the development split the test suite runs) through `parse_report -> run_checks`, the
code path of `torchrig doctor --report FILE`, and prints:

- root cause first: the first finding is the thread's root cause (for a healthy control: no error);
- false errors on healthy controls: controls that got an error finding;
- unsupported statements: verdict sentences that claim what the report does not show ("not installed",
  "CPU build", "no GPU", "No problems found") where the thread's cause says otherwise;
- misses by outcome, aggregate only: refused, no findings, doctor.unexplained, another code;
- facts read: the reports whose format and every stated fact (`[case.expect]`) the reader gets right, and
  the stated facts read right out of all (how well the reading, apart from the rules, carries to new reports);
- the baseline it beats: the same reports scored as if the doctor said "no problems" every time
  (what a tool that recognises nothing would score), so the ratio says what the rules add.

    python bench/doctor_accuracy.py            # the held-out split: the score to report
    python bench/doctor_accuracy.py --split dev --show   # the development split, one line per miss
    python bench/doctor_accuracy.py --split dev --batch 2026-12-05 --show   # one collection only (unseen)

The held-out reports are not printed (not even with --show): nobody tunes on them.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "doctor" / "report"))

from report_corpus import Case, cases, fact_mismatch  # noqa: E402

from torchrig._core.errors import UserError  # noqa: E402
from torchrig.doctor.checks import run_checks  # noqa: E402
from torchrig.doctor.findings import Finding, Severity  # noqa: E402
from torchrig.doctor.render.summary import verdict  # noqa: E402
from torchrig.doctor.report import parse_report  # noqa: E402

# verdict words that state a fact; each is unsupported when the thread established its opposite
_CLAIMS = {
    "not installed": ("torch.missing",),
    "CPU build": ("torch.cpu-only-build",),
    "no NVIDIA GPU": ("container.no-gpu", "driver.missing", "none"),
}


def judge(case: Case) -> tuple[bool, bool, list[str], str]:
    """(root cause first, false error on a control, unsupported claims, what the doctor said first)."""
    try:
        facts = parse_report(case.text)
    except UserError as exc:
        return False, False, [], f"refused: {exc}"
    findings: list[Finding] = run_checks(facts)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    said = verdict(facts, findings)
    right = not errors if case.root_cause == "none" else bool(findings) and findings[0].code == case.root_cause
    false_error = case.root_cause == "none" and bool(errors)
    unsupported = [
        claim for claim, allowed in _CLAIMS.items() if claim.lower() in said.lower() and case.root_cause not in allowed
    ]
    if "No problems found" in said and case.root_cause != "none":
        unsupported.append("No problems found")
    first = findings[0].code if findings else "no findings"
    return right, false_error, unsupported, first


def facts_read(case: Case) -> tuple[bool, int, int]:
    """(format and every stated fact right, stated facts read right, stated facts) for one report."""
    try:
        facts = parse_report(case.text)
    except UserError:
        return False, 0, len(case.expect)
    right = sum(fact_mismatch(facts, path, want) is None for path, want in case.expect.items())
    return facts.report_format == case.format and right == len(case.expect), right, len(case.expect)


def _miss_kinds(rows: list[tuple[Case, bool, bool, list[str], str]]) -> str:
    """Aggregate only (no report is named): which class of outcome the misses fall in, to direct general work."""
    kinds: Counter[str] = Counter()
    for _case, ok, _false_error, _claims, first in rows:
        if ok:
            continue
        if first.startswith("refused"):
            kinds["refused (nothing recognised)"] += 1
        elif first in ("no findings", "doctor.unexplained"):
            kinds[first] += 1
        else:
            kinds["another code"] += 1
    return ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()) or "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("heldout", "dev"), default="heldout")
    parser.add_argument("--show", action="store_true", help="list each miss (development split only)")
    parser.add_argument("--batch", default="", help="score only the cases of one collection (their `batch` field)")
    args = parser.parse_args()

    selected = [case for case in cases(args.split) if not args.batch or case.batch == args.batch]
    if not selected:
        print(f"no {args.split} case has batch = {args.batch!r}", file=sys.stderr)
        return 1
    rows = [(case, *judge(case)) for case in selected]
    n = len(rows)
    right = sum(r[1] for r in rows)
    controls = [r for r in rows if r[0].root_cause == "none"]
    false_errors = sum(r[2] for r in rows)
    unsupported = sum(len(r[3]) for r in rows)
    baseline = len(controls)  # "no problems" every time: right on the controls only

    scope = f"the {args.split} split" + (f", batch {args.batch}" if args.batch else "")
    print(f"doctor --report on {scope}: {n} real reports, {len(controls)} healthy controls")
    print(f"  root cause first:                {right}/{n} ({right / n:.0%})")
    print(f"  false errors on healthy controls: {false_errors}/{len(controls)}")
    print(f"  unsupported verdict statements:   {unsupported}")
    print(f"  baseline (always 'no problems'):  {baseline}/{n} ({baseline / n:.0%}); the rules add {right - baseline}")
    print(f"  misses by what came first:       {_miss_kinds(rows)}")
    read = [facts_read(case) for case in selected]
    stated = sum(r[2] for r in read)
    print(
        f"  facts read (format and all stated facts right): {sum(r[0] for r in read)}/{n}; "
        f"stated facts read right: {sum(r[1] for r in read)}/{stated}"
    )
    print("  goal: root cause first >= 95%, 0 false errors on controls, 0 unsupported statements")
    if args.show and args.split == "dev":
        for case, ok, _false_error, claims, first in rows:
            if not ok or claims:
                extra = f"  unsupported: {claims}" if claims else ""
                print(f"  miss {case.file}: want {case.root_cause}, first {first}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
