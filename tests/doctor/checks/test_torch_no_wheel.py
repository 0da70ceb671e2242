"""torch.no-wheel: pip found no torch wheel at all; the platform the report shows says why."""

from __future__ import annotations

from check_facts import findings_of

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


# A setup script pinning a CUDA 12.1 build of torch 2.6 (PyTorch built 2.6 for cu118, cu124 and cu126 only,
# torch_builds.toml): pip finds no such file on any index.
_UNPUBLISHED_PIN = """\
Installing torch==2.6.0+cu121 from https://download.pytorch.org/whl/cu121
ERROR: Could not find a version that satisfies the requirement torch==2.6.0+cu121 (from versions: 2.2.0+cu121, 2.3.0+cu121, 2.4.0+cu121, 2.5.0+cu121, 2.5.1+cu121)
ERROR: No matching distribution found for torch==2.6.0+cu121
OS: Microsoft Windows 11 Pro
"""


def test_a_pin_of_a_variant_the_release_was_never_built_for_is_named() -> None:
    first = run_checks(parse_report(_UNPUBLISHED_PIN))[0]
    assert first.code == "torch.no-wheel"
    assert first.title == "torch 2.6.0+cu121 was never published: that release has no cu121 build for Windows"
    assert "cu118, cu124, cu126" in first.fix[0]


def test_a_pin_of_a_published_variant_is_not_called_unpublished() -> None:
    text = _UNPUBLISHED_PIN.replace("2.6.0+cu121", "2.5.1+cu121")
    assert "never published" not in run_checks(parse_report(text))[0].title


def test_a_variant_pin_next_to_another_package_s_failure_is_no_torch_finding() -> None:
    text = (
        "pip install torch==2.5.1+cu121 --index-url https://download.pytorch.org/whl/cu121\n"
        "Successfully installed torch-2.5.1+cu121\n"
        "ERROR: No matching distribution found for some-private-package==1.0\n"
    )
    assert "torch.no-wheel" not in {f.code for f in run_checks(parse_report(text))}


def test_poetry_finding_no_candidate_for_torch_is_no_wheel() -> None:
    text = (
        "  - Installing torch (2.5.1): Failed\n\n"
        "  RuntimeError\n\n"
        "  Unable to find installation candidates for torch (2.5.1)\n"
    )
    facts = parse_report(text)
    assert facts.report_format == "pip"
    first = run_checks(facts)[0]
    assert first.code == "torch.no-wheel" and first.evidence["asked for"] == "torch==2.5.1"


def test_uv_s_platform_tag_names_an_intel_mac() -> None:
    text = (
        "Using Python 3.11.4 environment at: .venv\n"
        "  × No solution found when resolving dependencies:\n"
        "  ╰─▶ Because torch>=2.4.0 has no wheels with a matching platform tag (e.g.,\n"
        "      `macosx_12_0_x86_64`) and you require torch>=2.4.0, we can conclude that your requirements are\n"
        "      unsatisfiable.\n"
    )
    facts = parse_report(text)
    assert (facts.system.os, facts.system.machine, facts.report_format) == ("Darwin", "x86_64", "pip")
    assert "macOS Intel" in run_checks(facts)[0].title


def test_the_index_url_names_the_variant_a_bare_pin_asks_for() -> None:
    text = (
        "pip install torch==2.6.0 torchvision --index-url https://download.pytorch.org/whl/cu121\n"
        "Looking in indexes: https://download.pytorch.org/whl/cu121\n"
        "ERROR: Could not find a version that satisfies the requirement torch==2.6.0 (from versions: 2.5.0+cu121, 2.5.1+cu121)\n"
        "ERROR: No matching distribution found for torch==2.6.0\n"
    )
    first = run_checks(parse_report(text))[0]
    assert first.title == "torch 2.6.0+cu121 was never published: that release has no cu121 build"


# --- a variant pin elsewhere in the report (an installed torch's freeze line) is not the failing install's


def test_the_failing_install_s_requirement_wins_over_an_earlier_pinned_line() -> None:
    text = (
        "$ pip freeze | grep torch\n"
        "torch==2.6.0+cu124\n"
        "$ pip install torch==2.7.0+cu121 --index-url https://download.pytorch.org/whl/cu121\n"
        "ERROR: Could not find a version that satisfies the requirement torch==2.7.0+cu121 (from versions: none)\n"
        "ERROR: No matching distribution found for torch==2.7.0+cu121\n"
    )
    [first, *_] = findings_of(text)
    assert first.code == "torch.no-wheel"
    assert "2.7.0+cu121" in first.title and "2.6.0" not in first.title
