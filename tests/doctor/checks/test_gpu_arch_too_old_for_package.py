"""gpu.arch-too-old-for-package: an installed extension must run on every GPU's compute capability."""

from __future__ import annotations

from check_facts import (
    A100,
    ARCH_CU130,
    GTX1080,
    H100,
    PY,
    RTX4090,
    T4,
    V100,
    codes_of,
    findings_of,
    linux_gpu_box,
    pkg,
    report,
)

from torchrig.doctor.checks import CheckContext, gpu_arch_too_old_for_package, run_checks
from torchrig.doctor.facts import Gpu, SignatureHit
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report
from torchrig.knowledge import extensions

CTX = CheckContext()
GTX980 = ("NVIDIA GeForce GTX 980", "5.2", "0x13c0")


def _first(text: str) -> Finding:
    findings = findings_of(text)
    assert findings, "no findings"
    return findings[0]


def test_flash_attn_2_on_a_t4_falls_back_to_flash_attn_1() -> None:
    facts = linux_gpu_box(T4, companions=[pkg("flash_attn", "2.7.4.post1")])
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert (
        finding.title
        == "flash_attn 2.7.4.post1 needs compute capability 8.0+, but GPU0 Tesla T4 (compute capability 7.5) has less"
    )
    assert finding.fix == (
        f"{PY} -m pip install 'flash-attn<2'   # runs on compute capability 7.5+",
        f"{PY} -m pip uninstall -y flash_attn   # or do without it on this GPU",
    )


def test_flash_attn_on_a_v100_has_no_version_to_fall_back_to() -> None:
    facts = linux_gpu_box(V100, companions=[pkg("flash-attn", "2.8.3")])
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.fix == (f"{PY} -m pip uninstall -y flash-attn   # or do without it on this GPU",)


def test_on_mixed_gpus_the_fix_selects_the_ones_it_supports() -> None:
    facts = linux_gpu_box(A100, T4, companions=[pkg("flash-attn", "2.8.3")])
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    # By UUID: NVML numbers GPUs in PCI order, CUDA fastest first, so an index could name the T4.
    assert finding.fix[0] == f"export CUDA_VISIBLE_DEVICES={facts.gpus.devices[0].uuid}   # only the GPUs it supports"


def test_vllm_needs_volta_so_a_gtx_1080_cannot_run_it() -> None:
    facts = linux_gpu_box(GTX1080, companions=[pkg("vllm", "0.11.0")])
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.evidence["needs"] == "compute capability >= 7.0"
    assert finding.evidence["source"].startswith("https://docs.vllm.ai/")


def test_bitsandbytes_0_48_dropped_maxwell_and_0_47_still_runs_there() -> None:
    # a cu126 torch (sm_50 and up): bitsandbytes loads its CUDA 12.6 library, built for sm_60+ from 0.48
    maxwell = {"torch": "2.8.0+cu126", "cuda": "12.6"}
    facts = linux_gpu_box(GTX980, **maxwell, companions=[pkg("bitsandbytes", "0.48.2")])
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.fix[0] == f"{PY} -m pip install 'bitsandbytes<0.48'   # runs on compute capability 5.0+"
    older = linux_gpu_box(GTX980, **maxwell, companions=[pkg("bitsandbytes", "0.47.0")])
    assert gpu_arch_too_old_for_package.extensions_run_on_every_gpu(older, CTX) == []


def test_which_bitsandbytes_library_loads_depends_on_torchs_cuda() -> None:
    # build-cuda.sh per CUDA version: sm_50/60 only below CUDA 12.8, sm_75+ from CUDA 13
    assert [extensions.need_of("bitsandbytes", "0.48.2", cuda=c).min_cc for c in ("12.6", "12.8", "13.0")] == [
        "6.0",
        "7.0",
        "7.5",
    ]
    assert extensions.need_of("bitsandbytes", "0.48.2").min_cc == "6.0"  # CUDA unknown: what holds for all
    facts = linux_gpu_box(GTX1080, companions=[pkg("bitsandbytes", "0.48.2")])  # torch 2.13 cu130
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.evidence["needs"] == "compute capability >= 7.5"
    assert not any("bitsandbytes<0.48" in line for line in finding.fix)  # 0.47 has no CUDA 13 build for Pascal


