"""Kernel module vs. libcuda as TensorFlow/XLA report it, CUDA libraries shadowed through the loader's path, and
containers started without a GPU, checked on the wording of public reports that are not in the corpus (short
excerpts) and on text written from the primary sources (XLA's cuda_diagnostics.cc, glibc's loader messages,
Docker's compose GPU documentation)."""

from __future__ import annotations

from torchrig._core.errors import UserError
from torchrig.doctor.checks import run_checks
from torchrig.doctor.findings import Finding
from torchrig.doctor.report import parse_report


def _findings(text: str) -> list[Finding]:
    try:
        return run_checks(parse_report(text))
    except UserError:  # nothing recognised: no finding either
        return []


def _codes(text: str) -> list[str]:
    return [f.code for f in _findings(text)]


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
    found = _findings(_TF_LOG)
    assert found and found[0].code == "driver.version-mismatch"
    assert found[0].title == "The NVIDIA kernel module (460.56.0) and driver library (470.57.2) are different versions"


def test_xla_s_kernel_dso_line_is_a_driver_version_mismatch() -> None:
    found = _findings(_XLA_LOG)
    assert found and found[0].code == "driver.version-mismatch"
    assert "550.120.0" in found[0].title and "560.35.5" in found[0].title


def test_matching_versions_or_an_unreadable_kernel_version_are_no_mismatch() -> None:
    same = (
        "I external/local_xla/xla/stream_executor/cuda/cuda_diagnostics.cc:259] kernel version seems to match DSO:"
        " 535.183.1\n"
    )
    assert "driver.version-mismatch" not in _codes(same)
    # cuda_diagnostics.cc prints the reason in place of a version it could not read: no second number, no mismatch
    unread = (
        "E tensorflow/stream_executor/cuda/cuda_diagnostics.cc:313] kernel version 'PERMISSION_DENIED: could not"
        " open driver version path for reading' does not match DSO version 525.60.13 -- cannot find working devices\n"
    )
    assert "driver.version-mismatch" not in _codes(unread)


# --- libs.shadowed: a cuDNN sub-library of another release, told by glibc's "undefined symbol: ..., version ..." --


def test_system_cudnn_train_beside_the_wheel_s_cnn_infer_is_shadowing() -> None:
    # a note on a YOLO setup in a conda image: the CUDA image's cuDNN 8 in /usr/local/cuda/lib64 came first
    text = (
        "Could not load library libcudnn_cnn_train.so.8. Error: /usr/local/cuda/lib64/libcudnn_cnn_train.so.8: "
        "undefined symbol: _ZN5cudnn3cnn5infer22queryClusterPropertiesERPhS3_, version libcudnn_cnn_infer.so.8\n"
    )
    found = _findings(text)
    assert found and found[0].code == "libs.shadowed"
    assert found[0].evidence["libcudnn_cnn_train.so.8 loaded from"] == "/usr/local/cuda/lib64/libcudnn_cnn_train.so.8"


def test_a_toolkit_cudnn_exported_in_bashrc_is_shadowing() -> None:
    # a blog post: LD_LIBRARY_PATH exported from the CUDA install guide, torch 2.1 with its own nvidia-cudnn wheel
    text = (
        "Could not load library libcudnn_cnn_train.so.8. Error: /usr/local/cuda-12.1/lib64/libcudnn_cnn_train.so.8:"
        " undefined symbol: _ZN5cudnn3cnn34layerNormFwd_execute_internal_implERKNS_7backend11VariantPackEP11CUstream_"
        "stRNS0_18LayerNormFwdParamsERKNS1_20NormForwardOperationEmb, version libcudnn_cnn_infer.so.8\n"
    )
    assert _codes(text)[:1] == ["libs.shadowed"]


def test_a_symbol_from_a_sibling_s_version_node_without_cudnn_s_namespace_is_shadowing_too() -> None:
    # written from glibc's format (elf/dl-lookup.c): a plain C name required from a sibling's version node
    text = "OSError: /opt/cudnn/lib/libcudnn_ops_train.so.8: undefined symbol: cudnnSomething, version libcudnn_ops_infer.so.8\n"
    assert _codes(text)[:1] == ["libs.shadowed"]


def test_an_extension_missing_torch_s_symbol_is_not_a_cuda_library_mix() -> None:
    text = (
        "ImportError: /venv/lib/python3.10/site-packages/flash_attn_2_cuda.cpython-310-x86_64-linux-gnu.so: "
        "undefined symbol: _ZN3c104cuda9SetDeviceEi\n"
    )
    assert "libs.shadowed" not in _codes(text)


# --- container.no-gpu: a program run from Docker finds no CUDA, and nothing hands the container a GPU --------------


def test_torch_in_a_docker_container_answering_false_is_a_container_without_gpu() -> None:
    # xinnan-tech/xiaozhi-esp32-server#1166: "inside docker, torch's cuda.is_available() is false"
    text = "## 🐛 问题描述\n进入docker内部，发现torch 的cuda.is_available() 为false。\n"
    found = _findings(text)
    assert found and found[0].code == "container.no-gpu"


