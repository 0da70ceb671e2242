"""CUDA's own error strings, each read as the CUDA Runtime API reference defines the error (enum cudaError).

The texts render the strings cudaGetErrorString / cuGetErrorString print (and the enum names that driver-API
wrappers print), inside the tracebacks and logs torch, llama.cpp-style C++ programs and nvcc-built tools wrap
them in, with values no corpus report has. What is asserted is the code path of `torchrig doctor --report`:
parse_report -> run_checks. Near-misses (the same words in another sense) must not fire.
"""

from __future__ import annotations

import pytest

from torchrig.doctor import checks
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report
from torchrig.knowledge import signatures as known

NVCC_13_2 = """\
$ nvcc --version
nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2026 NVIDIA Corporation
Built on Mon_Mar_02_09:52:23_PM_PST_2026
Cuda compilation tools, release 13.2, V13.2.51
Build cuda_13.2.r13.2/compiler.37434383_0
"""
SMI_580 = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 580.95.05              Driver Version: 580.95.05      CUDA Version: 13.0     |
+-----------------------------------------------------------------------------------------+
"""


def _findings(text: str) -> list[Finding]:
    return checks.run_checks(parse_report(text))


# --- 222: PTX from a newer toolkit than the driver ------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "CUDA error 222 at /src/ggml-cuda.cu:9635: the provided PTX was compiled with an unsupported toolchain.",
        "RuntimeError: CUDA error: the provided PTX was compiled with an unsupported toolchain.",
        "Cuda failure: 222 the provided PTX was compiled with an unsupported toolchain.",
        "failed call to cuModuleLoadData: CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
    ],
)
def test_ptx_from_a_newer_toolkit_is_a_driver_too_old_for_it(line: str) -> None:
    first = _findings(line)[0]
    assert first.code == "driver.too-old"
    assert "PTX" in first.title


def test_the_ptx_finding_names_the_toolkit_and_the_driver_that_toolkit_needs() -> None:
    first = _findings(
        NVCC_13_2 + SMI_580 + "Error in load module: the provided PTX was compiled with an unsupported toolchain."
    )[0]
    assert first.code == "driver.too-old"
    assert first.evidence["CUDA toolkit (nvcc)"] == "13.2"
    assert first.evidence["newest CUDA this driver supports"] == "13.0"
    fix = "\n".join(first.fix)
    assert "595.45.04 or newer" in fix  # CUDA 13.2's own driver: PTX has no minor-version compatibility
    assert "the 595 branch" in fix and "the 580 branch" not in fix
    assert "no newer than 13.0" in fix


def test_a_driver_that_runs_the_nvcc_shown_says_the_ptx_came_from_another_toolkit() -> None:
    nvcc_11_3 = NVCC_13_2.replace("release 13.2, V13.2.51", "release 11.3, V11.3.58")
    smi_11_6 = SMI_580.replace("580.95.05", "510.60.02").replace("CUDA Version: 13.0", "CUDA Version: 11.6")
    first = _findings(
        nvcc_11_3 + smi_11_6 + "cuda failed with error 222 the provided PTX was compiled with an unsupported toolchain"
    )[0]
    assert first.code == "driver.too-old"
    assert "newer toolkit than that nvcc" in str(first.evidence["note"])
    assert "CUDA toolkit (nvcc)" in first.evidence  # shown, but not blamed
    assert not any("11.3 needs driver" in step for step in first.fix)


def test_nvcc_version_output_alone_records_the_toolkit() -> None:
    facts = parse_report(NVCC_13_2)
    assert facts.toolkit.version == "13.2"
    assert facts.toolkit.sources["version"] == "report"


def test_a_cuda_api_needing_a_newer_driver_is_driver_too_old() -> None:
    text = "RuntimeError: CUDA error: API call is not supported in the installed CUDA driver\n"
    assert _findings(text)[0].code == "driver.too-old"


# --- 34: the toolkit's stub libcuda -----------------------------------------------------------------------


def test_the_stub_libcuda_drops_only_the_stubs_directory_from_the_library_path() -> None:
    text = (
        "$ echo $LD_LIBRARY_PATH\n/usr/local/cuda/lib64/stubs:/usr/local/cuda/lib64:/opt/conda/lib\n"
        "RuntimeError: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling "
        "NumCudaDevices() that might have already set an error? Error 34: CUDA driver is a stub library\n"
    )
    findings = _findings(text)
    first = findings[0]
    assert first.code == "libs.shadowed"
    assert "stub libcuda.so" in first.title
    assert first.fix[0] == "export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/opt/conda/lib"
    assert "cuda.init-failed" not in [f.code for f in findings]  # the consequence, folded into the cause


def test_the_stub_libcuda_without_a_library_path_says_where_to_look() -> None:
    first = _findings(
        "numba.cuda.cudadrv.driver.CudaAPIError: [34] Call to cuInit results in CUDA_ERROR_STUB_LIBRARY\n"
    )[0]
    assert first.code == "libs.shadowed"
    assert any("stubs" in step for step in first.fix)


def test_a_stubs_directory_on_the_library_path_without_the_error_is_not_a_finding() -> None:
    text = SMI_580 + "$ echo $LD_LIBRARY_PATH\n/usr/local/cuda/lib64/stubs:/usr/local/cuda/lib64\n"
    assert "libs.shadowed" not in [f.code for f in _findings(text)]  # linking against the stub is its purpose


# --- 214 / 220: hardware --------------------------------------------------------------------------------


def test_an_uncorrectable_ecc_error_is_a_hardware_fault_with_ecc_steps() -> None:
    text = (
        "RuntimeError: CUDA error: uncorrectable ECC error encountered\n"
        "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below "
        "might be incorrect.\n"
    )
    first = _findings(text)[0]
    assert (first.code, first.severity) == ("gpu.hardware-fault", Severity.ERROR)
    assert "ECC" in first.title
    assert first.fix[0].startswith("nvidia-smi -q -d ECC")


def test_an_uncorrectable_nvlink_error_is_a_hardware_fault_with_nvlink_steps() -> None:
    first = _findings("RuntimeError: CUDA error: uncorrectable NVLink error detected during the execution\n")[0]
    assert first.code == "gpu.hardware-fault"
    assert "NVLink" in first.title
    assert any(step.startswith("nvidia-smi nvlink -e") for step in first.fix)


def test_the_ecc_column_of_an_nvidia_smi_table_is_no_fault() -> None:
    table = SMI_580 + (
        "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |\n"
        "|   0  NVIDIA A100-SXM4-80GB          On  |   00000000:07:00.0 Off |                    0 |\n"
    )
    assert "gpu.hardware-fault" not in [f.code for f in _findings(table)]


# --- NVRTC: torch's runtime compiler older than the GPU -----------------------------------------------


def test_nvrtc_rejecting_the_gpu_arch_asks_for_a_build_whose_cuda_knows_it() -> None:
    text = (
        "PyTorch version: 1.7.0+cu110\nIs debug build: False\nCUDA used to build PyTorch: 11.0\n"
        "OS: Ubuntu 20.04.6 LTS (x86_64)\nPython version: 3.8 (64-bit runtime)\n"
        "GPU models and configuration: GPU 0: NVIDIA GeForce RTX 3090\nNvidia driver version: 535.183.01\n\n"
        "RuntimeError: nvrtc: error: invalid value for --gpu-architecture (-arch)\n\nnvrtc compilation failed:\n"
    )
    first = _findings(text)[0]
    assert first.code == "gpu.arch-unsupported"
    assert "NVRTC of CUDA 11.0" in first.title
    install = next(step for step in first.fix if "pip install" in step)
    assert "whl/cu110" not in install  # CUDA 11.0's NVRTC does not know sm_86: not the same build again


def test_nvrtc_rejecting_the_arch_without_a_build_shown_is_still_the_gpu_arch() -> None:
    assert _findings("RuntimeError: nvrtc: error: invalid value for --gpu-architecture (-arch)\n")[0].code == (
        "gpu.arch-unsupported"
    )


# --- the driver's libcuda, NVML in containers, failures that are no Python exception ---------------------


def test_libcuda_that_cannot_be_loaded_is_a_missing_driver() -> None:
    text = "Could not load library libcudnn_cnn_infer.so.8. Error: libcuda.so: cannot open shared object file: No such file or directory\n"
    assert _findings(text)[0].code == "driver.missing"


def test_libcuda_that_cannot_be_loaded_under_wsl_puts_the_wsl_directory_on_the_path() -> None:
    text = (
        "$ uname -a\nLinux DESKTOP-7Q 5.15.167.4-microsoft-standard-WSL2 #1 SMP Tue Nov 5 00:21:55 UTC 2024 x86_64 GNU/Linux\n"
        "OSError: libcuda.so.1: cannot open shared object file: No such file or directory\n"
    )
    facts = parse_report(text)
    assert facts.system.wsl is True
    first = checks.run_checks(facts)[0]
    assert first.code == "driver.missing"
    assert any("LD_LIBRARY_PATH=/usr/lib/wsl/lib" in step for step in first.fix)


def test_a_kernel_that_only_mentions_microsoft_is_not_wsl() -> None:
    facts = parse_report(SMI_580 + "Linux build 6.8.0-1015-azure #17-Ubuntu SMP (Microsoft Azure) x86_64\n")
    assert facts.system.wsl is None


def test_nvml_unknown_error_in_a_container_is_lost_device_access() -> None:
    text = "On the host nvidia-smi works. Inside the docker container, after a day:\n$ nvidia-smi\nFailed to initialize NVML: Unknown Error\n"
    first = _findings(text)[0]
    assert (first.code, first.severity) == ("container.no-gpu", Severity.ERROR)
    assert "cannot open the GPUs it was given" in first.title
    assert any("create-dev-char-symlinks" in step for step in first.fix)
    assert not any("--gpus all" in step for step in first.fix)  # it had them: starting it the same way is no fix


def test_nvml_unknown_error_without_a_container_is_a_failure_not_a_verdict() -> None:
    first = _findings("$ nvidia-smi\nFailed to initialize NVML: Unknown Error\n")[0]
    assert (first.code, first.severity) == ("doctor.unexplained", Severity.WARNING)


@pytest.mark.parametrize(
    "text",
    [
        "[E ProcessGroupNCCL.cpp:475] [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=7, "
        "OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=600000) ran for 600123 milliseconds before timing out.",
        "terminate called after throwing an instance of 'c10::DistBackendError'\n"
        "  what():  [PG ID 0 PG GUID 0(default_pg) Rank 3] NCCL watchdog thread terminated with exception",
    ],
)
def test_an_nccl_failure_without_a_cause_asks_for_nccls_log_and_names_both_kinds_of_cause(text: str) -> None:
    first = _findings(text)[0]
    assert first.code == "doctor.unexplained"
    assert "NCCL_DEBUG=INFO" in first.detail
    assert "peer-to-peer" in first.detail and "probably in the program itself" not in first.detail


# --- Windows: the page file, not the install ---------------------------------------------------------


def test_windows_error_1455_loading_torchs_dlls_is_the_page_file_not_the_vc_runtime() -> None:
    text = (
        '  File "C:\\Users\\me\\envs\\yolo\\lib\\site-packages\\torch\\__init__.py", line 123, in <module>\n'
        "    raise err\n"
        "OSError: [WinError 1455] The paging file is too small for this operation to complete. Error loading "
        '"C:\\Users\\me\\envs\\yolo\\lib\\site-packages\\torch\\lib\\cublas64_12.dll" or one of its dependencies.\n'
    )
    first = _findings(text)[0]
    assert first.code == "torch.import-failed"
    assert "page file" in first.title
    fix = "\n".join(first.fix)
    assert "num_workers" in fix and "VCRedist" not in fix and "reinstall" not in fix.lower()


def test_windows_error_126_loading_torchs_dlls_still_gets_the_vc_runtime() -> None:
    text = (
        "OSError: [WinError 126] The specified module could not be found. Error loading "
        '"C:\\Python312\\Lib\\site-packages\\torch\\lib\\fbgemm.dll" or one of its dependencies.\n'
    )
    first = _findings(text)[0]
    assert "page file" not in first.title
    assert any("VCRedist" in step for step in first.fix)


# --- the reporter's own torch.cuda.is_available() -------------------------------------------------------


def test_is_available_false_on_a_cpu_build_is_the_cpu_build() -> None:
    text = ">>> import torch\n>>> torch.cuda.is_available()\nFalse\n>>> torch.__version__\n'2.3.1+cpu'\n"
    first = _findings(text)[0]
    assert first.code == "torch.cpu-only-build"


def test_is_available_false_on_a_cuda_build_is_not_called_a_cpu_build() -> None:
    text = ">>> import torch\n>>> torch.__version__\n'2.3.1+cu121'\n>>> torch.cuda.is_available()\nFalse\n"
    assert "torch.cpu-only-build" not in [f.code for f in _findings(text)]


def test_is_available_false_alone_is_a_failure_shown_not_refused() -> None:
    first = _findings("print(torch.cuda.is_available())\nFalse\n")[0]
    assert first.code == "doctor.unexplained"
    assert "is_available() answered False" in first.title


def test_collect_envs_is_cuda_available_false_is_no_request_for_cuda() -> None:
    text = "PyTorch version: 2.5.1+cpu\nIs debug build: False\nCUDA used to build PyTorch: None\nIs CUDA available: False\n"
    assert "torch.cpu-only-build" not in [f.code for f in _findings(text)]  # a CPU laptop's collect_env is fine


@pytest.mark.parametrize(
    "line",
    [
        # cudarc's panic_no_lib_found (src/lib.rs), and its 0.11 wording: the driver API is the library "cuda"
        'Unable to dynamically load the "cuda" shared library - searched for library names: ["libcuda.so", '
        '"libcuda64.so"]. Ensure that `LD_LIBRARY_PATH` has the correct path to the installed library.',
        "thread 'main' panicked at src/driver/sys/mod.rs:61:9: Unable to find cuda lib under the names "
        '["cuda", "nvcuda"]. Please open GitHub issue.',
    ],
)
def test_a_rust_program_that_cannot_load_libcuda_looks_for_the_driver_before_installing_one(line: str) -> None:
    first = _findings(line + "\n")[0]
    assert first.code == "driver.missing"
    assert "cannot load the NVIDIA driver's libcuda" in first.title
    assert first.fix[0].startswith("ldconfig -p | grep libcuda")
    assert any("/usr/lib/wsl/lib" in step for step in first.fix)
    assert any(step.startswith("Install NVIDIA driver") for step in first.fix)


def test_another_cuda_library_that_cudarc_cannot_load_is_not_the_driver() -> None:
    text = 'Unable to dynamically load the "nvrtc" shared library - searched for library names: ["libnvrtc.so"].\n'
    assert "driver.libcuda-not-found" not in [match.signature.id for match in known.find(text)]


def test_error_803_with_cuda_compat_on_the_library_path_is_the_compat_package_not_a_pending_reboot() -> None:
    text = (
        "$ export LD_LIBRARY_PATH=/usr/local/cuda-12.8/compat:$LD_LIBRARY_PATH\n"
        "$ python -c 'import torch; torch.zeros(1).cuda()'\n"
        "RuntimeError: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling "
        "NumCudaDevices() that might have already set an error? Error 803: system has unsupported display driver / "
        "cuda driver combination\n"
    )
    codes = [finding.code for finding in _findings(text)]
    assert codes[0] == "driver.forward-compat-unsupported"
    assert "driver.version-mismatch" not in codes


def test_error_803_without_cuda_compat_stays_a_driver_version_mismatch() -> None:
    text = "CUDA error: system has unsupported display driver / cuda driver combination\n"
    assert _findings(text)[0].code == "driver.version-mismatch"


def test_libcuda_missing_inside_a_container_first_hands_the_gpus_in() -> None:
    text = (
        "$ docker run -it --rm trainer:latest python train.py\n"
        "OSError: libcuda.so.1: cannot open shared object file: No such file or directory\n"
    )
    first = _findings(text)[0]
    assert first.code == "driver.missing"
    assert "--gpus all" in first.fix[0]