def test_a_feature_has_its_own_row_and_each_package_its_own_too_old_message() -> None:
    assert extensions.need_of("transformer-engine", "2.1.0").min_cc == "8.0"
    assert extensions.need_of("transformer-engine", "2.1.0", feature="FP8").min_cc == "8.9"
    line = "AssertionError: Device compute capability 8.9 or higher required for FP8 execution."
    assert [(n.package, n.feature, n.min_cc) for n in extensions.message_in(line)] == [
        ("transformer-engine", "FP8", "8.9")
    ]
    assert all(rows and all(r.message == text for r in rows) for text, rows in extensions.messages().items())
    assert extensions.message_in("RuntimeError: CUDA error: out of memory") == ()


def test_an_h100_runs_every_extension_in_the_table() -> None:
    facts = linux_gpu_box(
        H100,
        companions=[
            pkg("flash-attn", "2.8.3"),
            pkg("vllm", "0.11.0"),
            pkg("bitsandbytes", "0.48.2"),
            pkg("xformers", "0.0.32.post2"),
            pkg("flash_attn_3", "3.0.0b1"),
        ],
    )
    assert gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX) == []


def test_the_table_answers_by_package_name_and_version() -> None:
    assert extensions.need_of("Flash_Attn", "2.7.4.post1").min_cc == "8.0"
    assert extensions.need_of("flash-attn", "1.0.9").min_cc == "7.5"
    assert extensions.need_of("requests", "2.32.0") is None
    assert all(row.source.startswith("https://") for row in extensions.needs())


def test_flash_attention_refusing_the_gpu_in_a_log_names_the_installed_flash_attn() -> None:
    # MInference #51: flash-attn 2.6 on a Tesla V100S; the log names no compute capability.
    facts = report(
        ("package.flash-attn-needs-ampere", "RuntimeError: FlashAttention only supports Ampere GPUs or newer.")
    )
    facts.companions = [pkg("flash-attn", "2.6.0.post1")]
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.title == "flash-attn 2.6.0.post1 does not support this GPU's compute capability"
    assert finding.evidence["flash-attn needs"].startswith("compute capability >= 8.0")
    assert finding.fix[-1] == "python -m pip uninstall -y flash-attn   # or do without it on this GPU"


def test_a_gpu_named_in_a_report_gets_its_capability_from_the_model_table() -> None:
    facts = report(
        ("package.flash-attn-needs-ampere", "RuntimeError: FlashAttention only supports Ampere GPUs or newer.")
    )
    facts.gpus.devices = [Gpu(index=0, name="Tesla V100S-PCIE-32GB", source="report")]
    facts.companions = [pkg("flash-attn", "2.6.0.post1")]
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.title.endswith("but GPU0 Tesla V100S-PCIE-32GB (compute capability 7.0) has less")


def test_triton_installed_with_torch_on_a_turing_gpu_is_not_a_fault() -> None:
    # Triton 3.3+ supports cc 8.0+, but it comes with torch and only torch.compile uses it
    facts = linux_gpu_box(T4, companions=[pkg("triton", "3.5.0"), pkg("flash-attn", "2.8.3")])
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.title.startswith("flash-attn 2.8.3")
    assert not any("triton" in line for line in finding.fix)
    assert extensions.need_of("triton", "3.5.0").min_cc == "8.0"  # the fact stays in the table


NO_KERNEL = "RuntimeError: CUDA error: no kernel image is available for execution on the device"


def test_no_kernel_image_while_torch_covers_the_gpu_blames_a_compiled_extension() -> None:
    facts = linux_gpu_box(RTX4090, arch=ARCH_CU130)
    facts.signatures = [SignatureHit(id="gpu.no-kernel-image", excerpt=NO_KERNEL, line=40)]
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.title == "A compiled CUDA extension has no kernels for compute capability 8.9"
    assert finding.fix[0].startswith(f"TORCH_CUDA_ARCH_LIST=8.9 {PY} -m pip install --no-build-isolation")


def test_a_torch_release_whose_every_cuda_build_covers_the_gpu_leaves_the_extension() -> None:
    # a log naming torch 1.10.0 but not its wheel: cu102 and cu111 both run on a GTX 1080 (sm_60 / sm_61)
    facts = report(("gpu.no-kernel-image", NO_KERNEL), version="1.10.0")
    facts.gpus.devices = [Gpu(index=0, name=GTX1080[0], compute_capability=GTX1080[1], source="report")]
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.title == "A compiled CUDA extension has no kernels for compute capability 6.1"


