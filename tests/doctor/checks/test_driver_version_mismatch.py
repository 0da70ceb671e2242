"""driver.version-mismatch: the loaded kernel module and the user-space driver library must be the same version."""

from __future__ import annotations

from check_facts import H100, RTX4090, codes_of, findings_of, linux_gpu_box, report

from torchrig._core.errors import UserError
from torchrig.doctor.checks import CheckContext, driver_version_mismatch
from torchrig.doctor.findings import Severity
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def _first(text: str) -> tuple[str, Severity] | None:
    found = findings_of(text)
    return (found[0].code, found[0].severity) if found else None


def _sigs(text: str) -> set[str]:
    try:
        return {hit.id for hit in parse_report(text).signatures}
    except UserError:
        return set()


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


# --- driver.version-mismatch: TensorFlow/XLA's "kernel version X does not match DSO version Y" ---------------------

# a TensorFlow notebook's log (470.57.2 installed over a loaded 460.56 module), as TF 2.6 prints it
_TF_LOG = (
    "2021-09-13 23:57:29.694668: I tensorflow/stream_executor/cuda/cuda_diagnostics.cc:192] libcuda reported version"
    " is: 470.57.2\n"
    "2021-09-13 23:57:29.694689: I tensorflow/stream_executor/cuda/cuda_diagnostics.cc:196] kernel reported version"
    " is: 460.56.0\n"
    "2021-09-13 23:57:29.694695: E tensorflow/stream_executor/cuda/cuda_diagnostics.cc:306] kernel version 460.56.0"
    " does not match DSO version 470.57.2 -- cannot find working devices in this configuration\n"
)

# XLA as bundled with TF 2.18 / JAX (external/local_xla), a 560 library over a 550 module
_XLA_LOG = (
    "E0000 00:00:1737982351.859580 external/local_xla/xla/stream_executor/cuda/cuda_diagnostics.cc:262] kernel"
    " version 550.120.0 does not match DSO version 560.35.5 -- cannot find working devices in this configuration\n"
)


def test_tensorflow_s_kernel_dso_line_is_a_driver_version_mismatch() -> None:
    found = findings_of(_TF_LOG)
    assert found and found[0].code == "driver.version-mismatch"
    assert found[0].title == "The NVIDIA kernel module (460.56.0) and driver library (470.57.2) are different versions"


def test_xla_s_kernel_dso_line_is_a_driver_version_mismatch() -> None:
    found = findings_of(_XLA_LOG)
    assert found and found[0].code == "driver.version-mismatch"
    assert "550.120.0" in found[0].title and "560.35.5" in found[0].title


def test_matching_versions_or_an_unreadable_kernel_version_are_no_mismatch() -> None:
    same = (
        "I external/local_xla/xla/stream_executor/cuda/cuda_diagnostics.cc:259] kernel version seems to match DSO:"
        " 535.183.1\n"
    )
    assert "driver.version-mismatch" not in codes_of(same)
    # cuda_diagnostics.cc prints the reason in place of a version it could not read: no second number, no mismatch
    unread = (
        "E tensorflow/stream_executor/cuda/cuda_diagnostics.cc:313] kernel version 'PERMISSION_DENIED: could not"
        " open driver version path for reading' does not match DSO version 525.60.13 -- cannot find working devices\n"
    )
    assert "driver.version-mismatch" not in codes_of(unread)


# --- driver.version-mismatch: NVML's message as people write it ---------------------------------------------------


def test_nvml_mismatch_retyped_without_the_slash_or_as_a_link() -> None:
    # rocker-org/ml#28 and hpc-admin-sist/DockerMonitor#42 quote it whole; people also retype it without the slash,
    # or point at the Stack Overflow question named after it
    assert _first("after an apt upgrade nvidia-smi says driver library version mismatch; a reboot fixed it\n") == (
        "driver.version-mismatch",
        Severity.ERROR,
    )
    link = "I hit https://stackoverflow.com/questions/43022843/nvidia-nvml-driver-library-version-mismatch again\n"
    assert "driver.nvml-version-mismatch" in _sigs(link)
