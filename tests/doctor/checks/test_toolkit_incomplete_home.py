"""toolkit.incomplete-home: extensions must build against a CUDA_HOME that holds the CUDA headers."""

from __future__ import annotations

from check_facts import ARCH_CU130

from torchrig.doctor.checks import run_checks
from torchrig.doctor.checks.registry import CheckContext
from torchrig.doctor.checks.toolkit_incomplete_home import CODE, cuda_home_has_headers
from torchrig.doctor.facts import Facts, ToolkitFacts, ToolkitInstall, TorchFacts
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report

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


def _findings(text: str) -> list[Finding]:
    return run_checks(parse_report(text))


def _first(text: str) -> Finding:
    findings = _findings(text)
    assert findings, "no findings"
    return findings[0]


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


# --- NVIDIA's CUDA images: only "devel" has nvcc and the headers (hub.docker.com/r/nvidia/cuda) ------------------


def test_nvcc_missing_in_a_cuda_runtime_image_is_the_image_flavour() -> None:
    # NVIDIA/nvidia-docker#1160
    text = (
        "docker run -it --gpus all nvidia/cuda:10.0-cudnn7-runtime-ubuntu18.04 /bin/bash\n"
        "root@7c0be9bfaeec:/# nvcc --version\n"
        "bash: nvcc: command not found\n"
    )
    first = _first(text)
    assert first.code == "toolkit.incomplete-home" and first.severity is Severity.ERROR
    assert first.fix[0].startswith("FROM nvidia/cuda:10.0-cudnn7-devel-ubuntu18.04 ")


def test_a_base_image_without_bin_cannot_build_an_extension() -> None:
    # anibali/docker-pytorch#17: the image is built FROM the base flavour; a setup.py looks for nvcc
    text = (
        "FROM nvidia/cuda:9.1-base-ubuntu16.04\n"
        "FileNotFoundError: [Errno 2] No such file or directory: '/usr/local/cuda/bin/nvcc'\n"
    )
    assert _first(text).code == "toolkit.incomplete-home"


def test_a_runtime_image_that_compiles_nothing_is_no_finding() -> None:
    # a runtime image is right for running precompiled code: named without any compiler, it says nothing
    text = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRuntimeError: CUDA error: out of memory\n"
    assert all(f.code != "toolkit.incomplete-home" for f in _findings(text))
