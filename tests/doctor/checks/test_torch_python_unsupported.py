"""torch.python-unsupported: the installed torch release must publish wheels for this Python."""

from __future__ import annotations

from check_facts import RTX4090, findings_of, linux_gpu_box

from torchrig.doctor.checks import CheckContext, run_checks, torch_python_unsupported
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def test_torch_2_4_on_python_3_13_is_outside_its_wheels() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.4.1+cu121", cuda="12.1", python="3.13.1")
    [finding] = torch_python_unsupported.torch_supports_this_python(facts, CTX)
    assert finding.severity is Severity.WARNING
    assert finding.title == "torch 2.4 supports Python 3.8-3.12 on Linux x86_64, not 3.13"
    assert finding.fix[0] == "uv venv --python 3.12 .venv-torch2.4"


def test_in_a_conda_setup_the_fix_creates_a_conda_environment() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.4.1+cu121", cuda="12.1", python="3.13.1", conda_prefix="/opt/conda")
    [finding] = torch_python_unsupported.torch_supports_this_python(facts, CTX)
    assert finding.fix[0] == "conda create -y -n torch2.4 python=3.12"


def test_torch_2_13_on_python_3_12_is_supported() -> None:
    assert torch_python_unsupported.torch_supports_this_python(linux_gpu_box(RTX4090), CTX) == []


# --- the platform decides: PyPI's torch 2.5 wheels reach Python 3.13 on Linux x86_64 only ---------------

_MAC_COLLECT_ENV = """\
PyTorch version: {torch}
Is debug build: False
CUDA used to build PyTorch: None
ROCM used to build PyTorch: N/A

OS: macOS 15.1 (arm64)
GCC version: Could not collect
Clang version: 16.0.0 (clang-1600.0.26.4)
CMake version: version 3.30.5
Libc version: N/A

Python version: {python} (main, Oct  7 2024, 05:02:14) [Clang 16.0.0 (clang-1600.0.26.3)] (64-bit runtime)
Python platform: macOS-15.1-arm64-arm-64bit
Is CUDA available: False
"""

# pip on Windows 11 with Python 3.13, asking PyPI for torch 2.5.1 (pip's own wording; the OS line as people end
# an issue)
_WINDOWS_PIP = """\
(venv) PS C:\\Users\\ada\\proj> python --version
Python 3.13.0
(venv) PS C:\\Users\\ada\\proj> pip install torch==2.5.1
ERROR: Could not find a version that satisfies the requirement torch==2.5.1 (from versions: 2.6.0, 2.7.0, 2.7.1)
ERROR: No matching distribution found for torch==2.5.1

Windows 11
"""


def _first(text: str) -> Finding:
    findings = run_checks(parse_report(text))
    assert findings, text
    return findings[0]


def test_an_installed_torch_2_5_on_a_mac_with_python_3_13_has_no_macos_wheel() -> None:
    finding = _first(_MAC_COLLECT_ENV.format(torch="2.5.1", python="3.13.0"))
    assert finding.code == "torch.python-unsupported"
    assert finding.title == "torch 2.5 supports Python 3.9-3.12 on macOS arm64, not 3.13"
    assert finding.fix[0] == "uv venv --python 3.12 .venv-torch2.5"
    assert finding.evidence["platform"] == "macOS 15.1 arm64"


def test_the_same_torch_and_python_on_linux_x86_64_is_fine() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.5.1+cu124", cuda="12.4", python="3.13.0")
    assert torch_python_unsupported.torch_supports_this_python(facts, CTX) == []
    # ... and on Linux aarch64, where PyPI's 2.5 wheels stop at 3.12, it is not
    facts.system.machine = "aarch64"
    [finding] = torch_python_unsupported.torch_supports_this_python(facts, CTX)
    assert finding.title == "torch 2.5 supports Python 3.9-3.12 on Linux aarch64, not 3.13"


def test_where_the_platform_is_unknown_the_linux_range_is_used_and_named() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.5.1+cu124", cuda="12.4", python="3.14.0")
    facts.system.os = facts.system.machine = None
    [finding] = torch_python_unsupported.torch_supports_this_python(facts, CTX)
    assert finding.title == (
        "torch 2.5 supports Python 3.9-3.13 (its Linux x86_64 wheels; the report does not show the platform), not 3.14"
    )
    assert "platform" not in finding.evidence
    facts.system.python_version = "3.13.0"  # inside the Linux range: no claim about a platform nobody named
    assert torch_python_unsupported.torch_supports_this_python(facts, CTX) == []


