"""toolkit.incomplete-home: extensions must build against a CUDA_HOME that holds the CUDA headers."""

from __future__ import annotations

from check_facts import ARCH_CU130

from torchrig.doctor.checks import run_checks
from torchrig.doctor.checks.registry import CheckContext
from torchrig.doctor.checks.toolkit_incomplete_home import CODE, cuda_home_has_headers
from torchrig.doctor.facts import Facts, ToolkitFacts, ToolkitInstall, TorchFacts

WRAPPED = ToolkitFacts(
    cuda_home="/usr/local",
    found_by="nvcc on PATH",
    nvcc="/usr/local/bin/nvcc",
    version="13.0.88",
    headers=False,
    others=[ToolkitInstall("/opt/cuda-12.6", "12.6"), ToolkitInstall("/usr/local/cuda", "13.0")],
)


def cuda_torch(toolkit: ToolkitFacts) -> Facts:
    return Facts(
        torch=TorchFacts(installed=True, version="2.13.0+cu130", cuda="13.0", arch_list=ARCH_CU130), toolkit=toolkit
    )


def test_a_cuda_home_taken_from_an_nvcc_wrapper_without_headers_is_flagged_with_the_real_toolkit() -> None:
    (finding,) = cuda_home_has_headers(cuda_torch(WRAPPED), CheckContext())
    assert finding.code == CODE and finding.severity.value == "warning"
    assert "/usr/local" in finding.title
    assert finding.fix == ("export CUDA_HOME=/usr/local/cuda",)  # the toolkit of torch's CUDA major, not 12.6


def test_a_cuda_home_with_headers_is_fine() -> None:
    healthy = ToolkitFacts(cuda_home="/usr/local/cuda-13.0", found_by="CUDA_HOME", version="13.0.88", headers=True)
    assert cuda_home_has_headers(cuda_torch(healthy), CheckContext()) == []


def test_a_cpu_torch_builds_no_cuda_extensions_so_the_toolkit_home_does_not_matter() -> None:
    facts = Facts(torch=TorchFacts(installed=True, version="2.13.0+cpu", cuda=None), toolkit=WRAPPED)
    assert CODE not in [f.code for f in run_checks(facts)]


def test_unknown_headers_say_nothing() -> None:
    report = ToolkitFacts(cuda_home="/usr/local/cuda", version="12.1", headers=None)
    assert cuda_home_has_headers(cuda_torch(report), CheckContext()) == []
