"""gpu.arch-unsupported: every GPU's compute capability must be covered by the build's arch list."""

from __future__ import annotations

import pytest
from check_facts import (
    ARCH_CU124,
    ARCH_CU126,
    ARCH_CU130,
    B200,
    GTX1080,
    H100,
    ORIN,
    PY,
    RTX3090,
    RTX4090,
    RTX5090,
    V100,
    codes_of,
    findings_of,
    linux_gpu_box,
    report,
    smoke,
)

from torchrig import knowledge
from torchrig.doctor.checks import CheckContext, gpu_arch_unsupported, run_checks
from torchrig.doctor.facts import Gpu, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CTX = CheckContext()
NO_KERNEL = "RuntimeError: CUDA error: no kernel image is available for execution on the device"


def _first(text: str) -> Finding:
    findings = findings_of(text)
    assert findings, "no findings"
    return findings[0]


def test_torch_2_13_cu130_has_no_kernels_for_a_v100_and_cu126_of_the_same_release_does() -> None:
    facts = linux_gpu_box(V100, torch="2.13.0+cu130", cuda="13.0", arch=ARCH_CU130)
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert finding.title == "torch 2.13.0+cu130 has no kernels for GPU0 Tesla V100-SXM2-32GB (compute capability 7.0)"
    assert finding.evidence["compiled for"] == "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120"
    assert finding.fix == (
        f"{PY} -m pip uninstall -y torch",
        f"{PY} -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126",
    )


def test_an_rtx_5090_on_a_cu124_build_moves_to_a_release_with_sm_120_that_its_driver_runs() -> None:
    facts = linux_gpu_box(RTX5090, driver="570.133.07", torch="2.6.0+cu124", cuda="12.4", arch=ARCH_CU124)
    facts.torch.smoke = [smoke(0, RTX5090[0], "12.0", NO_KERNEL)]
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.evidence["GPU0 smoke test"] == NO_KERNEL
    # No 2.6 variant has sm_120; driver 570 cannot run CUDA 13, so torch 2.13 for CUDA 12.9.
    assert finding.fix[-1] == f"{PY} -m pip install 'torch==2.13.*' --index-url https://download.pytorch.org/whl/cu129"


def test_a_gtx_1080_runs_sm_60_kernels_of_the_cu126_line() -> None:
    facts = linux_gpu_box(GTX1080, torch="2.13.0+cu130", cuda="13.0", arch=ARCH_CU130)
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.fix[-1].endswith("torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126")


def test_without_torchs_own_arch_list_the_knowledge_tables_decide() -> None:
    # doctor --quick does not import torch: the arch list comes from the tables for 2.13 cu130.
    facts = linux_gpu_box(V100, torch="2.13.0+cu130", cuda="13.0", arch=[])
    assert len(gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)) == 1


def test_a_jetson_orin_is_pointed_at_the_jetpack_builds() -> None:
    facts = linux_gpu_box(
        ORIN,
        torch="2.13.0+cu130",
        cuda="13.0",
        arch=["sm_80", "sm_90", "sm_100", "sm_110", "sm_120"],
        machine="aarch64",
        jetson=True,
    )
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert "install-pytorch-jetson-platform" in finding.fix[0]


def test_the_sm_120_warning_in_a_log_alone_names_the_build_that_has_it() -> None:
    facts = report(
        (
            "gpu.capability-not-compatible",
            "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.",
        ),
        version="2.6.0+cu124",
        cuda="12.4",
    )
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.title == "torch 2.6.0+cu124 has no kernels for compute capability 12.0"
    # the log does not show the driver: of the newest release's builds with sm_120, the one that runs on the
    # most drivers (2.14 has no CUDA 12.x build with sm_120: cu130, >= 580), and what it needs, said
    assert finding.fix[-1] == "python -m pip install 'torch==2.14.*' --index-url https://download.pytorch.org/whl/cu130"
    assert "# cu130 needs NVIDIA driver 580 or newer (the report does not show the driver)" in finding.fix


