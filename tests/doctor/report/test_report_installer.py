"""report/installer.py: what pip, uv, Poetry and web-UI launchers print about the machine they install on."""

from __future__ import annotations

from torchrig.doctor.report import parse_report

_PIP = """\
Looking in indexes: https://download.pytorch.org/whl/cu124
ERROR: Could not find a version that satisfies the requirement torch==2.2.0+cu124 (from versions: 2.4.0+cu124)
ERROR: No matching distribution found for torch==2.2.0+cu124
"""


def test_pip_s_output_alone_is_the_pip_format() -> None:
    assert parse_report(_PIP).report_format == "pip"


def test_pip_s_refusal_beside_a_traceback_or_a_raised_exception_is_mixed() -> None:
    # report/formats.py rule 1: two different failures, the installer's and a program's
    traceback = 'Traceback (most recent call last):\n  File "setup.py", line 3, in <module>\n'
    assert parse_report(traceback + _PIP).report_format == "mixed"
    assert parse_report(_PIP + "RuntimeError: Couldn't install torch.\n").report_format == "mixed"


def test_uv_s_platform_tag_is_read_where_uv_installs_into_an_environment() -> None:
    text = (
        "Using Python 3.12.4 environment at: venv\n  × No solution found when resolving dependencies:\n"
        "  ╰─▶ Because torch==2.4.1 has no wheels with a matching platform tag (e.g., `win32`) and you require "
        "torch==2.4.1, we can conclude that your requirements are unsatisfiable.\n"
    )
    facts = parse_report(text)
    assert (facts.system.os, facts.system.machine) == ("Windows", "x86")


def test_a_universal_lock_s_platform_tag_says_nothing_about_this_machine() -> None:
    text = (
        "$ uv lock\n  × No solution found when resolving dependencies for split (sys_platform == 'linux'):\n"
        "  ╰─▶ Because torch==2.4.1 has no wheels with a matching platform tag (e.g., `manylinux_2_28_aarch64`) "
        "and you require torch==2.4.1, we can conclude that your requirements are unsatisfiable.\n"
    )
    facts = parse_report(text)
    assert facts.system.os is None and facts.system.machine is None


def test_the_versions_uvs_resolver_lists_as_available_are_not_installed() -> None:
    """uv's PubGrub report lists the versions an index has, one requirement per line: none of them is installed."""
    text = (
        "  × No solution found when resolving dependencies:\n"
        "  ╰─▶ Because only the following versions of torch are available:\n"
        "          torch<=2.6.0\n"
        "          torch==2.6.0+cpu\n"
        "      and torch>=2.6.0 has no wheels with a matching platform tag (e.g., `macosx_12_0_x86_64`), we can\n"
        "      conclude that torch>=2.6.0 cannot be used.\n"
    )
    facts = parse_report(text)
    assert facts.torch.version is None and facts.torch.installed is None
    assert parse_report("Package    Version\ntorch      2.6.0+cpu\n").torch.version == "2.6.0+cpu"
