"""torch.missing: an environment without torch gets the install command for the build that fits this machine."""

from __future__ import annotations

from check_facts import PY, RTX4090, V100, linux_gpu_box, this_machine

from torchrig.doctor.checks import CheckContext, torch_missing
from torchrig.doctor.facts import Facts, SystemFacts, TorchFacts

CTX = CheckContext()


def test_no_torch_on_an_rtx_4090_with_driver_580_installs_the_default_cuda_build() -> None:
    [finding] = torch_missing.torch_is_installed(linux_gpu_box(RTX4090, torch=None), CTX)
    assert finding.code == "torch.missing"
    # 2.15's only sourced build, cu132, has no arch list in the tables to prove sm_89 in: 2.14's default
    assert finding.fix == (f"{PY} -m pip install 'torch==2.14.*' --index-url https://download.pytorch.org/whl/cu130",)


def test_no_torch_on_a_v100_installs_the_cuda_line_that_still_has_volta_kernels() -> None:
    [finding] = torch_missing.torch_is_installed(linux_gpu_box(V100, torch=None), CTX)
    assert finding.fix[0].endswith("--index-url https://download.pytorch.org/whl/cu126")


def test_no_torch_on_a_machine_without_a_gpu_installs_the_cpu_build() -> None:
    facts = Facts(
        torch=TorchFacts(installed=False), system=SystemFacts(os="Linux", python_version="3.9.18", python_executable=PY)
    )
    [finding] = torch_missing.torch_is_installed(facts, CTX)
    # torch 2.8 is the newest release with Python 3.9 wheels.
    assert finding.fix == (f"{PY} -m pip install 'torch==2.8.*' --index-url https://download.pytorch.org/whl/cpu",)


def test_an_installed_torch_is_not_missing() -> None:
    assert torch_missing.torch_is_installed(this_machine(), CTX) == []


def test_a_report_that_says_nothing_about_torch_is_not_missing_torch() -> None:
    assert torch_missing.torch_is_installed(Facts(origin="report"), CTX) == []
