"""The catalogue of machine-fault messages (signatures.toml, the block read from the primary sources).

Each CUDA runtime error (enum cudaError, the text cudaGetErrorString returns), each driver-API name (cuGetErrorName),
torch's own CUDA messages and NCCL's/HIP's results were read for what they prove. The texts below render them the
way other programs wrap them (numba's "Call to cuInit results in ...", llama.cpp's "CUDA error N at file:line",
torch's "CUDA error: ..."), not as any corpus report words them. Three outcomes are asserted:

- a message that alone establishes a machine or environment fault is an error of its code;
- a message its source documents with several causes is a doctor.unexplained warning that says what it can mean
  and leads with the commands that tell the causes apart;
- an error a program causes (out of memory, illegal address, device-side assert) gets no reading at all.
"""

from __future__ import annotations

import pytest

from torchrig.doctor import checks
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report
from torchrig.knowledge import signatures as known


def _findings(text: str) -> list[Finding]:
    return checks.run_checks(parse_report(text))


def _ids(text: str) -> list[str]:
    return [match.signature.id for match in known.find(text)]


# --- errors that establish the cause ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # 46 raised by a call other than cudaGetDeviceCount, in the old and the current wording and by name
        ("CUDA error 46 at ggml-cuda.cu:412: all CUDA-capable devices are busy or unavailable", "cuda.init-failed"),
        ("cudaSetDevice(0) failed: CUDA-capable device(s) is/are busy or unavailable", "cuda.init-failed"),
        (
            "numba.cuda.cudadrv.driver.CudaAPIError: [46] Call to cuCtxCreate results in CUDA_ERROR_DEVICE_UNAVAILABLE",
            "cuda.init-failed",
        ),
        # 102: an unlicensed vGPU
        ("cudaSetDevice() on GPU:0 failed. Status: device doesn't have valid Grid license", "cuda.init-failed"),
        # 805: MPS
        (
            "CUDA error 805 at main.cu:20: MPS client failed to connect to the MPS control daemon or the MPS server",
            "cuda.init-failed",
        ),
        # 802 in its other renderings: the driver-API name, and the number after a CUDA call
        (
            "failed call to cuInit: CUDA_ERROR_SYSTEM_NOT_READY: system not yet initialized",
            "driver.fabric-manager-down",
        ),
        ("cudaGetDeviceCount returned 802 on every H100 of the node", "driver.fabric-manager-down"),
        # torch 2.11's capability warning, and the 209 names
        ("UserWarning: Found GPU1 Tesla K80 which is of compute capability (CC) 3.7.", "gpu.arch-unsupported"),
        ("failed to load module: CUDA_ERROR_NO_BINARY_FOR_GPU", "gpu.arch-unsupported"),
        # NCCL's verbs wrapper
        (
            "gpu7:81:93 [0] misc/ibvwrap.cc:130 NCCL WARN Call to ibv_create_qp failed with error Cannot allocate memory",
            "nccl.transport-failed",
        ),
    ],
)
def test_a_message_that_establishes_the_fault_is_its_codes_error(text: str, code: str) -> None:
    first = _findings(text + "\n")[0]
    assert (first.code, first.severity) == (code, Severity.ERROR)


def test_no_device_by_its_driver_api_name_is_an_error_where_the_gpu_is_shown() -> None:
    # 100 proves a fault only beside an NVIDIA GPU: on a machine without one it is CUDA's expected answer
    line = "jaxlib: failed call to cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected\n"
    alone = _findings(line)[0]
    assert (alone.code, alone.severity) == ("cuda.init-failed", Severity.WARNING)
    first = _findings("GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5a1c0d2e-1111-2222-3333-444455556666)\n" + line)[0]
    assert (first.code, first.severity) == ("cuda.init-failed", Severity.ERROR)


def test_torchs_cpu_build_asked_for_a_device_is_the_cpu_build_and_an_error_where_the_gpu_is_shown() -> None:
    line = "RuntimeError: PyTorch was compiled without CUDA support\n"
    assert _findings(line)[0].code == "torch.cpu-only-build"  # a warning: the report does not show a GPU
    first = _findings("GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-5a1c0d2e-1111-2222-3333-444455556666)\n" + line)[0]
    assert (first.code, first.severity) == ("torch.cpu-only-build", Severity.ERROR)


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("RuntimeError: CUDA error: device doesn't have valid Grid license", "license"),
        ("RuntimeError: CUDA error: MPS server is not ready to accept new MPS client requests", "MPS"),
        ("RuntimeError: CUDA error: all CUDA-capable devices are busy or unavailable", "exclusive compute mode"),
    ],
)
def test_cuda_init_failed_names_the_cause_each_error_documents(text: str, cause: str) -> None:
    first = _findings(text + "\n")[0]
    assert first.code == "cuda.init-failed"
    assert cause in first.detail


