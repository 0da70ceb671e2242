"""collect_env fields read for what they measure, across the formats of torch 1.x and 2.x.

Inputs are excerpts of real outputs (source named per test); where a case needs a variant (a second
torch install), the test says which real line it adds.
"""

from __future__ import annotations

from report_corpus import CORPUS

from torchrig._core.prefilter import Haystack
from torchrig.doctor.report import collect_env, parse_report

CONDA_LIBS = (CORPUS / "pytorch-pr35646-conda-libs-only.txt").read_text()


def test_pip_listing_condas_own_torch_is_one_install() -> None:
    torch = parse_report(CONDA_LIBS).torch
    assert (torch.installer, torch.version, torch.copies) == ("conda", "1.4.0", [])


def test_conda_listing_a_pip_torch_next_to_its_pytorch_is_two_installs() -> None:
    # The same env after `pip install torch==1.5.0`: conda list shows pip's torch with channel pypi.
    text = CONDA_LIBS.replace("[pip] torch==1.4.0", "[pip] torch==1.5.0")
    text += "[conda] torch                     1.5.0                    pypi_0    pypi\n"
    torch = parse_report(text).torch
    assert torch.installer == "conda"
    assert torch.copies == ["conda: pytorch 1.4.0 (pytorch)", "pip: torch 1.5.0"]


def test_pip_and_conda_disagreeing_on_the_version_is_two_installs() -> None:
    text = CONDA_LIBS.replace("[pip] torch==1.4.0", "[pip] torch==2.0.1")
    assert parse_report(text).torch.copies == ["conda: pytorch 1.4.0 (pytorch)", "pip: torch 2.0.1"]


def test_a_conda_package_is_not_attributed_to_pip() -> None:
    companions = {p.name: (p.version, p.installer) for p in parse_report(CONDA_LIBS).companions}
    assert companions["torchvision"] == ("0.5.0", "conda")
    assert companions["cudatoolkit"] == ("10.1.243", "conda")


def test_pytorch_na_means_collect_env_could_not_import_torch() -> None:
    # https://github.com/pytorch/pytorch/issues/82382 (a source build that does not import)
    text = """Collecting environment information...
PyTorch version: N/A
Is debug build: N/A
CUDA used to build PyTorch: N/A
ROCM used to build PyTorch: N/A

OS: Ubuntu 18.04.6 LTS (x86_64)
GCC version: (Ubuntu 7.5.0-3ubuntu1~18.04) 7.5.0
Clang version: Could not collect
CMake version: version 3.20.2
Libc version: glibc-2.27

Python version: 3.9.12 (main, Apr  5 2022, 06:56:58)  [GCC 7.5.0] (64-bit runtime)
Python platform: Linux-5.4.0-1068-aws-x86_64-with-glibc2.27
Is CUDA available: N/A
CUDA runtime version: Could not collect
GPU models and configuration: GPU 0: Tesla T4
Nvidia driver version: 510.47.03
cuDNN version: Probably one of the following:
/usr/local/cuda-11.0/targets/x86_64-linux/lib/libcudnn.so.8.0.5
"""
    facts = parse_report(text)
    assert facts.torch.installed is False and facts.torch.version is None
    assert "cuda" not in facts.torch.sources and facts.torch.cuda_available is None
    assert facts.system.kernel == "5.4.0-1068-aws" and facts.system.wsl is False
    assert facts.driver.userspace == "510.47.03"
    assert [g.name for g in facts.gpus.devices] == ["Tesla T4"]
    # the system cuDNN that ldconfig lists is not what torch loads: not recorded as torch's
    assert facts.torch.cudnn_version is None and facts.toolkit.version is None


def test_na_with_torch_in_the_library_list_is_a_failed_import() -> None:
    text = "PyTorch version: N/A\nIs CUDA available: N/A\n\nVersions of relevant libraries:\n[pip3] torch==2.1.0\n"
    torch = parse_report(text).torch
    assert (torch.installed, torch.import_ok, torch.version) == (True, False, "2.1.0")


def test_na_beside_torchs_own_traceback_is_a_failed_import_not_a_missing_torch() -> None:
    # collect_env catches the ImportError and prints N/A; the reporter's traceback runs through torch's own files
    text = """>>> import torch
Traceback (most recent call last):
  File "/srv/venv/lib/python3.12/site-packages/torch/__init__.py", line 409, in <module>
    from torch._C import *  # noqa: F403
ImportError: /srv/venv/lib/python3.12/site-packages/torch/lib/libtorch_cuda.so: undefined symbol: ncclCommShrink

Collecting environment information...
PyTorch version: N/A
Is debug build: N/A
CUDA used to build PyTorch: N/A
ROCM used to build PyTorch: N/A

OS: Ubuntu 24.04.1 LTS (x86_64)
Python version: 3.12.3 (main, Jan 17 2025, 18:03:48) [GCC 13.3.0] (64-bit runtime)
Is CUDA available: N/A
"""
    from torchrig.doctor.checks import run_checks

    facts = parse_report(text)
    assert (facts.torch.installed, facts.torch.import_ok) == (True, False)
    codes = [f.code for f in run_checks(facts)]
    assert "torch.missing" not in codes and codes[0] == "nccl.version-mismatch"


