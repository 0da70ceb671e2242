"""Rules added for batch 2026-12-06c, as specifications. Texts are written from each message's source (the
program that prints it, or its documentation), not copied from the corpus."""

from __future__ import annotations

import pytest

from torchrig._core.errors import UserError
from torchrig.doctor.checks import run_checks
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.render.summary import verdict
from torchrig.doctor.report import parse_report


def _findings(text: str) -> list[Finding]:
    return run_checks(parse_report(text))


def _first(text: str) -> Finding:
    findings = _findings(text)
    assert findings, "no findings"
    return findings[0]


# --- an extension's own launch check (FlashInfer csrc: "<Kernel> kernel launch failed, error: " + cudaGetErrorString)


def test_an_extensions_own_kernel_launch_without_an_image_is_the_extension() -> None:
    text = (
        "GPU: Tesla P100-PCIE-16GB\n"
        "RuntimeError: BatchPrefillWithPagedKVCache kernel launch failed, error: no kernel image is available for "
        "execution on the device\n"
    )
    first = _first(text)
    assert first.code == "gpu.arch-too-old-for-package" and first.severity is Severity.ERROR


def test_torchs_own_no_kernel_image_is_still_torchs_build() -> None:
    text = "GPU: Tesla P100-PCIE-16GB\nRuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    assert _first(text).code == "gpu.arch-unsupported"


# --- /dev/kfd access (ROCT README: the user must be in the group that owns /dev/kfd)


def test_a_kfd_node_only_root_may_open_is_device_access_with_a_udev_rule() -> None:
    text = "$ ls -l /dev/kfd\ncrw------- 1 root root 510, 0 Mar  2 10:01 /dev/kfd\nrocminfo fails for my user.\n"
    first = _first(text)
    assert first.code == "rocm.device-access"
    assert any("udev" in step for step in first.fix)


def test_a_kfd_node_open_to_its_group_is_no_evidence() -> None:
    text = "$ ls -l /dev/kfd\ncrw-rw---- 1 root render 510, 0 Mar  2 10:01 /dev/kfd\nRuntimeError: CUDA error: out of memory\n"
    assert "rocm.device-access" not in [f.code for f in _findings(text)]


def test_rocm_that_works_only_as_root_is_device_access() -> None:
    text = "On Ubuntu 22.04 rocminfo lists no agents for my user, but it runs as root without any problem.\n"
    assert _first(text).code == "rocm.device-access"


def test_working_as_root_without_rocm_words_is_nothing() -> None:
    with pytest.raises(UserError):
        parse_report("The script only works as root on our server, why?\n")


# --- error 802 in ggml's words (ggml_cuda_init: "%s: failed to initialize CUDA: %s")


def test_ggml_failing_to_initialise_cuda_with_system_not_ready_is_fabric_manager() -> None:
    text = "ggml_cuda_init: failed to initialize CUDA: system not yet initialized\nGPU: 8x NVIDIA H100 80GB HBM3\n"
    assert _first(text).code == "driver.fabric-manager-down"


def test_a_retyped_found_version_without_its_blank_is_still_driver_too_old() -> None:
    text = 'torch.cuda.is_available() is False and it says "The NVIDIA driver on your system is too old(found version 9000)"'
    assert _first(text).code == "driver.too-old"


# --- program failures on Apple's MPS backend: read, never an error


def test_an_mps_operator_missing_is_a_program_failure_not_a_machine_fault() -> None:
    text = (
        "NotImplementedError: The operator 'aten::upsample_bicubic2d.out' is not currently implemented for the MPS "
        "device. If you want this op to be added in priority during the prototype phase of this feature, please "
        "comment on https://github.com/pytorch/pytorch/issues/77764.\n"
    )
    findings = _findings(text)
    assert findings and not [f for f in findings if f.severity is Severity.ERROR]


def test_indices_on_another_device_are_read_as_a_program_failure() -> None:
    findings = _findings(
        "RuntimeError: indices should be either on cpu or on the same device as the indexed tensor (cpu)\n"
    )
    assert [f.code for f in findings] == ["doctor.unexplained"]


# --- stated platforms that make a report read, never an error


def test_a_stated_wsl_is_read_and_named_in_the_verdict() -> None:
    facts = parse_report("Running vLLM under WSL2 on Windows 11 is slower than native Linux.\n")
    findings = run_checks(facts)
    assert not [f for f in findings if f.severity is Severity.ERROR]
    assert "WSL" in verdict(facts, findings) and "No problems found" not in verdict(facts, findings)


