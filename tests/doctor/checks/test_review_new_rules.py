"""Reports the rules added on 2026-12-06 must not misread: the same message in another context, stated, and
what the doctor must (not) say first. Texts are written from each message's source, not copied from the corpus."""

from __future__ import annotations

from torchrig._core.errors import UserError
from torchrig.doctor.checks import run_checks
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report


def _findings(text: str) -> list[Finding]:
    try:
        return run_checks(parse_report(text))
    except UserError:  # nothing recognised: no finding either
        return []


def _codes(text: str) -> list[str]:
    return [f.code for f in _findings(text)]


def _sigs(text: str) -> set[str]:
    try:
        return {hit.id for hit in parse_report(text).signatures}
    except UserError:
        return set()


# --- pip's "The conflict is caused by:" lists every party, the consistent ones too (pip factory.py)


def test_a_companion_that_pins_the_torch_the_user_asked_for_is_not_the_conflict() -> None:
    text = (
        "pip install torch==2.3.1 torchvision==0.18.1 xformers==0.0.28\n"
        "ERROR: Cannot install torch==2.3.1, torchvision==0.18.1 and xformers==0.0.28 because these package "
        "versions have conflicting dependencies.\n\n"
        "The conflict is caused by:\n"
        "    The user requested torch==2.3.1\n"
        "    torchvision 0.18.1 depends on torch==2.3.1\n"
        "    xformers 0.0.28 depends on torch==2.4.1\n"
    )
    assert "pip.companion-pins-other-torch" not in _sigs(text)
    assert "torch.companion-mismatch" not in _codes(text)


def test_a_companion_that_pins_another_torch_than_the_user_asked_for_is_the_conflict() -> None:
    text = (
        "ERROR: Cannot install torch==2.3.1 and torchvision==0.19.0 because these package versions have "
        "conflicting dependencies.\n\n"
        "The conflict is caused by:\n"
        "    The user requested torch==2.3.1\n"
        "    torchvision 0.19.0 depends on torch==2.4.0\n"
    )
    assert "pip.companion-pins-other-torch" in _sigs(text)
    # and in pip's other order, the companion first
    swapped = text.replace(
        "    The user requested torch==2.3.1\n    torchvision 0.19.0 depends on torch==2.4.0\n",
        "    torchvision 0.19.0 depends on torch==2.4.0\n    The user requested torch==2.3.1\n",
    )
    assert "pip.companion-pins-other-torch" in _sigs(swapped)


def test_the_same_release_with_a_local_tag_is_not_another_torch() -> None:
    text = (
        "ERROR: ResolutionImpossible\nThe conflict is caused by:\n"
        "    The user requested torch==2.4.0+cu121\n"
        "    torchvision 0.19.0 depends on torch==2.4.0\n"
    )
    assert "pip.companion-pins-other-torch" not in _sigs(text)


# --- torch's stable C ABI (torch/csrc/stable) is used by more than torchvision and torchaudio


def test_an_aotinductor_model_missing_a_stable_abi_symbol_is_not_a_companion_mismatch() -> None:
    # pytorch#146203: "undefined symbol: aoti_torch_device_type_cpu" from an AOTInductor-compiled model.so; the
    # report lists torchvision among its packages, as collect_env does
    text = (
        "Versions of relevant libraries:\n[pip3] torch==2.6.0\n[pip3] torchvision==0.21.0\n\n"
        "RuntimeError: Error in dlopen: /tmp/torchinductor_ada/cwxyz/model.so: undefined symbol: "
        "aoti_torch_device_type_cpu\n"
    )
    assert "torch.companion-mismatch" not in _codes(text)


def test_torchaudio_missing_a_stable_abi_symbol_is_a_companion_mismatch() -> None:
    text = (
        "OSError: /venv/lib/python3.12/site-packages/torchaudio/lib/_torchaudio.so: undefined symbol: "
        "torch_library_impl\n"
    )
    assert _codes(text)[0] == "torch.companion-mismatch"


# --- nvJitLink: JAX and CuPy load the same pip nvidia-* libraries (the symbol alone is not torch's)


def test_a_jax_import_missing_an_nvjitlink_symbol_is_not_torch_failing_to_import() -> None:
    text = (
        "$ pip list | grep -E 'jax|torch'\njax 0.4.30\njaxlib 0.4.30\ntorch 2.3.1\n"
        "RuntimeError: Unable to load cuSPARSE. Is it installed?\n"
        "/venv/lib/python3.11/site-packages/nvidia/cusparse/lib/libcusparse.so.12: undefined symbol: "
        "__nvJitLinkAddData_12_1, version libnvJitLink.so.12\n"
    )
    assert "torch.nvjitlink-undefined-symbol" not in _sigs(text)


