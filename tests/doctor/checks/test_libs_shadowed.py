"""libs.shadowed: torch must load the CUDA libraries it ships with, not copies from LD_LIBRARY_PATH or the system."""

from __future__ import annotations

from check_facts import H100, RTX4090, SITE, codes_of, findings_of, lib, linux_gpu_box, report

from torchrig.doctor.checks import CheckContext, libs_shadowed
from torchrig.doctor.findings import Severity

CTX = CheckContext()


def _wheel_libs() -> list:
    return [
        lib("libcublas.so.13", f"{SITE}/nvidia/cu13/lib/libcublas.so.13"),
        lib("libnccl.so.2", f"{SITE}/nvidia/nccl/lib/libnccl.so.2"),
        lib("libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05"),  # the driver's: always the system's
    ]


def test_a_cudnn_from_ld_library_path_shadows_the_wheels_copy() -> None:
    facts = linux_gpu_box(RTX4090, env={"LD_LIBRARY_PATH": "/usr/local/cuda/lib64:/opt/cudnn-9.1/lib"})
    facts.torch.loaded_libs = [*_wheel_libs(), lib("libcudnn.so.9", "/opt/cudnn-9.1/lib/libcudnn.so.9")]
    [finding] = libs_shadowed.torch_loads_its_own_libraries(facts, CTX)
    assert finding.severity is Severity.WARNING
    assert finding.title == "torch loads libcudnn.so.9 from outside its own copy"
    assert finding.evidence["libcudnn.so.9 loaded from"] == "/opt/cudnn-9.1/lib/libcudnn.so.9"
    assert finding.fix == ("export LD_LIBRARY_PATH=/usr/local/cuda/lib64",)


def test_a_preloaded_library_is_unset() -> None:
    facts = linux_gpu_box(RTX4090, env={"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libnccl.so.2"})
    facts.torch.loaded_libs = [
        lib("libnccl.so.2", "/usr/lib/x86_64-linux-gnu/libnccl.so.2"),
        lib("libcublas.so.13", f"{SITE}/nvidia/cu13/lib/libcublas.so.13"),
    ]
    [finding] = libs_shadowed.torch_loads_its_own_libraries(facts, CTX)
    assert finding.fix == ("unset LD_PRELOAD",)


def test_the_cudnn_version_error_in_a_log_is_an_error() -> None:
    facts = report(
        (
            "libs.cudnn-version-incompatible",
            "RuntimeError: cuDNN version incompatibility: PyTorch was compiled against (8, 3, 2) but linked against (8, 0, 3)",
        )
    )
    [finding] = libs_shadowed.torch_loads_its_own_libraries(facts, CTX)
    assert finding.severity is Severity.ERROR and finding.fix


