"""GPUs that a build or a package has no kernels for, and toolkits that cannot build the kernels a package compiles
at run time, read from reports. Texts are short excerpts of public reports other than the corpus's, or written from
the message's source (the program that prints it, or its documentation)."""

from __future__ import annotations

from torchrig.doctor.checks import run_checks
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report


def _findings(text: str) -> list[Finding]:
    return run_checks(parse_report(text))


def _first(text: str) -> Finding:
    findings = _findings(text)
    assert findings, "no findings"
    return findings[0]


# --- ptxas: "Feature '<instruction>' requires .target sm_XY or higher" (PTX ISA, Target ISA Notes) ---------------


def test_triton_assembling_bf16_for_a_pre_ampere_gpu_is_the_packages_kernel() -> None:
    # InternLM/lmdeploy#1266 (a Tesla V100): Triton's kernel in bf16
    text = (
        "ptxas /tmp/compile-ptx-src-b5bf24, line 372; error   : Feature '.bf16' requires .target sm_80 or higher\n"
        "ptxas /tmp/compile-ptx-src-b5bf24, line 376; error   : Feature '.bf16' requires .target sm_80 or higher\n"
    )
    first = _first(text)
    assert first.code == "gpu.arch-too-old-for-package" and first.severity is Severity.ERROR
    assert first.title.startswith("A kernel needs compute capability 8.0+")
    assert first.evidence["needs"] == "compute capability >= 8.0"
    assert "float16 instead of bfloat16" in first.fix[0]


def test_the_conversion_form_names_the_gpu_below_the_target() -> None:
    # unslothai/unsloth#434 (an RTX 2060) and state-spaces/mamba#269 write the cvt form of the same refusal
    text = (
        "I used a RTX 2060 graphics card\n"
        "ptxas /tmp/compile-ptx-src-0cc16a, line 649; error   : Feature 'cvt with .f32.bf16' requires .target sm_80 "
        "or higher\n"
    )
    first = _first(text)
    assert first.code == "gpu.arch-too-old-for-package"
    assert "RTX 2060" in first.title and "7.5" in first.title


def test_a_gpu_that_has_the_capability_means_the_build_targeted_too_low() -> None:
    # the same refusal where the GPU is an A100: the kernel was assembled for a lower target than its code needs
    text = (
        "GPU: NVIDIA A100-SXM4-80GB\n"
        "ptxas C:\\Temp\\tmpgwmeal32.ptx, line 580; error : Feature '.bf16' requires .target sm_80 or higher\n"
    )
    first = _first(text)
    assert first.code == "gpu.arch-too-old-for-package"
    assert first.title.endswith("but was built for a lower architecture")
    assert first.fix[0].startswith("TORCH_CUDA_ARCH_LIST=8.0 ")


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


# --- the reporter says torch does not support the GPU: weighed against recent releases' builds ------------------


def test_support_for_an_older_gpu_removed_in_the_updates_is_the_builds_without_its_kernels() -> None:
    # Comfy-Org/desktop#1300 (a GTX 1080): no build shown, only the reporter's words
    text = (
        "I went to run the new installation and I was getting a CUDA Core error. Apparently pytorch support for "
        "older GPUs like mine were removed in the updates. I was hoping you could put support back in for the "
        "GTX 1080 GPUs.\n"
    )
    first = _first(text)
    assert first.code == "gpu.arch-unsupported" and first.severity is Severity.WARNING
    assert "GTX 1080 (compute capability 6.1)" in first.title
    assert first.evidence["builds without kernels for 6.1"]
    assert first.fix[-1].endswith("--index-url https://download.pytorch.org/whl/cu126")


def test_a_geforce_generation_named_in_words_gives_the_capability() -> None:
    # graphdeco-inria/diff-gaussian-rasterization#97: "RTX 50 series cannot use CUDA 11.8"
    text = (
        "RTX 50 series cannot use CUDA 11.8\n"
        "The 5070Ti cannot work with CUDA 11.8 and the corresponding Torch; it requires Torch 12.8 nightly.\n"
    )
    first = _first(text)
    assert first.code == "gpu.arch-unsupported" and first.severity is Severity.WARNING
    assert "GeForce RTX 50 series (compute capability 12.0)" in first.title


def test_a_generation_by_its_number_alone() -> None:
    # AUTOMATIC1111/stable-diffusion-webui#17172: "10 series and older gpus don't work with cu128"
    first = _first("apparently 10 series and older gpus don't work with `cu128`\n")
    assert first.code == "gpu.arch-unsupported"
    assert "compute capability 6.1" in first.title


def test_a_gpu_every_recent_build_runs_on_is_not_blamed_on_the_build() -> None:
    # Ada (8.9) runs the sm_86 code of every CUDA 11.8+ build: the words alone do not make it the build's
    findings = _findings("My RTX 4090 doesn't work with pytorch, the program crashes.\n")
    assert all(f.code != "gpu.arch-unsupported" for f in findings)


def test_a_build_shown_that_covers_the_gpu_outweighs_the_words() -> None:
    # cu126 of torch 2.8 carries sm_60/sm_61 (its release notes keep Pascal on CUDA 12.6)
    text = "torch 2.8.0+cu126\nMy GTX 1060 doesn't work with pytorch anymore.\n"
    assert all(f.code != "gpu.arch-unsupported" for f in _findings(text))


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