def test_pip_on_windows_finding_no_torch_2_5_for_python_3_13_is_the_python() -> None:
    finding = _first(_WINDOWS_PIP)
    assert finding.code == "torch.python-unsupported"
    assert finding.title == "torch 2.5 has no Windows wheel for Python 3.13 (Windows wheels: Python 3.9-3.12)"
    assert finding.fix[0].startswith("uv venv --python 3.12 .venv")
    assert finding.fix[-1] == "# or keep Python 3.13 and install torch >= 2.6, which has wheels for it"
    # the same error on Linux x86_64 is not the Python: 2.5 has cp313 wheels there
    linux = parse_report(_WINDOWS_PIP.replace("Windows 11", "").replace("PS C:\\Users\\ada\\proj>", "$"))
    linux.system.os, linux.system.machine = "Linux", "x86_64"
    assert run_checks(linux)[0].code == "torch.no-wheel"


def test_a_stated_failed_install_counts_only_while_torch_is_missing() -> None:
    text = "I can not install pytorch 2.4.1 on my Mac.\n\n" + _MAC_COLLECT_ENV.format(torch="N/A", python="3.13.0")
    finding = _first(text)
    assert finding.code == "torch.python-unsupported"
    assert finding.title == "torch 2.4 has no macOS arm64 wheel for Python 3.13 (macOS arm64 wheels: Python 3.8-3.12)"
    assert "torch.missing" in str(finding.evidence["consequences"])
    # the statement names a release that does have a wheel for this Python: it explains nothing
    supported = text.replace("pytorch 2.4.1", "pytorch 2.6.0")
    assert all(f.code != "torch.python-unsupported" for f in run_checks(parse_report(supported)))
    # with a torch installed, the statement is not about this environment's Python
    installed = "I can not install pytorch 2.4.1 on my Mac.\n\n" + _MAC_COLLECT_ENV.format(
        torch="2.6.0", python="3.13.0"
    )
    assert all(f.code != "torch.python-unsupported" for f in run_checks(parse_report(installed)))


# The web-UI launcher's own Python check (stable-diffusion-webui modules/launch_utils.py), before it installs torch
_LAUNCHER = """\
venv "/home/u/stable-diffusion-webui/venv/bin/python"
INCOMPATIBLE PYTHON VERSION

This program is tested with 3.10.6 Python, but you have 3.12.3.
If you encounter an error with "RuntimeError: Couldn't install torch." message,
or any other error regarding unsuccessful package (library) installation,
please downgrade (or upgrade) to the latest version of 3.10 Python
"""


def test_the_launcher_s_python_check_is_a_warning_until_the_install_fails() -> None:
    facts = parse_report(_LAUNCHER)
    assert facts.system.python_version == "3.12.3"
    first = run_checks(facts)[0]
    assert first.code == "torch.python-unsupported" and first.severity.value == "warning"
    assert first.title.startswith("The launcher is tested with Python 3.10, not 3.12")
    failed = (
        _LAUNCHER
        + "ERROR: Could not find a version that satisfies the requirement torch==2.1.2 (from versions: 2.2.0)\n"
    )
    assert run_checks(parse_report(failed))[0].severity.value == "error"


def test_the_launcher_s_check_says_nothing_where_torch_has_a_wheel_for_this_python() -> None:
    text = _LAUNCHER + "Successfully installed torch-2.4.1\n"
    assert "torch.python-unsupported" not in {f.code for f in run_checks(parse_report(text))}


def test_pip_s_requires_python_refusal_names_the_interpreter() -> None:
    text = "ERROR: Package 'somepkg' requires a different Python: 3.13.1 not in '<3.13,>=3.9'\n"
    facts = parse_report(text)
    assert facts.system.python_version == "3.13.1" and facts.report_format == "pip"


# --- pip's empty list: "(from versions: none)" --------------------------------------------------------------------
# pip lists every torch version whose wheels fit the interpreter on the indexes it searched; an empty list on PyPI
# (or on a PyTorch index that carries the asked-for build) leaves the interpreter's version as the cause, unless the
# report shows a 32-bit Python, another CPU, an index of unknown content or an index pip could not reach. The texts
# are short excerpts of public reports outside the corpus, each named.