def test_a_kepler_card_too_old_for_every_published_build_is_told_to_build_from_source() -> None:
    facts = report(("gpu.too-old-for-torch", "Found GPU0 NVIDIA GeForce GTX 680 which is of cuda capability 3.0."))
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.fix == (
        "No published PyTorch build carries kernels for compute capability 3.0; build from source "
        'with TORCH_CUDA_ARCH_LIST="3.0"',
    )


def test_no_kernel_image_alone_still_yields_the_finding() -> None:
    facts = report(("gpu.no-kernel-image", NO_KERNEL))
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.evidence == {"report line 3": NO_KERNEL}
    assert finding.fix


def test_an_h100_on_cu130_and_an_rtx_4090_on_cu126_are_covered() -> None:
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(linux_gpu_box(H100, arch=ARCH_CU130), CTX) == []
    facts = linux_gpu_box(RTX4090, torch="2.13.0+cu126", cuda="12.6", arch=ARCH_CU126)  # Ada runs sm_86 code
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX) == []


def test_a_rocm_builds_gfx_targets_are_not_read_as_nvidia_architectures() -> None:
    facts = linux_gpu_box(H100, torch="2.13.0+rocm7.0", cuda=None, arch=["gfx90a", "gfx942"])
    facts.torch.hip = "7.0.51831"
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX) == []


def test_a_capability_nvml_could_not_read_is_ignored() -> None:
    facts = linux_gpu_box(H100, arch=ARCH_CU130)
    facts.gpus.devices[0].compute_capability = "N/A"
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX) == []


def test_a_b200_on_a_torch_2_6_build_moves_to_a_release_with_sm_100() -> None:
    facts = linux_gpu_box(B200, torch="2.6.0+cu126", cuda="12.6", arch=ARCH_CU126)
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.fix[-1] == f"{PY} -m pip install 'torch==2.14.*' --index-url https://download.pytorch.org/whl/cu130"


def test_no_kernel_image_while_torch_covers_the_gpu_is_left_to_the_extension_check() -> None:
    facts = linux_gpu_box(RTX4090, arch=ARCH_CU130)
    facts.signatures = [SignatureHit(id="gpu.no-kernel-image", excerpt=NO_KERNEL, line=40)]
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX) == []
    assert gpu_arch_unsupported.kernels_missing_from_an_extension(facts)[0] == ["8.9"]


# --- torch 2.8-2.10's "Minimum and Maximum cuda capability" warning, judged by NVIDIA's rule -------------

# torch/cuda/__init__.py _check_capability prints it for a GPU outside the build's lowest and highest arch;
# pytorch#164708 shows it on a source build for "8.9 9.0+PTX" run on an RTX 6000 Ada (8.9).
ADA_ON_89_90 = (
    "Found GPU0 NVIDIA RTX 6000 Ada Generation which is of cuda capability 8.9. Minimum and Maximum cuda "
    "capability supported by this version of PyTorch is (8.9) - (9.0)"
)


def test_the_range_warning_is_no_evidence_when_the_builds_own_ends_run_on_the_gpu() -> None:
    # a cubin for X.y runs on X.z with z >= y: sm_89 runs on 8.9, and sm_120 on a 12.1 GPU above a (12.0) maximum
    assert (
        gpu_arch_unsupported.build_has_kernels_for_every_gpu(report(("gpu.too-old-for-torch", ADA_ON_89_90)), CTX) == []
    )
    above = ADA_ON_89_90.replace("NVIDIA RTX 6000 Ada Generation", "NVIDIA GB10").replace("8.9.", "12.1.")
    above = above.replace("(8.9) - (9.0)", "(8.0) - (12.0)")
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(report(("gpu.too-old-for-torch", above)), CTX) == []