def test_torch_importing_cusparse_that_misses_an_nvjitlink_symbol_is_still_read() -> None:
    text = (
        '  File "/venv/lib/python3.11/site-packages/torch/__init__.py", line 237, in <module>\n'
        "ImportError: /venv/lib/python3.11/site-packages/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12: "
        "undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12\n"
    )
    assert _codes(text)[0] == "torch.import-failed"


# --- onnxruntime's "cudaGetDeviceCount() failed" has a cause CUDA_CALL logged first


def test_onnxruntime_in_a_container_whose_driver_is_too_old_is_not_a_container_without_gpus() -> None:
    text = (
        "docker run --gpus all my-ort-image\n"
        "CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version ; GPU=0 ; "
        "expr=cudaGetDeviceCount(&num_devices);\n"
        'Failed to parse provider option "device_id": cudaGetDeviceCount() failed.\n'
    )
    assert _codes(text)[0] != "container.no-gpu"
    # the same in one line, as provider_options_utils.h's Parse prints it (iperov/DeepFaceLive#155: "upd video drivers")
    one_line = (
        'in the container: ProviderOptionsParser::Parse Failed to parse provider option "device_id": CUDA failure '
        "35: CUDA driver version is insufficient for CUDA runtime version ; GPU=2 ; expr=cudaGetDeviceCount(&num_devices);\n"
    )
    assert _codes(one_line)[0] != "container.no-gpu"


# --- prose about the P2P diagnostic: advice is not a result; a GPU that did not fall off the bus


def test_advice_that_nccl_p2p_disable_usually_fixes_it_is_not_the_reporter_s_result() -> None:
    text = (
        "NCCL all_reduce hangs on our 8-GPU node. Someone suggested NCCL_P2P_DISABLE=1 usually fixes this, "
        "I have not tried it yet.\n"
    )
    assert "p2p.disable-avoids-failure" not in _sigs(text)
    assert "p2p.disable-avoids-failure" not in _sigs("Exporting NCCL_P2P_DISABLE=1 should work around it.")
    assert "p2p.disable-avoids-failure" not in _sigs("Maybe it runs with NCCL_P2P_DISABLE=1 set, could you try?")


def test_the_reporter_s_result_with_nccl_p2p_disable_is_still_read() -> None:
    assert "p2p.disable-avoids-failure" in _sigs("With NCCL_P2P_DISABLE=1 the training runs to the end.")


def test_a_gpu_that_did_not_fall_off_the_bus_is_not_a_hardware_fault() -> None:
    text = (
        "RuntimeError: CUDA error: an illegal memory access was encountered\n"
        "dmesg is clean, the GPU did not fall off the bus and nvidia-smi still lists it.\n"
    )
    assert "gpu.fallen-off-bus" not in _sigs(text)
    assert "gpu.hardware-fault" not in _codes(text)
    assert "gpu.fallen-off-bus" in _sigs("Under load my GPU falls off the bus and the machine needs a reboot.")


# --- a launcher's Python warning, where torch got installed and ran