def _first(text: str) -> Finding:
    return run_checks(parse_report(text))[0]


def test_a_pin_that_finds_no_torch_at_all_names_the_release_s_pythons_as_inferred() -> None:
    # pip's own two lines (pip/_internal/resolution/resolvelib/factory.py), nothing else shown
    first = _first(
        "ERROR: Could not find a version that satisfies the requirement torch==2.4.1 (from versions: none)\n"
        "ERROR: No matching distribution found for torch==2.4.1\n"
    )
    assert first.code == "torch.python-unsupported" and first.severity == Severity.ERROR
    assert first.title.startswith("torch 2.4 has no wheel for this Python") and "3.8-3.12" in first.title
    assert str(first.evidence["python"]).startswith("not shown; inferred")
    assert "32-bit" in first.detail  # what the report does not rule out is said


def test_a_pin_and_a_stated_python_outside_its_wheels() -> None:
    # zeyad-mansour/lunar#204 ("I have python 3.11"; answered: downgrade Python): torch 1.11 stops at 3.10
    first = _first(
        "ERROR: Could not find a version that satisfies the requirement torch==1.11.0+cu113 (from versions: none)\n"
        "Everytime i try to instal pip install -requierments.txt i get this error... I have python 3.11\n"
    )
    assert first.code == "torch.python-unsupported" and "3.11" in first.title


def test_a_new_python_before_its_first_torch_release_finds_none() -> None:
    # pytorch/pytorch#70994 (Jan 2022, before torch 1.11 brought Python 3.10 wheels)
    first = _first(
        "$ pip install torch\n"
        "ERROR: Could not find a version that satisfies the requirement torch (from versions: none)\n"
        "ERROR: No matching distribution found for torch\n"
        "Collecting environment information...\nPyTorch version: N/A\nIs debug build: N/A\n"
        "CUDA used to build PyTorch: N/A\nROCM used to build PyTorch: N/A\n\n"
        "OS: Arch Linux (x86_64)\nGCC version: (GCC) 11.1.0\nLibc version: glibc-2.33\n\n"
        "Python version: 3.10.1 (main, Dec 18 2021, 23:53:45) [GCC 11.1.0] (64-bit runtime)\n"
        "Python platform: Linux-5.15.12-arch1-1-x86_64-with-glibc2.33\n"
    )
    assert first.code == "torch.python-unsupported"
    assert (
        first.title
        == "pip found no torch for Python 3.10.1: torch has Linux x86_64 wheels for Python 3.10 from 1.11 on"
    )
    assert first.fix[0].startswith("pip install 'torch>=1.11'")


def test_a_python_docker_image_names_the_interpreter() -> None:
    # pytorch/pytorch#112882, a comment of Nov 2023 (torch 2.2 brought Python 3.12 wheels in Jan 2024)
    first = _first(
        "Docker image python:3.12-slim\n\nStill can't install it, I get this error:\n\n"
        "ERROR: Could not find a version that satisfies the requirement torch (from versions: none)\n"
        "ERROR: No matching distribution found for torch\n"
    )
    assert first.code == "torch.python-unsupported" and "from 2.2 on" in first.title


def test_pypi_among_the_indexes_searched_is_enough_to_read_an_empty_list() -> None:
    # pytorch/pytorch#91543: PyPI, NVIDIA's index and PyTorch's cu117 index searched together, Python 3.11.1
    first = _first(
        "Python 3.11.1 , even with nightly version of PyTorch\n"
        "Looking in indexes: https://pypi.org/simple, https://pypi.ngc.nvidia.com, https://download.pytorch.org/whl/cu117\n"
        "ERROR: Could not find a version that satisfies the requirement torch (from versions: none)\n"
        "ERROR: No matching distribution found for torch\n"
    )
    assert first.code == "torch.python-unsupported" and "Python 3.11 from 1.13 on" in first.title


def test_a_pytorch_index_that_carries_the_pinned_build_reads_the_same() -> None:
    # rohitg00/ai-engineering-from-scratch#192, a comment: Python 3.14.4, torch 2.5.1 from the cu118 index
    first = _first(
        "kubuntu 26.04\nPython 3.14.4\n"
        "pip install torch==2.5.1 torchvision==0.20.1 torchaudio==2.5.1 --index-url https://download.pytorch.org/whl/cu118\n"
        "Looking in indexes: https://download.pytorch.org/whl/cu118\n"
        "ERROR: Could not find a version that satisfies the requirement torch==2.5.1 (from versions: none)\n"
    )
    assert first.code == "torch.python-unsupported" and "3.14" in first.title