def test_torchs_new_capability_warning_carries_the_gpus_capability() -> None:
    text = (
        "UserWarning: Found GPU0 NVIDIA GeForce GTX 1080 which is of compute capability (CC) 6.1.\n"
        "The following list shows the CCs this version of PyTorch was built for and the hardware CCs it supports:\n"
        "- 7.5 which supports hardware CC >=7.5,<8.0\n- 8.0 which supports hardware CC >=8.0,<9.0, except {8.7}\n"
    )
    first = _findings(text)[0]
    assert first.code == "gpu.arch-unsupported"
    assert "6.1" in first.title


@pytest.mark.parametrize(
    "text",
    [
        "The access point only speaks 802.11ac; CUDA is fine on this laptop.",  # a standard, no CUDA error
        "ERROR: the search system not yet initialized, retry later",  # the words outside CUDA
        "OSError: [Errno 95] Operation not supported",  # strerror(EOPNOTSUPP), not CUDA's 801
    ],
)
def test_the_same_words_outside_cuda_are_no_hit(text: str) -> None:
    assert not {"cuda.system-not-ready", "cuda.system-not-initialized", "cuda.operation-not-supported"} & set(
        _ids(text)
    )


def test_invalid_device_function_is_not_read_as_an_invalid_device_ordinal() -> None:
    assert "cuda.invalid-device-ordinal" not in _ids("cudaErrorInvalidDeviceFunction: invalid device function")


# --- messages with several causes: a reading, never an error ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "first_step"),
    [
        ("RuntimeError: CUDA error: CUBLAS_STATUS_NOT_INITIALIZED when calling `cublasCreate(handle)`", "nvidia-smi"),
        ("RuntimeError: cuDNN error: CUDNN_STATUS_NOT_INITIALIZED", "nvidia-smi"),
        ("RuntimeError: Unable to find a valid cuDNN algorithm to run convolution", "nvidia-smi"),
        ("RuntimeError: CUDA error: initialization error", "python -c"),
        ("RuntimeError: CUDA error: device kernel image is invalid", "nvidia-smi"),
        ("RuntimeError: CUDA error: PTX JIT compiler library not found", "ldconfig -p | grep nvidia-ptxjitcompiler"),
        ("RuntimeError: CUDA error: the launch timed out and was terminated", "nvidia-smi --query-gpu"),
        ("RuntimeError: CUDA error: peer access is not supported between these two devices", "nvidia-smi topo -p2p r"),
        ("RuntimeError: CUDA error: invalid device ordinal", "nvidia-smi -L"),
        ("RuntimeError: HIP error: no ROCm-capable device is detected", "ls -l /dev/kfd /dev/dri"),
    ],
)
def test_a_message_with_several_causes_is_a_reading_that_leads_with_its_diagnostic(text: str, first_step: str) -> None:
    first = _findings(text + "\n")[0]
    assert (first.code, first.severity) == ("doctor.unexplained", Severity.WARNING)
    assert first.detail.startswith("The message can mean: ")
    assert first.fix[0].startswith(first_step)


def test_a_reading_alone_on_a_line_that_is_no_exception_still_shows_the_failure() -> None:
    first = _findings("cublas returned CUBLAS_STATUS_ALLOC_FAILED while the other job was running\n")[0]
    assert first.code == "doctor.unexplained"
    assert "CUBLAS_STATUS_ALLOC_FAILED" in first.title


def test_a_reading_never_hides_an_error_that_explains_the_failure() -> None:
    text = (
        "RuntimeError: CUDA error: CUBLAS_STATUS_NOT_INITIALIZED when calling `cublasCreate(handle)`\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    codes = [f.code for f in _findings(text)]
    assert codes[0] == "gpu.arch-unsupported"
    assert "doctor.unexplained" not in codes


def test_the_cuda_operation_not_supported_reading_needs_cudas_own_words() -> None:
    assert "cuda.operation-not-supported" in _ids("RuntimeError: CUDA error: operation not supported")


# --- a program's own errors: no row, the generic unexplained finding ---------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "RuntimeError: CUDA error: out of memory",
        "RuntimeError: CUDA error: an illegal memory access was encountered",
        "RuntimeError: CUDA error: device-side assert triggered",
        "RuntimeError: CUDA error: unspecified launch failure",
        "RuntimeError: CUDA error: misaligned address",
    ],
)
def test_an_error_a_program_causes_gets_no_reading_and_no_verdict(text: str) -> None:
    assert _ids(text) == []
    first = _findings(text + "\n")[0]
    assert (first.code, first.severity) == ("doctor.unexplained", Severity.WARNING)
    assert not first.detail.startswith("The message can mean")


def test_every_reading_row_names_the_commands_that_tell_its_causes_apart() -> None:
    readings = [sig for sig in known.signatures() if sig.code == "doctor.unexplained"]
    assert readings
    for sig in readings:
        assert sig.diagnose, sig.id


# --- torch 1.x, RCCL, nvidia-smi and NCCL's own lines -------------------------------------------------------


def test_torch_1x_saying_the_gpu_needs_a_newer_cuda_is_the_build_lacking_its_arch_even_wrapped() -> None:
    text = (
        "Found GPU0 GeForce RTX 3090 which requires CUDA_VERSION >= 11000 to\n work properly, but your PyTorch was "
        "compiled\n with CUDA_VERSION 10020. Please install the correct PyTorch binary\n"
    )
    first = _findings(text)[0]
    assert (first.code, first.severity) == ("gpu.arch-unsupported", Severity.ERROR)