def test_the_webui_launcher_python_warning_does_not_outrank_an_error_from_running_torch() -> None:
    # modules/launch_utils.py warns for any Python but 3.10 and goes on; here torch installed and then ran
    text = (
        "INCOMPATIBLE PYTHON VERSION\n"
        "This program is tested with 3.10.6 Python, but you have 3.11.9.\n"
        "Launching Web UI with arguments:\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    findings = _findings(text)
    assert findings and findings[0].code != "torch.python-unsupported"
    assert "torch.python-unsupported" not in [f.code for f in findings]


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
    assert "cuda.visible-devices" not in _codes(text)


def test_no_new_warning_comes_before_an_error() -> None:
    # run_checks orders by layer first: a suspicion in an early layer must not stand before a proven fault
    text = (
        "INCOMPATIBLE PYTHON VERSION\nThis program is tested with 3.10.6 Python, but you have 3.11.9.\n"
        "OSError: /venv/lib/python3.11/site-packages/torchaudio/lib/_torchaudio.so: undefined symbol: "
        "torch_library_impl\n"
    )
    findings = _findings(text)
    first_error = next(i for i, f in enumerate(findings) if f.severity is Severity.ERROR)
    assert all(f.severity is Severity.ERROR for f in findings[: first_error + 1])


# --- a variant pin elsewhere in the report (an installed torch's freeze line) is not the failing install's


def test_the_failing_install_s_requirement_wins_over_an_earlier_pinned_line() -> None:
    text = (
        "$ pip freeze | grep torch\n"
        "torch==2.6.0+cu124\n"
        "$ pip install torch==2.7.0+cu121 --index-url https://download.pytorch.org/whl/cu121\n"
        "ERROR: Could not find a version that satisfies the requirement torch==2.7.0+cu121 (from versions: none)\n"
        "ERROR: No matching distribution found for torch==2.7.0+cu121\n"
    )
    [first, *_] = _findings(text)
    assert first.code == "torch.no-wheel"
    assert "2.7.0+cu121" in first.title and "2.6.0" not in first.title


# --- a compute-capability minimum stated about a CUDA release is not a package refusing the GPU


def test_a_cuda_release_dropping_old_gpus_is_not_a_package_refusing_the_gpu() -> None:
    text = (
        "GPU: NVIDIA GeForce GTX 1080 Ti\n"
        "CUDA 13.0 no longer supports GPUs below compute capability 7.5, so nvcc fails for sm_61.\n"
        "nvcc fatal : Unsupported gpu architecture 'compute_61'\n"
    )
    assert "gpu.arch-too-old-for-package" not in _codes(text)
    # a package's own refusal still counts (vLLM's setup.py wording)
    refusal = "RuntimeError: GPUs with compute capability below 7.0 are not supported.\n"
    assert _codes(refusal)[0] == "gpu.arch-too-old-for-package"


# --- torchrun's traceback passes through its console script whatever failed


def test_a_user_site_torchrun_in_an_nccl_failure_is_not_blamed_without_a_missing_module() -> None:
    text = (
        "(venv) $ torchrun --nproc_per_node 2 train.py\n"
        "Traceback (most recent call last):\n"
        '  File "/home/ada/.local/bin/torchrun", line 8, in <module>\n'
        "    sys.exit(main())\n"
        "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled cuda error, "
        "NCCL version 2.20.5\n"
    )
    assert "env.mixed-installs" not in _codes(text)
    missing = text.replace(
        "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled cuda error, "
        "NCCL version 2.20.5\n",
        "ModuleNotFoundError: No module named 'mypackage'\n",
    )
    assert _codes(missing)[0] == "env.mixed-installs"


# --- rocBLAS's "Cannot read <file>": the folder it read is the one its message names


def test_a_system_rocblas_missing_its_tensile_file_is_not_made_certain_by_torch_s_path_nearby() -> None:
    # a system rocBLAS (LD_LIBRARY_PATH) read its own folder; torch's bundled folder is only mentioned after it
    text = (
        "rocBLAS error: Cannot read /opt/rocm-5.4.3/lib/rocblas/library/\n"
        "(the folder above is the system's; torch ships "
        "/venv/lib/python3.10/site-packages/torch/lib/rocblas/library/TensileLibrary.dat too)\n"
    )
    findings = [f for f in _findings(text) if f.code == "rocm.gpu-unsupported"]
    assert all(f.severity is Severity.WARNING for f in findings)


# --- "returns False" in words: a condition in advice is not torch's answer


def test_advice_about_is_available_returning_false_is_not_torch_s_answer() -> None:
    assert "torch.cuda-available-false" not in _sigs(
        "If torch.cuda.is_available() returns False, check that the driver is installed.\n"
    )
    assert "torch.cuda-available-false" in _sigs("On this machine torch.cuda.is_available() returns False.\n")


# --- a program's label spelled like pip show's field


def test_a_version_label_is_not_read_from_pip_show_of_another_package() -> None:
    text = (
        "$ cat check.py\n"
        'import torch\nprint("Version:", torch.__version__)\n'
        "$ pip show torchvision\n"
        "Name: torchvision\n"
        "Version: 0.20.1\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    assert parse_report(text).torch.version != "0.20.1"


# --- torch's own capability warning is proof about torch's build, whatever the tables say of its variants


def test_torch_s_own_too_old_warning_keeps_the_missing_kernel_on_torch_not_an_extension() -> None:
    # torch/cuda/__init__.py _check_capability compares the GPU with torch.cuda.get_arch_list(): a build from
    # another channel (conda-forge, a custom build) may lack what every PyPI variant of the release has
    text = (
        "torch 2.5.1\n"
        "UserWarning: Found GPU0 NVIDIA GeForce GTX 1080 Ti which is of cuda capability 6.1.\n"
        "    PyTorch no longer supports this GPU because it is too old.\n"
        "    The minimum cuda capability supported by this library is 7.0.\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    codes = _codes(text)
    assert codes and codes[0] == "gpu.arch-unsupported"
    assert "gpu.arch-too-old-for-package" not in codes
