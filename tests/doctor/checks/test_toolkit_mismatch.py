"""toolkit.mismatch: the toolkit that would build extensions must have torch's CUDA major version."""

from __future__ import annotations

from check_facts import RTX4090, linux_gpu_box, report, this_machine

from torchrig.doctor.checks import CheckContext, run_checks, toolkit_mismatch
from torchrig.doctor.facts import ToolkitFacts, ToolkitInstall
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def _findings(text: str) -> list[Finding]:
    return run_checks(parse_report(text))


def _first(text: str) -> Finding:
    findings = _findings(text)
    assert findings, "no findings"
    return findings[0]


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


# --- the CUDA torch was built with, and the toolkit, told in words ---------------------------------------------


def test_torch_built_with_one_cuda_while_the_container_uses_another() -> None:
    # vllm-project/vllm#129: "PyTorch installed by pip is built with CUDA 11.7 while the container uses CUDA 12.1"
    facts = parse_report("PyTorch installed by `pip` is built with CUDA 11.7 while the container uses CUDA 12.1.\n")
    assert (facts.torch.cuda, facts.toolkit.version) == ("11.7", "12.1")
    assert _first("PyTorch installed by `pip` is built with CUDA 11.7 while the container uses CUDA 12.1.\n").code == (
        "toolkit.mismatch"
    )


def test_a_mention_that_names_the_toolkit_outranks_a_bare_cuda() -> None:
    # torch.utils.cpp_extension builds with CUDA_HOME's nvcc, whatever CUDA the rest of the report names
    text = (
        "The system CUDA toolkit is 13.0 and my torch is compiled with CUDA 12.8; the workers load the CUDA 12.8 "
        "libraries, and the kernels the JIT built fail there.\n"
    )
    facts = parse_report(text)
    assert (facts.torch.cuda, facts.toolkit.version) == ("12.8", "13.0")
    assert _first(text).code == "toolkit.mismatch"


# --- nvcc of one CUDA release against the headers of another (CCCL's cuda/std/__cccl/cuda_toolkit.h) -------------


def test_cccl_refusing_the_compiler_is_a_toolkit_mismatch() -> None:
    # a vLLM deployment's notes: pip resolved nvidia-cuda-nvcc 13.4 next to torch's nvidia-cuda-runtime 13.0
    text = (
        "/venv/lib/python3.12/site-packages/flashinfer/data/cccl/libcudacxx/include/cuda/std/__cccl/cuda_toolkit.h:41:8: "
        'error: #error "CUDA compiler and CUDA toolkit headers are incompatible, please check your include paths"\n'
    )
    first = _first(text)
    assert first.code == "toolkit.mismatch" and first.severity is Severity.ERROR


def test_an_nvcc_wheel_of_another_minor_under_pips_cuda_home() -> None:
    # written from the pip layout: CUDA 13's wheels share site-packages/nvidia/cu13, torch cu130 pins runtime 13.0
    text = "PyTorch: 2.11.0+cu130\nCUDA_HOME: /srv/venv/lib/python3.12/site-packages/nvidia/cu13\nNVCC: 13.4.59\n"
    first = _first(text)
    assert first.code == "toolkit.mismatch" and first.severity is Severity.WARNING
    assert first.fix[0].startswith("python -m pip install 'nvidia-cuda-nvcc==13.0.*'")
    same = text.replace("NVCC: 13.4.59", "NVCC: 13.0.88")
    assert all(f.code != "toolkit.mismatch" for f in _findings(same))
