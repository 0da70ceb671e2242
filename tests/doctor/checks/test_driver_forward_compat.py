"""driver.forward-compat-unsupported: cuda-compat libraries on a GPU that does not support them fail with Error 804."""

from __future__ import annotations

from check_facts import H100, RTX4090, lib, linux_gpu_box, report

from torchrig.doctor.checks import CheckContext, driver_forward_compat

CTX = CheckContext()
ERROR_804 = (
    "CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling "
    "NumCudaDevices() that might have already set an error? Error 804: forward compatibility was attempted on non supported HW"
)


def test_a_geforce_card_with_cuda_compat_on_the_library_path_gets_error_804() -> None:
    facts = linux_gpu_box(
        RTX4090,
        driver="535.104.05",
        torch="2.6.0+cu124",
        cuda="12.4",
        env={"LD_LIBRARY_PATH": "/usr/local/cuda-12.4/compat:/usr/local/nvidia/lib64"},
    )
    facts.torch.cuda_init_error = ERROR_804
    facts.torch.loaded_libs = [lib("libcuda.so.1", "/usr/local/cuda-12.4/compat/libcuda.so.1")]
    [finding] = driver_forward_compat.compat_libraries_on_unsupported_gpu(facts, CTX)
    assert finding.code == "driver.forward-compat-unsupported"
    assert finding.evidence["libcuda loaded from"] == "/usr/local/cuda-12.4/compat/libcuda.so.1"
    assert finding.fix[:2] == (
        "export LD_LIBRARY_PATH=/usr/local/nvidia/lib64",
        "sudo apt-get remove -y cuda-compat-12-4",
    )
    assert "sudo apt-get update && sudo apt-get install -y nvidia-driver-580" in finding.fix


def test_compat_libraries_loaded_on_a_consumer_card_are_flagged_before_they_fail() -> None:
    facts = linux_gpu_box(RTX4090, driver="535.104.05", torch="2.6.0+cu124", cuda="12.4")
    facts.torch.loaded_libs = [lib("libcuda.so.1", "/usr/local/cuda-12.4/compat/libcuda.so.1")]
    assert len(driver_forward_compat.compat_libraries_on_unsupported_gpu(facts, CTX)) == 1


def test_a_data_centre_gpu_may_use_forward_compatibility() -> None:
    facts = linux_gpu_box(H100, driver="535.104.05", torch="2.13.0+cu130", cuda="13.0")
    facts.torch.loaded_libs = [lib("libcuda.so.1", "/usr/local/cuda-13.0/compat/libcuda.so.1")]
    assert driver_forward_compat.compat_libraries_on_unsupported_gpu(facts, CTX) == []


def test_the_error_line_in_a_log_alone_yields_the_finding() -> None:
    facts = report(("driver.forward-compat-804", "UserWarning: " + ERROR_804))
    [finding] = driver_forward_compat.compat_libraries_on_unsupported_gpu(facts, CTX)
    assert "Error 804" in finding.evidence["report line 3"]
    assert finding.fix  # never empty, even with nothing but the log line


def test_the_system_libcuda_is_fine() -> None:
    facts = linux_gpu_box(RTX4090)
    facts.torch.loaded_libs = [lib("libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05")]
    assert driver_forward_compat.compat_libraries_on_unsupported_gpu(facts, CTX) == []


def test_error_803_naming_cuda_compat_on_a_geforce_says_the_gpu_does_not_support_it() -> None:
    facts = linux_gpu_box(RTX4090, driver="580.95.05", torch="2.8.0+cu128", cuda="12.8")
    facts.signatures = report(
        (
            "driver.compat-libcuda-803",
            "ggml_cuda_init: failed to initialize CUDA: system has unsupported display "
            "driver / cuda driver combination",
        )
    ).signatures
    [finding] = driver_forward_compat.compat_libraries_on_unsupported_gpu(facts, CTX)
    assert finding.title.endswith("on a GPU that does not support them (error 803)")
    assert "error 803" in finding.detail


def test_error_803_naming_cuda_compat_on_a_datacentre_gpu_says_the_package_does_not_fit_the_driver() -> None:
    facts = linux_gpu_box(H100, driver="580.95.05", torch="2.8.0+cu128", cuda="12.8")
    facts.signatures = report(
        ("driver.compat-libcuda-803", "Error 803: system has unsupported display driver")
    ).signatures
    [finding] = driver_forward_compat.compat_libraries_on_unsupported_gpu(facts, CTX)
    assert (
        finding.title
        == "CUDA's forward-compatibility libcuda (cuda-compat) does not fit the installed driver (error 803)"
    )