_NONE = "ERROR: Could not find a version that satisfies the requirement torch==2.3.1 (from versions: none)\n"


def test_an_index_pip_could_not_reach_is_not_the_python() -> None:
    text = (
        "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection "
        "broken by 'NewConnectionError('<HTTPSConnection>: Failed to establish a new connection: [Errno 101] "
        "Network is unreachable')': /simple/torch/\n" + _NONE
    )
    assert _first(text).code == "torch.no-wheel"


def test_a_mirror_of_unknown_content_is_not_the_python() -> None:
    assert _first("Looking in indexes: https://mirrors.example.org/pypi/simple\n" + _NONE).code == "torch.no-wheel"


def test_a_32_bit_python_is_not_the_python_version() -> None:
    text = (
        "Python 3.10.11 (tags/v3.10.11:7d4cc5a, Apr  5 2023, 00:38:17) [MSC v.1929 32 bit (Intel)] on win32\n" + _NONE
    )
    assert _first(text).code == "torch.no-wheel"


def test_a_pinned_release_with_wheels_for_the_stated_python_is_not_the_python() -> None:
    # torch 2.3 has wheels for Python 3.11: pip would have listed it, so something else emptied the list
    assert _first("Python 3.11.4\n" + _NONE).code == "torch.no-wheel"


def test_pytorch_s_variant_indexes_carry_only_the_releases_built_for_them() -> None:
    # rohitg00/ai-engineering-from-scratch#192: Python 3.14.3 on Windows 11, three CUDA indexes whose newest release
    # is 2.7 (cu118), 2.5 (cu121) and 2.6 (cu124); no list of versions shown
    first = _first(
        "Environment:\n  - Python: 3.14.3\n  - OS: Windows 11\n\n"
        "    pip install torch torchvision torchaudio --index-url https://download.pytorch.org/whl/cu118\n"
        "    pip install torch torchvision torchaudio --index-url https://download.pytorch.org/whl/cu121\n"
        "    pip install torch torchvision torchaudio --index-url https://download.pytorch.org/whl/cu124\n\n"
        "  All return: ERROR: No matching distribution found for torch\n"
    )
    assert first.code == "torch.python-unsupported"
    assert first.title == (
        "No torch wheel for Python 3.14 on the indexes searched: their newest release, torch 2.7, has Windows "
        "wheels for Python 3.9-3.13"
    )
    assert "torch >= 2.9" in first.fix[-1]


def test_an_empty_list_on_a_variant_index_with_a_python_newer_than_its_first_releases() -> None:
    # cedarconnor/SPAG4d#1: the cu121 index (torch 2.1-2.5) and Python 3.13.5
    first = _first(
        "pip install torch torchvision --index-url https://download.pytorch.org/whl/cu121\n"
        "ERROR: Could not find a version that satisfies the requirement torch (from versions: none)\n"
        "ERROR: No matching distribution found for torch\n\nversion Python 3.13.5\n"
    )
    assert first.code == "torch.python-unsupported" and "Python 3.13 from 2.5 on" in first.title


def test_a_pin_whose_release_has_wheels_for_the_stated_python_is_left_to_no_wheel() -> None:
    # zeyad-mansour/lunar#176: torch 1.11 has wheels for Python 3.8, so the empty list has another cause
    first = _first(
        "ERROR: Could not find a version that satisfies the requirement torch==1.11.0+cu113 (from versions: none)\n"
        "ERROR: No matching distribution found for torch==1.11.0+cu113\n(im using python 3.8.10\n"
    )
    assert first.code == "torch.no-wheel"


# --- a launcher's Python warning, where torch got installed and ran


def test_the_webui_launcher_python_warning_does_not_outrank_an_error_from_running_torch() -> None:
    # modules/launch_utils.py warns for any Python but 3.10 and goes on; here torch installed and then ran
    text = (
        "INCOMPATIBLE PYTHON VERSION\n"
        "This program is tested with 3.10.6 Python, but you have 3.11.9.\n"
        "Launching Web UI with arguments:\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    findings = findings_of(text)
    assert findings and findings[0].code != "torch.python-unsupported"
    assert "torch.python-unsupported" not in [f.code for f in findings]