def test_the_range_warning_stays_an_error_for_a_gpu_of_another_major_or_below_the_minimum() -> None:
    newer = "Found GPU0 NVIDIA GeForce RTX 5090 which is of cuda capability 12.0. Minimum and Maximum cuda capability supported by this version of PyTorch is (5.0) - (9.0)"
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(report(("gpu.too-old-for-torch", newer)), CTX)
    assert finding.severity is Severity.ERROR and finding.title.endswith("compute capability 12.0")
    older = "Found GPU0 NVIDIA GeForce MX350 which is of cuda capability 6.1. Minimum and Maximum cuda capability supported by this version of PyTorch is (7.0) - (12.0)"
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(report(("gpu.too-old-for-torch", older)), CTX)
    assert finding.severity is Severity.ERROR and finding.title.endswith("compute capability 6.1")


def test_a_stated_torch_without_its_variant_covers_a_gpu_only_if_every_cuda_build_of_the_release_does() -> None:
    facts = report(("gpu.no-kernel-image", NO_KERNEL), version="1.10.0")
    facts.gpus.devices = [Gpu(index=0, name=GTX1080[0], compute_capability=GTX1080[1], source="report")]
    assert gpu_arch_unsupported.torch_covers(facts, "6.1") is True  # cu102 and cu111 both carry sm_60/sm_61
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX) == []
    facts.torch.version = "2.9.1"  # its cu128, cu129 and cu130 builds start at sm_70/sm_75
    assert gpu_arch_unsupported.torch_covers(facts, "6.1") is False
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.severity is Severity.ERROR


@pytest.mark.parametrize(
    "text",
    [
        # a pinned requirement, as a Dockerfile or requirements.txt has it
        "The image pins torch==2.1.2 and torchvision==0.16.2. On my RTX 5070 Ti nothing is generated.",
        "I have an RTX 5090. The launcher installs PyTorch 2.3.1 and every CUDA call fails.",
    ],
)
def test_a_plain_release_none_of_whose_cuda_builds_has_sm_120_cannot_run_on_blackwell(text: str) -> None:
    finding = _first(text)
    assert finding.code == "gpu.arch-unsupported"
    assert any("no CUDA build of torch" in str(v) for v in finding.evidence.values())


@pytest.mark.parametrize(
    "text",
    [
        "I have an RTX 5090 with torch 2.7.1 and it does not work.",  # 2.7's cu128 build has sm_120
        "Jetson AGX Orin, JetPack 6, torch 2.6.0 does not work.",  # NVIDIA's JetPack wheel, not PyTorch's matrix
        "RTX 5090, PyTorch 2.6.0a0+ecf3bae40a.nv25.01 does not work.",  # NVIDIA's container build
    ],
)
def test_a_release_matrix_speaks_only_for_pytorchs_own_wheels_of_that_release(text: str) -> None:
    assert "gpu.arch-unsupported" not in codes_of(text)


# --- builds whose architectures the tables do not list: the CUDA toolkit's rule ---------------

GTX680 = ("NVIDIA GeForce GTX 680", "3.0", "0x1180")


def test_a_build_without_a_table_row_cannot_run_on_a_gpu_older_than_its_toolkit() -> None:
    # a source build of 1.9 against CUDA 11.3 has no table row; CUDA 11.3's nvcc has nothing below sm_35
    facts = linux_gpu_box(GTX680, driver="470.82.01", torch="1.9.0+cu113", cuda="11.3", arch=[], python="3.9.18")
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert finding.title == "torch 1.9.0+cu113 has no kernels for GPU0 NVIDIA GeForce GTX 680 (compute capability 3.0)"
    assert finding.evidence["GPU0"] == (
        "CUDA 11.3 compiles for compute capability 3.5 to 8.6: no build made with it runs on 3.0"
    )


def test_a_gpu_newer_than_the_build_toolkit_is_a_warning_that_names_ptx() -> None:
    # an H100 (9.0) under a CUDA 11.3 build: nvcc 11.3 stops at sm_86, so only PTX could run there
    facts = linux_gpu_box(H100, driver="535.104.05", torch="1.9.0+cu113", cuda="11.3", arch=[], python="3.9.18")
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.severity is Severity.WARNING
    assert finding.title.startswith("torch 1.9.0+cu113 probably has no kernels for GPU0 NVIDIA H100")
    assert "only through PTX" in finding.evidence["GPU0"]
    # its own arch list, once torch is imported, settles it
    listed = linux_gpu_box(H100, torch="1.9.0+cu113", cuda="11.3", arch=["sm_80", "sm_86", "compute_86"])
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(listed, CTX) == []


