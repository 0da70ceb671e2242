"""cuda.init-failed: when CUDA fails to initialise, name the likely cause of that error and its fix."""

from __future__ import annotations

from check_facts import H100, RTX4090, linux_gpu_box, report, this_machine

from torchrig.doctor.checks import CheckContext, cuda_init_failed, run_checks
from torchrig.doctor.findings import Severity
from torchrig.doctor.report import parse_report

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


def test_a_cuda_build_that_sees_no_gpu_while_nvml_does_is_reported_even_without_an_error_text() -> None:
    facts = linux_gpu_box(H100)
    facts.torch.cuda_available = False
    [finding] = cuda_init_failed.cuda_initialises(facts, CTX)
    assert finding.evidence["torch.cuda.is_available()"] == "False, while NVML sees 1 GPU(s)"


def test_a_cuda_build_on_a_laptop_without_an_nvidia_gpu_is_not_a_failure() -> None:
    facts = this_machine()
    facts.torch.version, facts.torch.cuda = "2.13.0+cu130", "13.0"
    facts.torch.cuda_init_error = (
        "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver "
        "from http://www.nvidia.com/Download/index.aspx"
    )
    assert cuda_init_failed.cuda_initialises(facts, CTX) == []


def test_error_802_in_the_reporters_words_is_the_fabric_manager() -> None:
    from torchrig.doctor.checks import run_checks
    from torchrig.doctor.report import parse_report

    text = "Our H100 nodes: CUDA initialization fails with error 802 until we reboot.\n"
    assert run_checks(parse_report(text))[0].code == "driver.fabric-manager-down"


def test_the_legacy_unknown_error_30_of_cuda_10_0_and_older_reloads_nvidia_uvm() -> None:
    facts = report(
        ("cuda.legacy-unknown-error-30", "RuntimeError: cuda runtime error (30) : unknown error at THCGeneral.cpp:51")
    )
    [finding] = cuda_init_failed.cuda_initialises(facts, CTX)
    assert finding.fix[0] == "sudo modprobe -r nvidia_uvm && sudo modprobe nvidia_uvm"


def test_the_thc_wording_of_error_30_is_recognised_in_a_log() -> None:
    from torchrig.knowledge import signatures

    text = "THCudaCheck FAIL file=/pytorch/aten/src/THC/THCGeneral.cpp line=51 error=30 : unknown error\n"
    text += "RuntimeError: cuda runtime error (30) : unknown error at /pytorch/aten/src/THC/THCGeneral.cpp:51"
    assert "cuda.legacy-unknown-error-30" in [m.signature.id for m in signatures.find(text)]


# --- cudaErrorNoDevice (100; 38 before CUDA 10.1) where the report shows no NVIDIA GPU ------------------------------


def test_no_cuda_capable_device_without_a_gpu_shown_first_asks_whether_there_is_one() -> None:
    # torch/ezinstall#96 (a laptop with an ATI Radeon, cutorch's THC wording) and abhishekkrthakur/colabcode#26 (a
    # Colab runtime without a GPU, TensorFlow's cuInit): CUDA's answer on a machine that has no NVIDIA GPU
    reports = (
        "THCudaCheck FAIL file=/tmp/luarocks_cutorch-scm-1/cutorch/lib/THC/THCGeneral.c line=20 error=38 : "
        "no CUDA-capable device is detected\n"
        "luajit: cuda runtime error (38) : no CUDA-capable device is detected at THCGeneral.c:20\n",
        "E tensorflow/stream_executor/cuda/cuda_driver.cc:314] failed call to cuInit: CUDA_ERROR_NO_DEVICE: "
        "no CUDA-capable device is detected\n",
    )
    for text in reports:
        found = run_checks(parse_report(text))
        assert found and (found[0].code, found[0].severity) == ("cuda.init-failed", Severity.WARNING), text
        assert found[0].fix[0].startswith("# first: does this machine have an NVIDIA GPU?")
        assert "no NVIDIA GPU" not in found[0].title  # unknown, not absent


def test_no_cuda_capable_device_beside_a_gpu_stays_an_error() -> None:
    facts = linux_gpu_box(RTX4090)
    facts.torch.cuda_available = False
    facts.torch.cuda_init_error = "RuntimeError: cuda runtime error (100) : no CUDA-capable device is detected"
    [finding] = cuda_init_failed.cuda_initialises(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert finding.fix == ("ls -l /dev/nvidia*", "unset CUDA_VISIBLE_DEVICES")
