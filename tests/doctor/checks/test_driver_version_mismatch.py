"""driver.version-mismatch: the loaded kernel module and the user-space driver library must be the same version."""

from __future__ import annotations

from check_facts import H100, RTX4090, linux_gpu_box, report

from torchrig.doctor.checks import CheckContext, driver_version_mismatch
from torchrig.doctor.findings import Severity

CTX = CheckContext()


def test_an_upgraded_library_over_the_old_kernel_module_is_a_mismatch_fixed_by_a_reboot() -> None:
    facts = linux_gpu_box(H100, driver="580.95.05")
    facts.driver.userspace = "580.105.08"
    [finding] = driver_version_mismatch.kernel_and_library_differ(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert (
        finding.title == "The NVIDIA kernel module (580.95.05) and driver library (580.105.08) are different versions"
    )
    assert finding.fix[0] == "sudo reboot"
    assert "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia" in finding.fix[2]


def test_nvml_saying_driver_library_version_mismatch_is_enough() -> None:
    facts = linux_gpu_box(RTX4090, driver="570.133.07")
    facts.driver.userspace = None
    facts.driver.nvml_error = "Driver/library version mismatch"
    [finding] = driver_version_mismatch.kernel_and_library_differ(facts, CTX)
    assert finding.evidence["NVML"] == "Driver/library version mismatch"


def test_in_a_container_the_host_must_be_rebooted() -> None:
    facts = linux_gpu_box(H100, driver="580.95.05", container="docker")
    facts.driver.userspace = "580.105.08"
    [finding] = driver_version_mismatch.kernel_and_library_differ(facts, CTX)
    assert finding.fix == ("Reboot the host (the driver was upgraded there and the old kernel module is still loaded)",)


def test_the_kernel_log_line_names_both_versions() -> None:
    facts = report(
        (
            "driver.nvrm-api-mismatch",
            "NVRM: API mismatch: the client has the version 515.48.07, but this kernel module has the version 510.73.05.",
        )
    )
    [finding] = driver_version_mismatch.kernel_and_library_differ(facts, CTX)
    assert finding.title == "The NVIDIA kernel module (510.73.05) and driver library (515.48.07) are different versions"


def test_the_same_version_on_both_sides_is_fine() -> None:
    assert driver_version_mismatch.kernel_and_library_differ(linux_gpu_box(H100), CTX) == []


def test_wsl_has_no_linux_kernel_module_to_compare() -> None:
    facts = linux_gpu_box(RTX4090, driver=None, wsl=True)
    facts.driver.userspace = "581.57"
    assert driver_version_mismatch.kernel_and_library_differ(facts, CTX) == []