def test_a_gpu_the_toolkit_can_target_gives_no_finding_when_the_list_is_unknown() -> None:
    facts = linux_gpu_box(RTX3090, driver="470.82.01", torch="1.9.0+cu113", cuda="11.3", arch=[], python="3.9.18")
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX) == []


def test_a_nightly_is_judged_by_its_releases_list_but_only_as_a_warning() -> None:
    nightly = {"torch": "2.8.0.dev20250501+cu128", "cuda": "12.8", "arch": []}
    facts = linux_gpu_box(GTX1080, driver="570.124.06", **nightly)
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(facts, CTX)
    assert finding.severity is Severity.WARNING and "nightly" in finding.evidence["GPU0"]
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(linux_gpu_box(RTX5090, **nightly), CTX) == []


def test_an_aarch64_box_is_judged_by_the_aarch64_wheels() -> None:
    # torch 2.9's aarch64 cu126 wheels carry sm_80 and sm_90 only (pytorch#163764); x86_64's carry sm_50..sm_90
    arm = linux_gpu_box(GTX1080, torch="2.9.1+cu126", cuda="12.6", arch=[], machine="aarch64")
    [finding] = gpu_arch_unsupported.build_has_kernels_for_every_gpu(arm, CTX)
    assert finding.evidence["compiled for"] == "sm_80 sm_90"
    x86 = linux_gpu_box(GTX1080, torch="2.9.1+cu126", cuda="12.6", arch=[])
    assert gpu_arch_unsupported.build_has_kernels_for_every_gpu(x86, CTX) == []


# --- cases a review found the checks getting wrong: the situation, stated, and what the doctor must say


def test_an_arch_specific_target_in_the_arch_list_covers_exactly_its_own_capability() -> None:
    assert knowledge.arch_covers("sm_90a", "9.0")
    assert not knowledge.arch_covers("sm_90a", "9.1")
    facts = linux_gpu_box(H100, torch="2.4.0+cu124", cuda="12.4", arch=["sm_80", "sm_90a"])
    assert [f.code for f in run_checks(facts)] == []


# --- torch's own capability warning is proof about torch's build, whatever the tables say of its variants


def test_torch_s_own_too_old_warning_keeps_the_missing_kernel_on_torch_not_an_extension() -> None:
    # torch/cuda/__init__.py _check_capability compares the GPU with torch.cuda.get_arch_list(): a build from
    # another channel (conda-forge, a custom build) may lack what every PyPI variant of the release has
    text = (
        "torch 2.5.1\n"
        "UserWarning: Found GPU0 NVIDIA GeForce GTX 1080 Ti which is of cuda capability 6.1.\n"
        "    PyTorch no longer supports this GPU because it is too old.\n"
        "    The minimum cuda capability supported by this library is 7.0.\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    codes = codes_of(text)
    assert codes and codes[0] == "gpu.arch-unsupported"
    assert "gpu.arch-too-old-for-package" not in codes


# --- an extension's own launch check (FlashInfer csrc: "<Kernel> kernel launch failed, error: " + cudaGetErrorString)


def test_torchs_own_no_kernel_image_is_still_torchs_build() -> None:
    text = "GPU: Tesla P100-PCIE-16GB\nRuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    assert _first(text).code == "gpu.arch-unsupported"


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
    findings = findings_of("My RTX 4090 doesn't work with pytorch, the program crashes.\n")
    assert all(f.code != "gpu.arch-unsupported" for f in findings)


def test_a_build_shown_that_covers_the_gpu_outweighs_the_words() -> None:
    # cu126 of torch 2.8 carries sm_60/sm_61 (its release notes keep Pascal on CUDA 12.6)
    text = "torch 2.8.0+cu126\nMy GTX 1060 doesn't work with pytorch anymore.\n"
    assert all(f.code != "gpu.arch-unsupported" for f in findings_of(text))