def test_torchs_own_incompatibility_warning_keeps_the_build_on_torch_whatever_old_ptx_it_lists() -> None:
    # torch's _check_cubins (torch/cuda/__init__.py) warns where get_arch_list() has no SASS of the GPU's major; a
    # compute_37 in the list is PTX the CUDA 10 toolkit made, not kernels for an Ampere card
    from torchrig.doctor import checks
    from torchrig.doctor.report import parse_report

    text = (
        "NVIDIA GeForce RTX 3080 with CUDA capability sm_86 is not compatible with the current PyTorch installation.\n"
        "The current PyTorch install supports CUDA capabilities sm_37 sm_50 sm_60 sm_70 sm_75 compute_37.\n"
    )
    facts = parse_report(text)
    assert gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX) == []
    first = checks.run_checks(facts)[0]
    assert first.code == "gpu.arch-unsupported" and "torch itself says" in first.detail


def test_a_package_refusing_gpus_below_a_compute_capability_names_the_extension_not_torch() -> None:
    # vLLM's setup.py (2023) raised this at install on a Pascal card
    facts = report(
        (
            "package.compute-capability-minimum",
            "RuntimeError: GPUs with compute capability below 7.0 are not supported.",
        )
    )
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.code == "gpu.arch-too-old-for-package"
    # the same words about torch's own minimum are torch's build, which gpu.arch-unsupported judges
    torch = report(
        ("package.compute-capability-minimum", "PyTorch: GPUs with compute capability below 3.7 are not supported")
    )
    assert gpu_arch_too_old_for_package.extensions_run_on_every_gpu(torch, CTX) == []


def test_nunchaku_before_0_2_has_no_turing_kernels() -> None:
    # its README: sm_80, sm_86 and sm_89 only; Turing came with 0.2
    facts = linux_gpu_box(T4, companions=[pkg("nunchaku", "0.1.4")])
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.evidence["needs"] == "compute capability >= 8.0"
    assert extensions.need_of("nunchaku", "0.2.0") is None  # not in the table: unknown, not "runs everywhere"


# --- a compute-capability minimum stated about a CUDA release is not a package refusing the GPU


def test_a_cuda_release_dropping_old_gpus_is_not_a_package_refusing_the_gpu() -> None:
    text = (
        "GPU: NVIDIA GeForce GTX 1080 Ti\n"
        "CUDA 13.0 no longer supports GPUs below compute capability 7.5, so nvcc fails for sm_61.\n"
        "nvcc fatal : Unsupported gpu architecture 'compute_61'\n"
    )
    assert "gpu.arch-too-old-for-package" not in codes_of(text)
    # a package's own refusal still counts (vLLM's setup.py wording)
    refusal = "RuntimeError: GPUs with compute capability below 7.0 are not supported.\n"
    assert codes_of(refusal)[0] == "gpu.arch-too-old-for-package"


# --- an extension's own launch check (FlashInfer csrc: "<Kernel> kernel launch failed, error: " + cudaGetErrorString)


def test_an_extensions_own_kernel_launch_without_an_image_is_the_extension() -> None:
    text = (
        "GPU: Tesla P100-PCIE-16GB\n"
        "RuntimeError: BatchPrefillWithPagedKVCache kernel launch failed, error: no kernel image is available for "
        "execution on the device\n"
    )
    first = _first(text)
    assert first.code == "gpu.arch-too-old-for-package" and first.severity is Severity.ERROR


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


# flash-attn's minimum told in words, in the wording of other reports of the class (Mega4alik/ollm#55 "Turing chipset
# but Flash-Attention only work with Ampere", Dao-AILab/flash-attention#1230 "Flash attention 2.x doesn't support
# turing"): FlashAttention-2's README lists Ampere, Ada or Hopper GPUs. A finding only beside a GPU below cc 8.0.
def test_words_that_flash_attention_needs_ampere_beside_an_older_gpu_are_the_finding() -> None:
    for text in (
        "I have a Quadro RTX 5000, a Turing chipset, but Flash-Attention only work with Ampere models.",
        "Running on a Tesla T4. Flash attention 2.x doesn't support turing as of right now.",
        "How do I turn it off? Flash attention does not support GPUs older than Ampere and I have v100 GPUs.",
    ):
        facts = parse_report(text)
        assert facts.gpus.devices, text
        assert [f.code for f in run_checks(facts)][:1] == ["gpu.arch-too-old-for-package"], text


def test_words_that_flash_attention_needs_ampere_beside_an_ampere_gpu_are_no_finding() -> None:
    facts = parse_report("My A100 is fine: flash attention only supports Ampere or newer, and that is what I have.")
    assert "gpu.arch-too-old-for-package" not in [f.code for f in run_checks(facts)]
