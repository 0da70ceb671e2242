"""The driver probe: the kernel module from /proc or /sys, user space from NVML or nvidia-smi."""

from __future__ import annotations

import pytest
from probe_fakes import FakeTree, fake_machine, nvml_fixture, recorded, smi

from torchrig._core.seams.nvml import FakeNvml
from torchrig._core.seams.runner import FakeRunner
from torchrig.doctor.probe import driver


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("version-384.98.txt", "384.98"),
        ("version-525.60.11-open.txt", "525.60.11"),
        ("version-565.57.01-open.txt", "565.57.01"),  # "Open Kernel Module for x86_64" broke other parsers
        ("version-580.173.02.txt", "580.173.02"),
        ("version-jetson-orin-35.3.1.txt", "35.3.1"),
    ],
)
def test_the_kernel_module_version_is_read_from_proc(name: str, version: str) -> None:
    assert driver.parse_proc_version(recorded(f"proc/{name}")) == version


def test_after_an_upgrade_without_reboot_both_halves_are_recorded(tree: FakeTree) -> None:
    tree.write("/proc/driver/nvidia/version", recorded("proc/version-580.173.02.txt"))
    runner = FakeRunner({"nvidia-smi": smi(recorded("nvidia-smi/mismatch-580.178.txt"), returncode=18)})
    facts = driver.probe(fake_machine(tree, nvml=nvml_fixture("version-mismatch.json"), runner=runner), quick=False)
    assert facts.kernel_module == "580.173.02"
    assert facts.sources["kernel_module"] == "/proc"
    assert facts.nvml_error == "Driver/library version mismatch"
    assert facts.sources["nvml_error"] == "nvml"
    assert facts.userspace == "580.178"  # nvidia-smi prints the library's version after the mismatch
    assert facts.sources["userspace"] == "nvidia-smi"
    assert "Driver/library version mismatch" in (facts.smi_error or "")


def test_quick_mode_records_the_mismatch_without_running_nvidia_smi(tree: FakeTree) -> None:
    tree.write("/proc/driver/nvidia/version", recorded("proc/version-580.173.02.txt"))
    runner = FakeRunner({"nvidia-smi": smi(recorded("nvidia-smi/mismatch-580.178.txt"), returncode=18)})
    facts = driver.probe(fake_machine(tree, nvml=nvml_fixture("version-mismatch.json"), runner=runner), quick=True)
    assert runner.calls == []
    assert (facts.kernel_module, facts.nvml_error, facts.userspace) == (
        "580.173.02",
        "Driver/library version mismatch",
        None,
    )


def test_a_healthy_driver_is_read_through_nvml_and_smi_is_not_needed(tree: FakeTree) -> None:
    tree.write("/sys/module/nvidia/version", "470.256.02\n")
    runner = FakeRunner()
    facts = driver.probe(fake_machine(tree, nvml=nvml_fixture("a10g-470.json"), runner=runner), quick=False)
    assert (facts.kernel_module, facts.sources["kernel_module"]) == ("470.256.02", "/sys")
    assert (facts.userspace, facts.cuda_driver_api) == ("470.256.02", "11.4")
    assert facts.sources["userspace"] == "nvml"
    assert runner.calls == []
    assert facts.nvml_error is None and facts.errors == []


def test_wsl_has_no_kernel_module_and_nvml_reports_the_windows_driver(tree: FakeTree) -> None:
    facts = driver.probe(fake_machine(tree, nvml=nvml_fixture("wsl-rtx4070-555.json")), quick=False)
    assert facts.kernel_module is None
    assert (facts.userspace, facts.cuda_driver_api) == ("555.99", "12.5")


def test_when_python_cannot_load_nvml_the_smi_banner_is_the_fallback(tree: FakeTree) -> None:
    runner = FakeRunner({"nvidia-smi": smi(recorded("nvidia-smi/wsl-555.52.01.txt"))})
    facts = driver.probe(fake_machine(tree, runner=runner), quick=False)
    assert facts.nvml_error == "NVML Shared Library Not Found"
    assert (facts.userspace, facts.cuda_driver_api) == ("555.99", "12.5")
    assert facts.sources["userspace"] == "nvidia-smi"
    assert runner.calls == [("nvidia-smi",)]


def test_a_banner_with_cuda_err_leaves_the_cuda_version_unknown(tree: FakeTree) -> None:
    runner = FakeRunner({"nvidia-smi": smi(recorded("nvidia-smi/wsl-545.46-cuda-err.txt"))})
    facts = driver.probe(fake_machine(tree, runner=runner), quick=False)
    assert facts.userspace == "546.80"
    assert facts.cuda_driver_api is None


def test_a_driver_that_does_not_answer_is_recorded_in_smis_words(tree: FakeTree) -> None:
    runner = FakeRunner({"nvidia-smi": smi(recorded("nvidia-smi/no-driver.txt"), returncode=9)})
    nvml = FakeNvml(errors={"init": "Driver Not Loaded"})
    facts = driver.probe(fake_machine(tree, nvml=nvml, runner=runner), quick=False)
    assert facts.nvml_error == "Driver Not Loaded"
    assert facts.smi_error is not None and "couldn't communicate with the NVIDIA driver" in facts.smi_error
    assert facts.userspace is None


def test_no_driver_at_all_is_no_error_of_the_probe(tree: FakeTree) -> None:
    facts = driver.probe(fake_machine(tree), quick=False)  # FakeRunner: nvidia-smi "not found"
    assert (facts.kernel_module, facts.userspace, facts.smi_error) == (None, None, None)
    assert facts.nvml_error == "NVML Shared Library Not Found"
    assert facts.errors == []


def test_an_unrecognised_smi_failure_is_kept_verbatim(tree: FakeTree) -> None:
    runner = FakeRunner({"nvidia-smi": smi("Segmentation fault\n", returncode=-11)})
    facts = driver.probe(fake_machine(tree, runner=runner), quick=False)
    assert facts.smi_error == "nvidia-smi failed (exit status -11): Segmentation fault"


def test_a_garbled_proc_file_is_an_error_not_a_version(tree: FakeTree) -> None:
    tree.write("/proc/driver/nvidia/version", "garbage\n")
    facts = driver.probe(fake_machine(tree), quick=True)
    assert facts.kernel_module is None
    assert "no module version" in facts.errors[0]


def test_nvml_is_shut_down_after_use(tree: FakeTree) -> None:
    nvml = nvml_fixture("a10g-470.json")
    driver.probe(fake_machine(tree, nvml=nvml), quick=True)
    assert nvml.calls[0] == "init" and nvml.calls[-1] == "shutdown"


def test_a_mac_is_not_asked_for_an_nvidia_driver(tree: FakeTree, monkeypatch: pytest.MonkeyPatch) -> None:
    import platform

    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    nvml = nvml_fixture("no-library.json")
    facts = driver.probe(fake_machine(tree, nvml=nvml), quick=False)
    assert (facts.nvml_error, facts.errors, nvml.calls) == (None, [], [])