def test_on_macos_the_driver_line_is_the_cuda_bundle_not_a_gpu_driver() -> None:
    # https://github.com/pytorch/pytorch/pull/16999 (torch 1.1 on a Mac with a GTX 1060)
    text = """PyTorch version: 1.1.0a0+4335aac
Is debug build: No
CUDA used to build PyTorch: 10.0

OS: Mac OSX 10.13.6
GCC version: Could not collect
CMake version: version 3.12.2

Python version: 3.7
Is CUDA available: Yes
CUDA runtime version: 10.0.130
GPU models and configuration: GeForce GTX 1060 with Max-Q Design
Nvidia driver version: 1.1.0
cuDNN version: /Users/hameerabbasi/cuda/lib/libcudnn.dylib

Versions of relevant libraries:
[pip] numpy==1.15.4
[pip] torch==1.1.0a0+4335aac
[conda] torch                     1.1.0a0+4335aac           dev_0    <develop>
"""
    facts = parse_report(text)
    assert facts.system.os == "Darwin"
    assert facts.driver.userspace is None
    assert [(g.index, g.name) for g in facts.gpus.devices] == [(0, "GeForce GTX 1060 with Max-Q Design")]
    assert facts.torch.cuda == "10.0" and facts.torch.cuda_available is True
    assert facts.torch.installer == "pip" and facts.torch.copies == []  # a `pip install -e` seen by conda


def test_the_issue_template_checklist_is_read() -> None:
    # https://github.com/pytorch/pytorch/issues/30071 (the template filled in by hand)
    text = """ - PyTorch Version (e.g., 1.0): 1.3
 - OS (e.g., Linux): Linux  Ubuntu16.04 kernel 4.4.0.98
 - How you installed PyTorch (`conda`, `pip`, source): pip install
 - Build command you used (if compiling from source): no
 - Python version: 3.6.7
 - CUDA/cuDNN version: cuda 10 /  cudnn 7.6.0
 - GPU models and configuration:
 - Any other relevant information:
"""
    facts = parse_report(text)
    assert facts.report_format == "collect_env"
    assert facts.torch.version == "1.3" and facts.system.python_version == "3.6.7"


def test_collect_env_runtime_version_is_the_toolkit_not_torchs_cuda() -> None:
    facts = parse_report((CORPUS / "pytorch-30071-driver-410-cu101.txt").read_text())
    assert facts.toolkit.version == "10.0" and facts.toolkit.found_by == "nvcc on PATH"
    assert facts.torch.cuda == "10.1.243"


def test_wsl_is_recognised_from_the_python_platform() -> None:
    text = (
        "PyTorch version: 2.1.0+cu121\nCUDA used to build PyTorch: 12.1\n"
        "Python platform: Linux-5.15.90.1-microsoft-standard-WSL2-x86_64-with-glibc2.35\n"
    )
    system = parse_report(text).system
    assert system.wsl is True and system.kernel == "5.15.90.1-microsoft-standard-WSL2"


def test_a_wheel_tag_gives_torchs_cuda_when_the_field_is_cut_off() -> None:
    text = "PyTorch version: 2.6.0+cu126\nIs debug build: False\n"
    torch = parse_report(text).torch
    assert torch.cuda == "12.6" and torch.sources["cuda"] == "report"


def test_a_second_commenters_report_below_the_first_does_not_mix_in() -> None:
    # https://github.com/pytorch/pytorch/issues/37320: the description's report, then a reply's (indented)
    first = (CORPUS / "pytorch-37320-p100-driver-410-retyped.txt").read_text()
    reply = """+1

Also pip installed: pip -U install pytorch torchvision
Output of python -m torch.utils.collect_env:

    $ python -m torch.utils.collect_env
    Collecting environment information...
    PyTorch version: 1.5.0
    Is debug build: No
    CUDA used to build PyTorch: 10.2

    OS: Ubuntu 18.04.2 LTS
    GCC version: (Ubuntu 7.5.0-3ubuntu1~18.04) 7.5.0
    CMake version: version 3.10.2

    Python version: 3.8
    Is CUDA available: No
    CUDA runtime version: Could not collect
    GPU models and configuration:
    GPU 0: Tesla V100-PCIE-16GB
"""
    facts = parse_report(first + "\n" + reply)
    assert [g.name for g in facts.gpus.devices] == ["Tesla P100-PCIE-16GB"] * 4
    assert facts.system.distro == "Ubuntu 18.04.3 LTS" and facts.system.python_version == "3.6"


def test_a_rocm_builds_amd_devices_are_not_taken_for_nvidia_gpus() -> None:
    # collect_env lists torch's own devices for a ROCm build (torch.cuda.get_device_name), not nvidia-smi -L.
    text = (
        "PyTorch version: 2.1.0+rocm5.6\nCUDA used to build PyTorch: N/A\nROCM used to build PyTorch: 5.6.31061-8c743ae5d\n"
        "GPU models and configuration: AMD Radeon RX 7900 XTX (gfx1100)\nNvidia driver version: Could not collect\n"
    )
    facts = parse_report(text)
    assert facts.torch.hip == "5.6.31061-8c743ae5d"
    assert facts.gpus.devices == [] and facts.driver.userspace is None


def _read_every_line(text: str) -> collect_env._Raw:
    reader = collect_env._Reader()
    for line in text.splitlines():
        if not reader.take(line):
            break
    return reader.raw


def test_reading_only_the_lines_that_can_be_fields_reads_what_reading_every_line_does() -> None:
    # A 16 MiB report is not read line by line: one search finds the lines that can be fields. Every
    # corpus report, and the same reports quoted, indented, upper-cased and with blank lines between, reads
    # the same either way.
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in sorted(CORPUS.glob("*.txt"))]
    variants = [
        variant
        for text in texts
        for variant in (text, text.upper(), text.replace("\n", "\n\n  "), text.replace("GPU", "\nGPU"))
    ]
    recognised = 0
    for text in variants:
        fast = collect_env._read(Haystack(text))
        assert fast == _read_every_line(text), text[:300]
        recognised += fast.recognised
    assert recognised > 50
