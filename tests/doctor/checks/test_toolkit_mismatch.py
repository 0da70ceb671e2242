"""toolkit.mismatch: the toolkit that would build extensions must have torch's CUDA major version."""

from __future__ import annotations

from check_facts import RTX4090, linux_gpu_box, report, this_machine

from torchrig.doctor.checks import CheckContext, toolkit_mismatch
from torchrig.doctor.facts import ToolkitFacts, ToolkitInstall
from torchrig.doctor.findings import Severity

CTX = CheckContext()


def test_a_cuda_12_4_toolkit_cannot_build_extensions_for_torch_on_cuda_13_and_a_13_0_one_is_there() -> None:
    facts = linux_gpu_box(RTX4090)
    facts.toolkit = ToolkitFacts(
        cuda_home="/usr/local/cuda",
        found_by="/usr/local/cuda",
        version="12.4",
        others=[ToolkitInstall("/usr/local/cuda-13.0", "13.0")],
    )
    [finding] = toolkit_mismatch.toolkit_matches_torch(facts, CTX)
    assert finding.severity is Severity.WARNING
    assert finding.title == "The CUDA toolkit at /usr/local/cuda is 12.4, but torch was built with CUDA 13.0"
    assert finding.fix == ("export CUDA_HOME=/usr/local/cuda-13.0", "export PATH=/usr/local/cuda-13.0/bin:$PATH")


def test_without_a_matching_toolkit_ubuntu_installs_one_from_nvidias_repository() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.7.1+cu118", cuda="11.8")
    facts.toolkit = ToolkitFacts(cuda_home="/usr/local/cuda", found_by="nvcc on PATH", version="12.8")
    [finding] = toolkit_mismatch.toolkit_matches_torch(facts, CTX)
    assert finding.fix[0].startswith("sudo apt-get install -y cuda-toolkit-11-8")
    assert finding.fix[1] == "export CUDA_HOME=/usr/local/cuda-11.8"


def test_a_newer_minor_toolkit_of_the_same_major_is_fine() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.13.0+cu126", cuda="12.6")
    facts.toolkit = ToolkitFacts(cuda_home="/usr/local/cuda", version="12.8")
    assert toolkit_mismatch.toolkit_matches_torch(facts, CTX) == []


def test_this_machine_cpu_torch_and_a_cuda_13_toolkit_builds_no_cuda_extensions() -> None:
    assert toolkit_mismatch.toolkit_matches_torch(this_machine(), CTX) == []


def test_cpp_extensions_refusing_the_toolkit_in_a_log_is_an_error_with_both_versions() -> None:
    facts = report(
        (
            "toolkit.extension-cuda-mismatch",
            "RuntimeError: The detected CUDA version (12.1) mismatches the version that was used to compile "
            "PyTorch (11.7). Please make sure to use the same CUDA versions.",
        )
    )
    [finding] = toolkit_mismatch.toolkit_matches_torch(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert finding.title == "The CUDA toolkit that builds extensions is 12.1, but torch was built with CUDA 11.7"
