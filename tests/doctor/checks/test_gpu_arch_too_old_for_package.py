"""gpu.arch-too-old-for-package: an installed extension must run on every GPU's compute capability."""

from __future__ import annotations

from check_facts import A100, GTX1080, H100, PY, T4, V100, linux_gpu_box, pkg, report

from torchrig.doctor.checks import CheckContext, gpu_arch_too_old_for_package
from torchrig.doctor.facts import Gpu
from torchrig.knowledge import extensions

CTX = CheckContext()
GTX980 = ("NVIDIA GeForce GTX 980", "5.2", "0x13c0")


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
    facts = linux_gpu_box(GTX980, companions=[pkg("bitsandbytes", "0.48.2")])
    [finding] = gpu_arch_too_old_for_package.extensions_run_on_every_gpu(facts, CTX)
    assert finding.fix[0] == f"{PY} -m pip install 'bitsandbytes<0.48'   # runs on compute capability 5.0+"
    older = linux_gpu_box(GTX980, companions=[pkg("bitsandbytes", "0.47.0")])
    assert gpu_arch_too_old_for_package.extensions_run_on_every_gpu(older, CTX) == []


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
