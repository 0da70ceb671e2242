"""torch.no-wheel: pip found no torch wheel at all; the platform the report shows says why."""

from __future__ import annotations

from torchrig.doctor.checks import run_checks
from torchrig.doctor.report import parse_report

# pip on an Intel Mac (collect_env's OS line gives the machine), asking for a release after the last
# one with macOS x86_64 wheels
_INTEL_MAC = """\
$ pip install torch==2.3.0
ERROR: Could not find a version that satisfies the requirement torch==2.3.0 (from versions: 2.0.0, 2.0.1, 2.1.0, 2.1.1, 2.1.2, 2.2.0, 2.2.1, 2.2.2)
ERROR: No matching distribution found for torch==2.3.0

OS: macOS 14.4.1 (x86_64)
"""


def test_an_intel_mac_is_told_the_last_release_with_its_wheels_from_the_tables() -> None:
    first = run_checks(parse_report(_INTEL_MAC))[0]
    assert first.code == "torch.no-wheel"
    assert first.title == "pip found no torch wheel: PyTorch stopped publishing macOS Intel wheels after 2.2"
    assert first.fix[0].startswith("pip install 'torch<2.3'")


def test_asking_an_intel_mac_for_the_last_release_it_has_is_not_that() -> None:
    text = _INTEL_MAC.replace("torch==2.3.0", "torch==2.2.2")
    assert "macOS Intel" not in run_checks(parse_report(text))[0].title
