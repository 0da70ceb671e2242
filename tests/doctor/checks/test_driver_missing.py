"""driver.missing: an NVIDIA GPU on the PCI bus needs a loaded NVIDIA driver."""

from __future__ import annotations

from check_facts import B200, RTX4090, linux_gpu_box, report, this_machine

from torchrig.doctor.checks import CheckContext, driver_missing, run_checks
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def test_an_rtx_4090_on_the_bus_with_no_driver_loaded_gets_the_install_commands() -> None:
    facts = linux_gpu_box(RTX4090, driver=None, torch="2.13.0+cu130", cuda="13.0")
    [finding] = driver_missing.driver_not_loaded(facts, CTX)
    assert finding.code == "driver.missing"
    assert finding.evidence["PCI"] == "0000:17:00.0 [0x10de:0x2684]"
    assert finding.fix == (
        "# if a driver is already installed, rebuild it for kernel 6.8.0-86-generic: sudo dkms autoinstall && sudo reboot",
        "sudo apt-get update && sudo apt-get install -y nvidia-driver-580",
        "sudo reboot",
    )


def test_without_torch_the_recommended_branch_is_still_named() -> None:
    facts = linux_gpu_box(B200, driver=None, torch=None, distro="Rocky Linux 9.6 (Blue Onyx)")
    [finding] = driver_missing.driver_not_loaded(facts, CTX)
    assert finding.fix == (
        "Install NVIDIA driver 580 or newer (the 580 branch is recommended) from your distribution "
        "or https://www.nvidia.com/Download/index.aspx, then reboot",
    )


def test_nvidia_smi_failing_to_reach_the_driver_in_a_log_yields_the_finding() -> None:
    facts = report(
        (
            "driver.smi-cannot-communicate",
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
            "Make sure that the latest NVIDIA driver is installed and running.",
        )
    )
    assert len(driver_missing.driver_not_loaded(facts, CTX)) == 1


def test_a_machine_with_its_driver_loaded_is_fine() -> None:
    assert driver_missing.driver_not_loaded(linux_gpu_box(RTX4090), CTX) == []


def test_a_machine_without_an_nvidia_gpu_needs_no_driver() -> None:
    assert driver_missing.driver_not_loaded(this_machine(), CTX) == []


# --- each text in its program's own wording (NCCL, Fabric Manager, cuda-python, torchaudio, the dynamic
# loader) or a reporter's, written from the source, not copied from a corpus report


def test_cuda_python_failing_to_dlopen_libcuda_under_wsl_is_the_driver_library_off_the_loader_path() -> None:
    # cuda-python's cuPythonInit: raise RuntimeError('Failed to dlopen libcuda.so')
    text = (
        "$ uname -r\n5.15.167.4-microsoft-standard-WSL2\n"
        ">>> from cuda import cuda; cuda.cuInit(0)\nRuntimeError: Failed to dlopen libcuda.so\n"
    )
    [finding] = run_checks(parse_report(text))
    assert finding.code == "driver.missing"
    assert "/usr/lib/wsl/lib" in finding.title


# --- a container given the GPU's utility capability but not compute: nvidia-smi works, libcuda is missing ------------


def test_a_container_with_utility_but_not_compute_has_no_libcuda() -> None:
    # containerd/nerdctl#1023 (`--gpus capabilities=utility,...`: nvidia-smi works, torch answers False; the answer
    # was capabilities=compute,utility) and the NVIDIA Container Toolkit's Driver Capabilities table
    reports = (
        "$ nerdctl run -it --rm --gpus capabilities=utility,device=GPU-3a23c669 nvidia/cuda:11.0-base bash\n"
        ">>> import torch\n>>> torch.cuda.is_available()\nFalse\n",
        "environment:\n  - NVIDIA_VISIBLE_DEVICES=all\n  - NVIDIA_DRIVER_CAPABILITIES=utility\n"
        "app-1  | AssertionError: Found no NVIDIA driver on your system.\n",
        "nvidia-smi works fine inside the container, but torch.cuda.is_available() returns False\n",
    )
    for text in reports:
        found = run_checks(parse_report(text))
        assert found and found[0].code == "driver.missing", text
        assert "compute" in found[0].title
        assert any("NVIDIA_DRIVER_CAPABILITIES=compute,utility" in step for step in found[0].fix)
        assert "container.no-gpu" not in [f.code for f in found]


def test_capabilities_that_include_compute_are_not_this() -> None:
    text = (
        "environment:\n  - NVIDIA_DRIVER_CAPABILITIES=compute,utility\n"
        "app-1  | AssertionError: Found no NVIDIA driver on your system.\n"
    )
    assert "compute" not in " ".join(f.title for f in run_checks(parse_report(text)))
    text_all = "$ docker run --gpus all -e NVIDIA_DRIVER_CAPABILITIES=all img\nFound no NVIDIA driver on your system\n"
    assert all("lack compute" not in f.title for f in run_checks(parse_report(text_all)))
