"""cuda.visible-devices: CUDA_VISIBLE_DEVICES must leave at least one usable GPU; UUID and MIG forms are valid."""

from __future__ import annotations

import pytest
from check_facts import A100, H100, codes_of, findings_of, linux_gpu_box, report, this_machine

from torchrig.doctor.checks import CheckContext, cuda_visible_devices
from torchrig.doctor.findings import Severity
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def two_h100(value: str):
    return linux_gpu_box(H100, H100, env={"CUDA_VISIBLE_DEVICES": value})


def _first(text: str) -> tuple[str, Severity] | None:
    found = findings_of(text)
    return (found[0].code, found[0].severity) if found else None


@pytest.mark.parametrize("value", ["", "-1", "NoDevFiles", "2"])
def test_a_value_that_hides_every_gpu_is_an_error(value: str) -> None:
    [finding] = cuda_visible_devices.visible_devices_usable(two_h100(value), CTX)
    assert finding.severity is Severity.ERROR
    assert finding.title == f"CUDA_VISIBLE_DEVICES={value!r} hides every GPU"
    assert finding.fix == ("unset CUDA_VISIBLE_DEVICES", "# or name the GPUs to use: export CUDA_VISIBLE_DEVICES=0,1")


def test_an_out_of_range_index_hides_it_and_everything_after() -> None:
    [finding] = cuda_visible_devices.visible_devices_usable(two_h100("0,2,1"), CTX)
    assert finding.severity is Severity.WARNING
    assert "only 0 are visible" in finding.detail and "there is no GPU 2 (this machine has 2)" in finding.detail
    assert finding.fix[0] == "export CUDA_VISIBLE_DEVICES=0"


def test_a_uuid_that_no_gpu_here_has_hides_every_gpu() -> None:
    [finding] = cuda_visible_devices.visible_devices_usable(two_h100("GPU-deadbeef-0000"), CTX)
    assert "no GPU here has the UUID GPU-deadbeef-0000" in finding.detail


@pytest.mark.parametrize(
    "value",
    [
        "0,1",
        "1",
        "GPU-00000001-d72c-4106-c12f-20bd9faed9f6",  # full UUID, as nvidia-smi -L prints it
        "GPU-00000000",  # a unique prefix is enough
        "MIG-4b9d2d3a-0b5b-5a5e-8a5e-1b2c3d4e5f60",  # R470+ MIG form
        "MIG-GPU-00000000-d72c-4106-c12f-20bd9faed9f6/1/0",  # pre-R470 MIG form
    ],
)
def test_indices_uuids_and_mig_instances_are_valid(value: str) -> None:
    assert cuda_visible_devices.visible_devices_usable(two_h100(value), CTX) == []


def test_unset_is_fine() -> None:
    assert cuda_visible_devices.visible_devices_usable(linux_gpu_box(A100), CTX) == []


def test_on_a_machine_without_a_gpu_there_is_nothing_to_hide() -> None:
    facts = this_machine()
    facts.system.env["CUDA_VISIBLE_DEVICES"] = ""
    assert cuda_visible_devices.visible_devices_usable(facts, CTX) == []


def test_no_cuda_gpus_are_available_beside_an_nvidia_gpu_points_here() -> None:
    facts = report(("cuda.no-gpus-available", "RuntimeError: No CUDA GPUs are available"))
    facts.gpus = linux_gpu_box(A100).gpus  # nvidia-smi shows the GPU that CUDA does not see
    [finding] = cuda_visible_devices.visible_devices_usable(facts, CTX)
    assert finding.severity is Severity.ERROR and "unset CUDA_VISIBLE_DEVICES" in finding.fix


def test_no_cuda_gpus_are_available_alone_first_asks_whether_there_is_a_gpu() -> None:
    # torch says it on every machine without an NVIDIA GPU ("I don't have any NVIDIA graphics card"): no error
    facts = report(("cuda.no-gpus-available", "RuntimeError: No CUDA GPUs are available"))
    [finding] = cuda_visible_devices.visible_devices_usable(facts, CTX)
    assert finding.severity is Severity.WARNING and "shows none" in finding.title
    assert finding.fix[0].startswith("nvidia-smi -L") and "unset CUDA_VISIBLE_DEVICES" in finding.fix


def test_a_log_that_set_the_variable_and_found_no_gpu_blames_the_variable() -> None:
    # CoMoSVC #6: train.py sets CUDA_VISIBLE_DEVICES='1' on a machine with one GPU.
    facts = report(("cuda.no-gpus-available", "RuntimeError: No CUDA GPUs are available"))
    facts.system.env["CUDA_VISIBLE_DEVICES"] = "1"
    [finding] = cuda_visible_devices.visible_devices_usable(facts, CTX)
    assert finding.title == "CUDA_VISIBLE_DEVICES='1' hides every GPU"
    assert finding.fix[1] == "# or name a GPU that exists: export CUDA_VISIBLE_DEVICES=0"


def test_a_variable_the_program_sets_itself_is_fixed_in_the_program_not_the_shell() -> None:

    log = (
        'import os\nos.environ["CUDA_VISIBLE_DEVICES"] = "1"\nimport torch\nRuntimeError: No CUDA GPUs are available\n'
    )
    [finding] = cuda_visible_devices.visible_devices_usable(parse_report(log), CTX)
    assert finding.evidence["set by the program"] == 'os.environ["CUDA_VISIBLE_DEVICES"] = "1"'
    assert finding.fix[0].startswith('The program sets it itself (os.environ["CUDA_VISIBLE_DEVICES"] = "1")')
    assert 'os.environ["CUDA_VISIBLE_DEVICES"] = "0"' in finding.fix[0]
    assert not any(step.startswith(("unset", "export")) for step in finding.fix)