@pytest.mark.parametrize(
    "text",
    [
        "Can this run on a laptop without a dedicated GPU?\n",
        "We deploy on a CPU-only server; how do I set the device?\n",
    ],
)
def test_a_machine_described_without_a_gpu_is_read_and_nothing_is_claimed(text: str) -> None:
    facts = parse_report(text)
    findings = run_checks(facts)
    assert not [f for f in findings if f.severity is Severity.ERROR]
    assert facts.gpus.devices == [] and "gpus" not in facts.gpus.sources  # nothing recorded as absent
    assert "No problems found" not in verdict(facts, findings)


def test_a_program_answering_no_gpu_found_is_no_statement_about_the_machine() -> None:
    with pytest.raises(UserError):
        parse_report("It printed: no GPU found, exiting.\n")


# --- ROCm wheels' gfx targets (PYTORCH_ROCM_ARCH, knowledge/torch_builds.toml [[rocm_arch]])


ROCM_REPORT = (
    "torch 2.1.2+rocm5.6\n"
    "torch.cuda.is_available(): True\n"
    "device: AMD Radeon RX 6700 XT\n"
    "rocminfo says the agent is gfx1031\n"
)


def test_a_gfx_target_outside_the_wheels_list_is_rocm_gpu_unsupported_and_the_override_must_be_exported() -> None:
    first = _first(ROCM_REPORT)
    assert first.code == "rocm.gpu-unsupported" and first.severity is Severity.ERROR
    assert "gfx1031" in first.title
    assert any(step.startswith("export HSA_OVERRIDE_GFX_VERSION=10.3.0") for step in first.fix)
    assert any("exported" in step or "export it" in step for step in first.fix)
    assert "HSA_OVERRIDE_GFX_VERSION" not in first.evidence  # the report does not show it: not claimed set


def test_an_override_the_report_shows_set_is_said_so_and_makes_it_a_warning() -> None:
    first = _first(ROCM_REPORT + "export HSA_OVERRIDE_GFX_VERSION=10.3.0\n")
    assert first.code == "rocm.gpu-unsupported" and first.severity is Severity.WARNING
    assert str(first.evidence["HSA_OVERRIDE_GFX_VERSION"]).startswith("10.3.0, set in the report")


def test_an_override_shown_set_does_not_soften_the_runtimes_own_refusal() -> None:
    text = ROCM_REPORT + "export HSA_OVERRIDE_GFX_VERSION=10.3.0\nRuntimeError: HIP error: invalid device function\n"
    first = _first(text)
    assert first.code == "rocm.gpu-unsupported" and first.severity is Severity.ERROR


def test_a_gfx_target_inside_the_wheels_list_is_no_finding() -> None:
    text = ROCM_REPORT.replace("gfx1031", "gfx1030").replace("6700 XT", "6800 XT")
    assert "rocm.gpu-unsupported" not in [f.code for f in _findings(text)]


def test_two_gfx_targets_name_no_gpu() -> None:
    facts = parse_report(ROCM_REPORT + "I also tried PYTORCH_ROCM_ARCH for gfx1100\n")
    assert facts.gpus.devices == []


# --- pip's summary line names the companions installed with torch


def test_an_unpinned_companion_pip_installed_with_torch_is_a_companion_mismatch() -> None:
    text = "Successfully installed torch-2.5.1+cu124 torchaudio-2.9.0+cu124 torchvision-0.20.1+cu124\n"
    first = _first(text)
    assert first.code == "torch.companion-mismatch" and "torchaudio" in first.title


def test_matching_companions_on_pips_line_are_no_finding() -> None:
    text = "Successfully installed torch-2.5.1+cu124 torchaudio-2.5.1+cu124 torchvision-0.20.1+cu124\n"
    assert "torch.companion-mismatch" not in [f.code for f in _findings(text)]


# --- nccl-tests ranks on one host (src/common.cu "Using devices")


NCCL_TESTS_TWO_RANKS = (
    "mpirun -np 2 -H node7:2 ./build/all_reduce_perf -b 8 -e 128M -f 2 -g 1\n"
    "# nThread 1 nGpus 1 minBytes 8 maxBytes 134217728 step: 2(factor) warmup iters: 5 iters: 20\n"
    "# Using devices\n"
    "#  Rank  0 Group  0 Pid  4100 on      node7 device  0 [0x17] NVIDIA L40S\n"
    "#  Rank  1 Group  0 Pid  4101 on      node7 device  1 [0x65] NVIDIA L40S\n"
    "It hangs after the first size, both GPUs at 100%.\n"
)


def test_an_nccl_test_with_two_ranks_on_one_host_that_hangs_suspects_p2p() -> None:
    first = _first(NCCL_TESTS_TWO_RANKS)
    assert first.code == "gpu.p2p-broken" and first.severity is Severity.WARNING


def test_ranks_on_two_hosts_are_not_one_machine() -> None:
    text = NCCL_TESTS_TWO_RANKS.replace("on      node7 device  1", "on      node8 device  0")
    assert "gpu.p2p-broken" not in [f.code for f in _findings(text)]
