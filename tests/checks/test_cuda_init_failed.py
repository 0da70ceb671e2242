"""cuda.init-failed: when CUDA fails to initialise, name the likely cause of that error and its fix."""

from __future__ import annotations

from check_facts import H100, RTX4090, linux_gpu_box, report

from torchrig.checks import CheckContext, cuda_init_failed

CTX = CheckContext()
UNKNOWN = (
    "CUDA initialization: CUDA unknown error - this may be due to an incorrectly set up environment, e.g. changing env "
    "variable CUDA_VISIBLE_DEVICES after program start. Setting the available devices to be zero."
)


def test_unknown_error_after_suspend_reloads_nvidia_uvm() -> None:
    facts = linux_gpu_box(RTX4090)
    facts.torch.cuda_available = False
    facts.torch.warnings = [UNKNOWN]
    [finding] = cuda_init_failed.cuda_initialises(facts, CTX)
    assert finding.code == "cuda.init-failed"
    assert "suspend/resume" in finding.detail
    assert finding.fix[0] == "sudo modprobe -r nvidia_uvm && sudo modprobe nvidia_uvm"
    assert finding.evidence["torch warning"] == UNKNOWN


def test_error_802_on_an_nvswitch_system_starts_the_fabric_manager() -> None:
    facts = linux_gpu_box(H100, H100, H100, H100, H100, H100, H100, H100)
    facts.torch.cuda_init_error = "cudaGetDeviceCount() returned 802: system not yet initialized"
    [finding] = cuda_init_failed.cuda_initialises(facts, CTX)
    assert finding.fix[0] == "sudo systemctl enable --now nvidia-fabricmanager"


def test_an_error_without_a_rule_still_gets_the_diagnostic_steps() -> None:
    facts = linux_gpu_box(H100)
    facts.torch.cuda_init_error = "CUDA error: an illegal memory access was encountered"
    [finding] = cuda_init_failed.cuda_initialises(facts, CTX)
    assert finding.fix[0] == "nvidia-smi"


def test_the_warning_in_a_log_alone_yields_the_finding() -> None:
    facts = report(("cuda.unknown-error", "UserWarning: " + UNKNOWN))
    [finding] = cuda_init_failed.cuda_initialises(facts, CTX)
    assert finding.fix[0] == "sudo modprobe -r nvidia_uvm && sudo modprobe nvidia_uvm"


def test_cuda_that_initialises_is_fine() -> None:
    assert cuda_init_failed.cuda_initialises(linux_gpu_box(RTX4090), CTX) == []