def test_a_compose_service_without_a_device_reservation_is_a_container_without_gpu() -> None:
    # written from Docker's "GPU support in Docker Compose": the service below requests no GPU
    text = (
        "services:\n  app:\n    image: myorg/app:latest\n    ports:\n      - 8000:8000\n"
        "$ docker compose up\n"
        "app-1  | /usr/local/lib/python3.11/site-packages/torch/amp/autocast_mode.py:266: UserWarning: User provided "
        "device_type of 'cuda', but CUDA is not available. Disabling\n"
    )
    found = _findings(text)
    assert found and found[0].code == "container.no-gpu"
    assert any("capabilities: [gpu]" in line for line in found[0].fix)


def test_a_compose_service_with_a_gpu_reservation_is_not_this_row() -> None:
    # MaskAnyone/MaskAnyone#61: the reservation was there (its device id was an unexpanded placeholder)
    text = (
        "        resources:\n          reservations:\n            devices:\n              - driver: nvidia\n"
        '                device_ids: ["${MASKANYONE_GPU_ID:-0}"]\n                capabilities: [ gpu ]\n'
        "$ docker compose up\n"
        "sam2-1  | /opt/conda/lib/python3.11/site-packages/torch/amp/autocast_mode.py:266: UserWarning: User provided "
        "device_type of 'cuda', but CUDA is not available. Disabling\n"
    )
    assert "container.docker-said-cuda-unavailable" not in {h.id for h in parse_report(text).signatures}


def test_a_compose_file_with_the_nvidia_runtime_is_not_this_row() -> None:
    # YanWenKun/ComfyUI-Docker#60: runtime: nvidia and a reservation, yet "No CUDA GPUs are available"
    text = (
        "services:\n  comfyui:\n    image: yanwk/comfyui-boot:comfy3d-pt23\n    runtime: nvidia\n"
        "$ docker compose up\nRuntimeError: No CUDA GPUs are available\n"
    )
    assert "container.docker-said-cuda-unavailable" not in {h.id for h in parse_report(text).signatures}


# --- driver.too-old: Ollama's documented driver floors (docs/gpu.mdx, discover/cuda_compat.go) --------------------


def test_ollama_s_own_driver_too_old_warning_is_driver_too_old() -> None:
    # ollama/ollama#16415: five GTX 1070 Ti on driver 535 under Ollama 0.30
    text = (
        'msg="NVIDIA driver too old" device="NVIDIA GeForce GTX 1070 Ti" compute=6.1 driver=535 '
        'required_driver="570 or newer"\n'
        "ggml_cuda_init: failed to initialize CUDA: CUDA driver version is insufficient for CUDA runtime version\n"
    )
    found = _findings(text)
    assert found and found[0].code == "driver.too-old"


def test_a_pascal_gpu_on_driver_535_under_ollama_0_30_is_below_its_documented_570() -> None:
    # the same report in words: Ollama's version, the driver, the GPU
    text = (
        "$ ollama -v\nollama version is 0.30.1\n"
        "GPU: 5x NVIDIA GeForce GTX 1070 Ti, NVIDIA driver 535.230.02\n"
        "Since the update every model runs on the CPU.\n"
    )
    found = _findings(text)
    assert found and found[0].code == "driver.too-old"
    assert found[0].evidence["Ollama's documented minimum driver"].startswith("570")


def test_a_turing_gpu_on_driver_535_is_fine_until_ollama_0_30_11() -> None:
    older = "ollama version is 0.30.2\nGPU: NVIDIA GeForce RTX 2080 Ti, driver 535.230.02\nmodels run on the CPU\n"
    assert "driver.too-old" not in _codes(older)
    newer = "ollama version is 0.31.0\nGPU: NVIDIA GeForce RTX 2080 Ti, driver 535.230.02\nmodels run on the CPU\n"
    assert _codes(newer)[:1] == ["driver.too-old"]


def test_a_new_enough_driver_or_an_older_ollama_is_no_finding() -> None:
    assert "driver.too-old" not in _codes("Ollama 0.32.1 on 2x Tesla P40, driver 580.159.03, runs on the CPU\n")
    assert "driver.too-old" not in _codes("Ollama 0.24.0 on 2x Tesla P40, driver 535.309.01, runs on the CPU\n")


def test_ollama_after_a_driver_upgrade_without_reboot_is_the_mismatch_not_a_floor() -> None:
    # ollama/ollama#15918: Ollama 0.20.6, the new 580 library over the old kernel module
    text = (
        "Ollama version: 0.20.6\nNVIDIA driver updated today (NVML library version: 580.159)\n"
        'nvidia-smi itself fails with "Driver/library version mismatch"\n'
        "ggml_cuda_init: failed to initialize CUDA: forward compatibility was attempted on non supported HW\n"
    )
    assert "driver.too-old" not in _codes(text)[:1]