def test_libraries_from_the_wheels_own_nvidia_packages_are_fine() -> None:
    facts = linux_gpu_box(RTX4090)
    facts.torch.loaded_libs = [*_wheel_libs(), lib("libcudnn.so.9", f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9")]
    assert libs_shadowed.torch_loads_its_own_libraries(facts, CTX) == []


def test_a_torch_built_into_an_ngc_image_uses_the_system_libraries_by_design() -> None:
    facts = linux_gpu_box(H100, torch="2.5.0a0+e000cf0", cuda="12.6", container="docker")
    facts.torch.location = "/usr/local/lib/python3.10/dist-packages/torch"
    facts.torch.loaded_libs = [
        lib("libcudnn.so.9", "/usr/lib/x86_64-linux-gnu/libcudnn.so.9"),
        lib("libcublas.so.12", "/usr/local/cuda/lib64/libcublas.so.12"),
    ]
    assert libs_shadowed.torch_loads_its_own_libraries(facts, CTX) == []


def test_a_log_naming_the_old_copy_takes_its_directory_off_the_loader_path() -> None:
    # a program that bundles its own CUDA libraries (libtorch in its lib/ folder), run under an old cluster module
    facts = report(
        (
            "libs.cuda-library-lacks-own-symbol",
            "Could not load library libcudnn_cnn_infer.so.8. Error: /opt/apps/cuda/10.2/lib64/libnvrtc.so.10.2: "
            "undefined symbol: nvrtcGetCUBIN",
        )
    )
    [finding] = libs_shadowed.torch_loads_its_own_libraries(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert finding.title == "The program loads libnvrtc.so.10.2 from outside its own copy"
    assert finding.evidence["libnvrtc.so.10.2 loaded from"] == "/opt/apps/cuda/10.2/lib64/libnvrtc.so.10.2"
    assert finding.fix[0].startswith("Remove /opt/apps/cuda/10.2/lib64 from the loader path")


def test_a_named_old_copy_on_ld_library_path_drops_that_entry_only() -> None:
    facts = report(
        (
            "libs.cuda-library-lacks-own-symbol",
            "OSError: /usr/local/cuda-11.0/lib64/libcublasLt.so.11: undefined symbol: cublasLtMatmulAlgoCapGetAttribute",
        )
    )
    facts.system.env["LD_LIBRARY_PATH"] = "/opt/mkl/lib:/usr/local/cuda-11.0/lib64"
    [finding] = libs_shadowed.torch_loads_its_own_libraries(facts, CTX)
    assert finding.fix == ("export LD_LIBRARY_PATH=/opt/mkl/lib",)


# --- libs.shadowed: a cuDNN sub-library of another release, told by glibc's "undefined symbol: ..., version ..." --


def test_system_cudnn_train_beside_the_wheel_s_cnn_infer_is_shadowing() -> None:
    # a note on a YOLO setup in a conda image: the CUDA image's cuDNN 8 in /usr/local/cuda/lib64 came first
    text = (
        "Could not load library libcudnn_cnn_train.so.8. Error: /usr/local/cuda/lib64/libcudnn_cnn_train.so.8: "
        "undefined symbol: _ZN5cudnn3cnn5infer22queryClusterPropertiesERPhS3_, version libcudnn_cnn_infer.so.8\n"
    )
    found = findings_of(text)
    assert found and found[0].code == "libs.shadowed"
    assert found[0].evidence["libcudnn_cnn_train.so.8 loaded from"] == "/usr/local/cuda/lib64/libcudnn_cnn_train.so.8"


def test_a_toolkit_cudnn_exported_in_bashrc_is_shadowing() -> None:
    # a blog post: LD_LIBRARY_PATH exported from the CUDA install guide, torch 2.1 with its own nvidia-cudnn wheel
    text = (
        "Could not load library libcudnn_cnn_train.so.8. Error: /usr/local/cuda-12.1/lib64/libcudnn_cnn_train.so.8:"
        " undefined symbol: _ZN5cudnn3cnn34layerNormFwd_execute_internal_implERKNS_7backend11VariantPackEP11CUstream_"
        "stRNS0_18LayerNormFwdParamsERKNS1_20NormForwardOperationEmb, version libcudnn_cnn_infer.so.8\n"
    )
    assert codes_of(text)[:1] == ["libs.shadowed"]


def test_a_symbol_from_a_sibling_s_version_node_without_cudnn_s_namespace_is_shadowing_too() -> None:
    # written from glibc's format (elf/dl-lookup.c): a plain C name required from a sibling's version node
    text = "OSError: /opt/cudnn/lib/libcudnn_ops_train.so.8: undefined symbol: cudnnSomething, version libcudnn_ops_infer.so.8\n"
    assert codes_of(text)[:1] == ["libs.shadowed"]


def test_an_extension_missing_torch_s_symbol_is_not_a_cuda_library_mix() -> None:
    text = (
        "ImportError: /venv/lib/python3.10/site-packages/flash_attn_2_cuda.cpython-310-x86_64-linux-gnu.so: "
        "undefined symbol: _ZN3c104cuda9SetDeviceEi\n"
    )
    assert "libs.shadowed" not in codes_of(text)