def test_rccls_missing_iommu_pt_warning_is_a_p2p_suspicion_not_a_verdict() -> None:
    line = 'h:77:77 [2] /src/rccl/src/init.cc:120 NCCL WARN Missing "iommu=pt" from kernel command line which can lead to system instablity or hang!\n'
    first = _findings(line)[0]
    assert (first.code, first.severity) == ("gpu.p2p-broken", Severity.WARNING)
    assert "iommu=pt" in first.title
    assert first.fix[0].startswith("NCCL_P2P_DISABLE=1")


def test_nvidia_smi_without_its_nvml_library_is_a_missing_driver() -> None:
    text = "$ nvidia-smi\nNVIDIA-SMI couldn't find libnvidia-ml.so library in your system. Please make sure that the NVIDIA Display Driver is properly installed and present in your system.\n"
    first = _findings(text)[0]
    assert (first.code, first.severity) == ("driver.missing", Severity.ERROR)


def test_nccls_cuda_failure_802_is_the_fabric_manager() -> None:
    text = "n1:55:55 [0] misc/strongstream.cc:53 NCCL WARN Cuda failure 'system not yet initialized'\n"
    assert _findings(text)[0].code == "driver.fabric-manager-down"


@pytest.mark.parametrize(
    ("text", "first_step"),
    [
        ("$ nvidia-smi\nNo devices were found\n", "lspci -nn | grep -i nvidia"),
        (
            "n1:55:55 [0] init.cc:871 NCCL WARN Duplicate GPU detected : rank 3 and rank 0 both on CUDA device 1b000\n",
            "nvidia-smi -L",
        ),
        (
            "RuntimeError: CUDA error: unknown error\nCUDA kernel errors might be asynchronously reported at some other API call\n",
            "sudo dmesg",
        ),
    ],
)
def test_tool_and_nccl_lines_with_several_causes_are_readings(text: str, first_step: str) -> None:
    first = _findings(text)[0]
    assert (first.code, first.severity) == ("doctor.unexplained", Severity.WARNING)
    assert first.fix[0].startswith(first_step)


def test_cudnn_failing_to_load_a_sublibrary_is_a_reading_and_libcuda_among_them_stays_the_missing_driver() -> None:
    text = "Could not load library libcudnn_ops_infer.so.8. Error: libcublasLt.so.11: cannot open shared object file: No such file or directory\n"
    first = _findings(text)[0]
    assert (first.code, first.severity) == ("doctor.unexplained", Severity.WARNING)
    assert first.fix[0].startswith("pip list")
    driver = "Could not load library libcudnn_cnn_infer.so.8. Error: libcuda.so: cannot open shared object file: No such file or directory\n"
    assert _findings(driver)[0].code == "driver.missing"


_LOAD = (
    "RuntimeError: Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. If you "
    "are running on a CPU-only machine, please use torch.load with map_location=torch.device('cpu') to map your "
    "storages to the CPU.\n"
)


def test_torch_load_finding_cuda_unavailable_blames_only_a_cpu_build() -> None:
    assert _findings("torch 2.3.1+cpu\n" + _LOAD)[0].code == "torch.cpu-only-build"
    cuda_build = "PyTorch version: 2.3.1+cu121\nGPU models and configuration: GPU 0: NVIDIA GeForce RTX 3060\n"
    assert "torch.cpu-only-build" not in [f.code for f in _findings(cuda_build + _LOAD)]
    assert _findings(_LOAD)[0].code == "doctor.unexplained"  # a checkpoint saved on a GPU, loaded where none is


@pytest.mark.parametrize(
    "line",
    [
        "RuntimeError: Attempting to deserialize object on CUDA device 3 but torch.cuda.device_count() is 1. Please "
        "use torch.load with map_location to map your storages to an existing device.",
        'RuntimeError: device >= 0 && device < num_gpus INTERNAL ASSERT FAILED at "../aten/src/ATen/cuda/CUDAContext.cpp":50',
        "h:9:9 [1] NCCL WARN Cuda failure 'invalid device ordinal'",
    ],
)
def test_torchs_and_nccls_own_words_for_a_device_index_that_does_not_exist_are_the_101_reading(line: str) -> None:
    assert "cuda.invalid-device-ordinal" in _ids(line)


def test_an_unknown_error_during_a_run_with_torchs_enum_hint_is_a_reading_not_a_failed_initialisation() -> None:
    text = (
        "RuntimeError: CUDA error: unknown error\n"
        "Search for `cudaErrorUnknown' in https://docs.nvidia.com/cuda/cuda-runtime-api/group__CUDART__TYPES.html "
        "for more information.\n"
    )
    first = _findings(text)[0]
    assert (first.code, first.severity) == ("doctor.unexplained", Severity.WARNING)
    init = (
        "UserWarning: CUDA initialization: CUDA unknown error - this may be due to an incorrectly set up environment\n"
    )
    assert _findings(init)[0].code == "cuda.init-failed"