def test_a_variable_set_in_the_shell_keeps_the_shell_fix() -> None:

    log = "$ export CUDA_VISIBLE_DEVICES=1\nRuntimeError: No CUDA GPUs are available\n"
    [finding] = cuda_visible_devices.visible_devices_usable(parse_report(log), CTX)
    assert finding.fix[0] == "unset CUDA_VISIBLE_DEVICES" and "set by the program" not in finding.evidence


def test_cuda_unavailable_under_a_mask_without_gpu_0_may_hide_the_only_gpu() -> None:
    facts = report(("torch.cuda-available-false", "torch.cuda.is_available() returned False"))
    facts.system.env["CUDA_VISIBLE_DEVICES"] = "1"
    [finding] = cuda_visible_devices.visible_devices_usable(facts, CTX)
    assert finding.severity is Severity.WARNING
    assert "GPU 1 exists only on a machine with 2 or more" in finding.detail


def test_cuda_unavailable_under_a_mask_that_keeps_gpu_0_is_not_the_masks_doing() -> None:
    facts = report(("torch.cuda-available-false", "torch.cuda.is_available() returned False"))
    facts.system.env["CUDA_VISIBLE_DEVICES"] = "0,1"
    assert cuda_visible_devices.visible_devices_usable(facts, CTX) == []


_OOM = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
    "10.75 GiB of which 1.12 GiB is free."
)


def test_out_of_memory_under_an_index_mask_names_cudas_device_order() -> None:
    facts = report()
    facts.system.env["CUDA_VISIBLE_DEVICES"] = "3"
    facts.failures = [_OOM]
    [finding] = cuda_visible_devices.visible_devices_usable(facts, CTX)
    assert finding.evidence["out of memory on"] == "cuda:0, 10.75 GiB in all"
    assert finding.fix[0].startswith("export CUDA_DEVICE_ORDER=PCI_BUS_ID")


@pytest.mark.parametrize(
    "env", [{"CUDA_VISIBLE_DEVICES": "3", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}, {"CUDA_VISIBLE_DEVICES": "0"}]
)
def test_out_of_memory_with_pci_order_or_the_first_gpu_is_not_about_ordering(env: dict[str, str]) -> None:
    facts = report()
    facts.system.env.update(env)
    facts.failures = [_OOM]
    assert cuda_visible_devices.visible_devices_usable(facts, CTX) == []


# --- CUDA_DEVICE_ORDER matters only where the GPUs differ


def test_an_out_of_memory_under_a_mask_on_identical_gpus_is_not_blamed_on_the_device_order() -> None:
    text = (
        "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-11111111-2222-3333-4444-555555555555)\n"
        "GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-11111111-2222-3333-4444-666666666666)\n"
        "GPU 2: NVIDIA A100-SXM4-80GB (UUID: GPU-11111111-2222-3333-4444-777777777777)\n"
        "$ CUDA_VISIBLE_DEVICES=2 python train.py\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
        "79.15 GiB of which 1.02 GiB is free.\n"
    )
    assert "cuda.visible-devices" not in codes_of(text)


# --- cuda.visible-devices: an index from 1 up, and torch finding no CUDA --------------------------------------------


def test_a_mask_naming_gpu_1_where_torch_finds_no_cuda_may_hide_the_only_gpu() -> None:
    # a repository's script sets the mask, the reporter tells torch's answer in words
    text = "The run script has `export CUDA_VISIBLE_DEVICES=1`, and then torch.cuda.is_available() is False.\n"
    found = findings_of(text)
    assert found and found[0].code == "cuda.visible-devices" and found[0].severity is Severity.WARNING
    # the finding explains the answer: no "unexplained failure" after it
    assert [f.code for f in found] == ["cuda.visible-devices"]


def test_weizhepei_casrel_28_mask_1_on_a_one_gpu_machine() -> None:
    # https://github.com/weizhepei/CasRel/issues/28: os.environ["CUDA_VISIBLE_DEVICES"] = "1" in the repository's code;
    # "For those who have only one GPU device, this line should be changed to ... = "0""
    text = 'os.environ["CUDA_VISIBLE_DEVICES"] = "1"\nwith it torch.cuda.is_available() is False on my machine\n'
    assert _first(text) == ("cuda.visible-devices", Severity.WARNING)


def test_pytorch_examples_115_mask_2_with_one_gpu_in_nvidia_smi() -> None:
    # https://github.com/pytorch/examples/issues/115: "CUDA_VISIBLE_DEVICES=2 ... actually disables CUDA"
    text = (
        "~/pytorch/examples/mnist$ CUDA_VISIBLE_DEVICES=2 python main.py\n"
        "THCudaCheck FAIL file=torch/csrc/cuda/Module.cpp line=109 error=38 : no CUDA-capable device is detected\n"
        "~/pytorch/examples/mnist$ nvidia-smi\n"
        "| NVIDIA-SMI 375.39                 Driver Version: 375.39                    |\n"
        "|   0  TITAN X (Pascal)    Off  | 0000:01:00.0      On |                  N/A |\n"
        "| 23%   27C    P8    10W / 250W |     63MiB / 12186MiB |      0%      Default |\n"
    )
    assert _first(text) == ("cuda.visible-devices", Severity.ERROR)
