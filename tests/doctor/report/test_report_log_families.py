"""Message families read from logs, each written from the program that prints it (not from a corpus case).

Every text here is a rendering of the program's own format string (NCCL's WARN/INFO lines, the NVIDIA
driver's NVRM lines, nv-fabricmanager, pip, uv, the HIP runtime, rocminfo, NumPy, CPython), with values
no corpus report has, and the variants the source prints across versions. What is asserted is the code
path of `torchrig doctor --report`: parse_report -> run_checks.
"""

from __future__ import annotations

import pytest

from torchrig.doctor import checks
from torchrig.doctor.report import parse_report


def _codes(text: str) -> list[str]:
    return [f.code for f in checks.run_checks(parse_report(text))]


def _first(text: str) -> str:
    return _codes(text)[0]


# --- NCCL ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        # NCCL <= 2.18: "NET/IB : Got completion with error %d, opcode %d, len %d, vendor err %d"
        "gpu7:5521:5610 [3] transport/net_ib.cc:1295 NCCL WARN NET/IB : Got completion with error 5, opcode 0, "
        "len 32768, vendor err 249",
        # NCCL 2.19+: "NET/IB : Got completion from peer %s with error %d, opcode %d, len %d, vendor err %d ..."
        "gpu7:5521:5610 [3] transport/net_ib.cc:1550 NCCL WARN NET/IB : Got completion from peer 10.1.2.3<41011> "
        "with error 12, opcode 129, len 0, vendor err 129 (Recv) localGid ::ffff:10.1.2.4",
        # NCCL 2.29: "NET/IB: Got completion from peer %s with status=%s(%d) opcode=%s(%d) vendor_err=%u ..."
        "gpu7:5521:5610 [3] transport/net_ib/p2p.cc:688 NCCL WARN NET/IB: Got completion from peer 10.1.2.3<41011> "
        "with status=IBV_WC_RETRY_EXC_ERR(12) opcode=IBV_WC_SEND(0) vendor_err=129 hca mlx5_0",
    ],
)
def test_an_infiniband_completion_error_in_any_nccl_version_is_a_transport_failure(line: str) -> None:
    findings = checks.run_checks(parse_report(line))
    assert findings[0].code == "nccl.transport-failed"
    assert any("NCCL_IB_DISABLE=1" in step for step in findings[0].fix)


@pytest.mark.parametrize(
    "line",
    [
        "n1:77:77 [0] NCCL WARN Bootstrap : no socket interface found",
        "n1:77:90 [0] NCCL WARN NET/Socket : No usable listening interface found",
        "n1:77:90 [0] NCCL WARN NET/Socket : no interface found",
        "n1:77:77 [0] NCCL WARN Net : No interface found in the same subnet as remote address 192.168.7.1<53211>",
    ],
)
def test_no_socket_interface_is_a_transport_failure_with_the_interface_fix(line: str) -> None:
    findings = checks.run_checks(parse_report(line))
    assert findings[0].code == "nccl.transport-failed"
    assert any("NCCL_SOCKET_IFNAME" in step for step in findings[0].fix)


def test_socket_failures_count_only_in_an_nccl_log() -> None:
    line = "Net : Socket creation failed : Address family not supported by protocol"
    assert _first(f"h:1:1 [0] include/socket.h:340 NCCL WARN {line}") == "nccl.transport-failed"
    refused = "h:1:1 [0] NCCL WARN Connect to 10.0.0.2<43125> failed : Connection refused"
    assert _first(refused) == "nccl.transport-failed"
    # the same words from another program are not NCCL's
    other = "redis: Connect to 10.0.0.2<6379> failed : Connection refused\nConnectionError: giving up\n"
    assert "nccl.transport-failed" not in _codes(other)


def test_nccl_info_lines_give_the_variables_it_read() -> None:
    text = (
        "h:1:1 [0] NCCL INFO NCCL_SOCKET_IFNAME set by environment to ib7\n"
        "h:1:1 [0] NCCL INFO NCCL_IB_GID_INDEX set by environment to 5\n"
        "h:1:1 [0] NCCL WARN Bootstrap : no socket interface found\n"
    )
    facts = parse_report(text)
    assert facts.system.env["NCCL_SOCKET_IFNAME"] == "ib7"
    assert facts.system.env["NCCL_IB_GID_INDEX"] == "5"
    (finding, *_) = checks.run_checks(facts)
    assert finding.evidence["NCCL_SOCKET_IFNAME"] == "ib7"
    assert any("'ib7'" in step for step in finding.fix)


def test_torch_missing_an_nccl_symbol_is_an_older_nccl_loaded_first() -> None:
    line = (
        "ImportError: /opt/env/lib/python3.12/site-packages/torch/lib/libtorch_cuda.so: undefined symbol: "
        "ncclCommWindowRegister"
    )
    assert _first(line) == "nccl.version-mismatch"


# --- the NVIDIA driver's kernel log ------------------------------------------------------------------


def test_xid_79_is_a_gpu_fallen_off_the_bus() -> None:
    line = "[ 9001.5] NVRM: Xid (PCI:0000:c1:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n"
    (finding, *_) = checks.run_checks(parse_report(line))
    assert finding.code == "gpu.hardware-fault"
    assert "fallen off the bus" in finding.title


@pytest.mark.parametrize(
    "text",
    [
        "Under load my RTX 4080 fell off the bus and the screen went black.\n",
        "The card keeps falling off the PCIe bus after about an hour of training.\n",
    ],
)
def test_a_gpu_said_in_words_to_fall_off_the_bus_is_xid_79(text: str) -> None:
    # "fallen off the bus" is NVIDIA's name for Xid 79; a reporter keeps the phrase in another tense
    (finding, *_) = checks.run_checks(parse_report(text))
    assert (finding.code, finding.title) == ("gpu.hardware-fault", "A GPU has fallen off the bus")


def test_an_application_xid_is_the_programs_crash_not_a_hardware_fault() -> None:
    line = "[ 77.1] NVRM: Xid (PCI:0000:c1:00): 31, pid=4242, name=python3, Ch 00000008, intr 10000000. MMU Fault\n"
    codes = _codes(line)
    assert "gpu.hardware-fault" not in codes
    assert codes == ["doctor.unexplained"]  # a failure was shown: never an all-clear


def test_every_xid_number_counts_not_only_the_first_line() -> None:
    text = (
        "[ 10.0] NVRM: Xid (PCI:0000:41:00): 13, pid=881, name=train, Graphics SM Warp Exception\n"
        "[ 11.0] NVRM: Xid (PCI:0000:41:00): 13, pid=881, name=train, Graphics Exception: ESR 0x50e648\n"
        "[ 95.0] NVRM: Xid (PCI:0000:41:00): 48, pid=881, name=train, An uncorrectable double bit error\n"
    )
    (finding, *_) = checks.run_checks(parse_report(text))
    assert finding.code == "gpu.hardware-fault"
    assert "Xid 48" in finding.title and "Xid 48" in finding.evidence


def test_the_older_xid_form_without_pci_is_read() -> None:
    line = "NVRM: Xid (0000:03:00): 79, GPU has fallen off the bus.\n"
    assert _first(line) == "gpu.hardware-fault"


def test_nvidia_smi_unable_to_reach_a_listed_gpu_is_a_hardware_fault() -> None:
    line = "Unable to determine the device handle for GPU0000:C1:00.0: Unknown Error\n"
    assert _first(line) == "gpu.hardware-fault"


# --- NVIDIA Fabric Manager ----------------------------------------------------------------------------


def test_fabric_manager_at_another_version_than_the_driver() -> None:
    line = (
        "Jan 02 03:04:05 hgx nv-fabricmanager[2211]: fabric manager NVIDIA GPU driver interface version 570.86.15 "
        "don't match with driver version 570.124.06. Please update with matching NVIDIA driver package.\n"
    )
    assert _first(line) == "driver.fabric-manager-down"


def test_a_failed_fabric_manager_service() -> None:
    text = (
        "Jan 02 03:04:05 hgx systemd[1]: nvidia-fabricmanager.service: Main process exited, code=exited, status=1/FAILURE\n"
        "Jan 02 03:04:05 hgx systemd[1]: Failed to start NVIDIA fabric manager service.\n"
    )
    assert _first(text) == "driver.fabric-manager-down"


# --- pip and uv -----------------------------------------------------------------------------------------


def test_pip_finding_no_torch_is_a_missing_wheel() -> None:
    text = (
        "Looking in indexes: https://mirrors.example.org/simple\n"
        "ERROR: Could not find a version that satisfies the requirement torch==2.6.0 (from versions: none)\n"
        "ERROR: No matching distribution found for torch==2.6.0\n"
    )
    assert _first(text) == "torch.no-wheel"


def test_pip_finding_no_torch_at_all_on_pypi_is_the_python_inferred() -> None:
    # an empty list with no index but PyPI shown leaves the interpreter outside torch 2.6's Pythons
    text = (
        "ERROR: Could not find a version that satisfies the requirement torch==2.6.0 (from versions: none)\n"
        "ERROR: No matching distribution found for torch==2.6.0\n"
    )
    assert _first(text) == "torch.python-unsupported"


def test_pip_finding_no_torch_under_a_python_no_release_supports_names_the_python() -> None:
    text = (
        "$ python --version\nPython 3.8.18\n"
        "ERROR: Could not find a version that satisfies the requirement torch==2.6.0 (from versions: none)\n"
    )
    facts = parse_report(text)
    assert facts.system.python_version == "3.8.18"
    assert checks.run_checks(facts)[0].code == "torch.python-unsupported"


def test_uv_finding_no_torch_wheel_for_the_platform() -> None:
    line = (
        "error: Distribution `torch==2.0.1 @ registry+https://pypi.org/simple` can't be installed because it "
        "doesn't have a source distribution or wheel for the current platform\n"
    )
    assert _first(line) == "torch.no-wheel"


def test_pip_finding_no_other_package_is_not_about_torch() -> None:
    text = "ERROR: Could not find a version that satisfies the requirement tensorflow==2.3 (from versions: none)\n"
    assert "torch.no-wheel" not in _codes(text)


# --- the Python version ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("$ python3 --version\nPython 3.12.4\n", "3.12.4"),
        ("Python 3.10.14 (main, Mar 21 2024, 16:24:04) [GCC 11.2.0] on linux\n>>> import torch\n", "3.10.14"),
        ("Python 3.9.7 (default, Sep 16 2021, 13:09:58)\n[GCC 7.5.0] :: Anaconda, Inc. on linux\n", "3.9.7"),
        ("Using CPython 3.11.9 interpreter at: /usr/bin/python3.11\n", "3.11.9"),
    ],
)
def test_the_python_version_is_read_where_python_or_uv_print_it(text: str, version: str) -> None:
    facts = parse_report(text + "ImportError: cannot import name 'x' from 'y'\n")
    assert facts.system.python_version == version


def test_a_sentence_naming_python_is_not_a_version_line() -> None:
    """Python's own output is not in it: what the sentence says is recorded as stated, not as printed."""
    facts = parse_report("I use Python 3.12.4 and torch 2.5.\nRuntimeError: No CUDA GPUs are available\n")
    assert facts.system.sources["python_version"] == "stated"
    assert (facts.torch.version, facts.torch.sources["version"]) == ("2.5", "stated")


# --- ROCm ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "hipErrorNoBinaryForGpu: Unable to find code object for all current devices!",
        "RuntimeError: HIP error: invalid device function\nHIP kernel errors might be asynchronously reported",
    ],
)
def test_hip_without_code_for_the_gpu_is_an_unsupported_amd_gpu(line: str) -> None:
    assert _first(line) == "rocm.gpu-unsupported"


def test_torchs_own_rocblas_without_a_tensile_file_for_the_gpu_is_an_unsupported_target() -> None:
    # rocBLAS tensile_host.cpp: "rocBLAS error: Cannot read " << path << ": " << strerror(errno) << " for GPU arch : " ...
    text = (
        "rocBLAS error: Cannot read /srv/venv/lib/python3.11/site-packages/torch/lib/rocblas/library/"
        "TensileLibrary.dat: No such file or directory for GPU arch : gfx1151\n List of available TensileLibrary Files : \n"
    )
    (finding, *_) = checks.run_checks(parse_report(text))
    assert (finding.code, finding.severity.value) == ("rocm.gpu-unsupported", "error")
    assert finding.evidence["GPU target"] == "gfx1151"


def test_a_system_rocblas_missing_its_tensile_file_is_only_probably_an_unsupported_target() -> None:
    # outside torch's bundled copy the folder itself may be the wrong one (rocBLAS#1300: LD_LIBRARY_PATH)
    text = "rocBLAS error: Cannot read /opt/rocm-6.1.2/lib/rocblas/library/TensileLibrary.dat: Illegal seek\n"
    (finding, *_) = checks.run_checks(parse_report(text))
    assert (finding.code, finding.severity.value) == ("rocm.gpu-unsupported", "warning")


def test_hip_failing_to_start_is_a_warning_that_names_both_causes() -> None:
    # c10/hip/HIPFunctions.cpp's warning around HIP's hipErrorInvalidDevice (101): hip::init failed
    text = (
        "/usr/lib/python3/dist-packages/torch/cuda/__init__.py:128: UserWarning: HIP initialization: Unexpected error "
        "from hipGetDeviceCount(). Did you run some cuda functions before calling NumHipDevices() that might have "
        "already set an error? Error 101: hipErrorInvalidDevice (Triggered internally at "
        "/build/c10/hip/HIPFunctions.cpp:110.)\n"
    )
    (finding, *_) = checks.run_checks(parse_report(text))
    assert (finding.code, finding.severity.value) == ("rocm.gpu-unsupported", "warning")
    assert finding.fix[0].startswith("rocminfo")


def test_an_invalid_device_ordinal_is_not_a_failed_hip_start() -> None:
    text = "RuntimeError: HIP error: invalid device ordinal\nhipErrorInvalidDevice raised by hipSetDevice(3)\n"
    assert "rocm.gpu-unsupported" not in _codes(text)


def test_rocminfo_without_access_to_kfd_is_device_access() -> None:
    line = "Unable to open /dev/kfd read-write: No such file or directory\n"
    (finding, *_) = checks.run_checks(parse_report(line))
    assert finding.code == "rocm.device-access"
    assert finding.fix[0].startswith("sudo usermod")


def test_inside_a_container_the_device_fix_passes_the_devices_in() -> None:
    text = "user@box:~$ docker exec -it llm rocminfo\nUnable to open /dev/kfd read-write: Permission denied\n"
    facts = parse_report(text)
    assert facts.system.container == "docker"
    (finding, *_) = checks.run_checks(facts)
    assert finding.code == "rocm.device-access"
    assert "--device=/dev/kfd" in finding.fix[0]


def test_a_docker_word_in_prose_is_not_a_container() -> None:
    facts = parse_report("I do not use docker run here.\nRuntimeError: No CUDA GPUs are available\n")
    assert facts.system.container is None


# --- NumPy, compiled companions, shadowed modules -----------------------------------------------------------


def test_numpy2_warning_about_a_numpy1_module() -> None:
    text = (
        "A module that was compiled using NumPy 1.x cannot be run in\n"
        "NumPy 2.2.6 as it may crash. To support both 1.x and 2.x\n"
        "versions of NumPy, modules must be compiled with NumPy 2.0.\n"
    )
    assert _first(text) == "env.numpy-abi-mismatch"


@pytest.mark.parametrize(
    "line",
    [
        "OSError: /env/lib/python3.11/site-packages/torchaudio/lib/libtorchaudio.so: undefined symbol: "
        "_ZNK5torch8autograd4Node4nameEv",
        "ImportError: /env/lib/python3.9/site-packages/torchvision/_C.so: undefined symbol: _ZN2at4_ops5zeros4callEv",
        "ImportError: dlopen(/env/lib/python3.12/site-packages/torchvision/image.so, 0x0006): Symbol not found: "
        "__ZN3c1017RegisterOperatorsD1Ev",
    ],
)
def test_a_companion_library_missing_a_torch_symbol_was_built_for_another_torch(line: str) -> None:
    assert _first(line) == "torch.companion-mismatch"


def test_a_companion_library_missing_a_symbol_of_another_library_is_not_a_torch_mismatch() -> None:
    line = "ImportError: /env/lib/python3.9/site-packages/torchvision/image.so: undefined symbol: png_set_longjmp_fn"
    assert "torch.companion-mismatch" not in _codes(line)


def test_python_naming_a_stdlib_module_loaded_from_a_project_file_is_shadowing() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3.10/tempfile.py", line 45, in <module>\n'
        "    from random import Random as _Random\n"
        "ImportError: cannot import name 'Random' from 'random' (/srv/app/random.py)\n"
    )
    facts = parse_report(text)
    assert [(s.name, s.path) for s in facts.system.shadowed_modules] == [("random", "/srv/app/random.py")]
    assert checks.run_checks(facts)[0].code == "env.module-shadowed"


def test_an_import_frame_followed_by_a_project_file_of_that_name_is_shadowing() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "C:\\Users\\ana\\proj\\main.py", line 2, in <module>\n'
        "    import numpy as np\n"
        '  File "C:\\Users\\ana\\proj\\numpy.py", line 1, in <module>\n'
        "    np.zeros(3)\n"
        "NameError: name 'np' is not defined\n"
    )
    facts = parse_report(text)
    assert [s.name for s in facts.system.shadowed_modules] == ["numpy"]


def test_modules_from_pythons_own_folders_are_not_shadowed() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/home/u/run.py", line 1, in <module>\n'
        "    import shutil\n"
        '  File "/home/u/.pyenv/versions/3.11.4/lib/python3.11/shutil.py", line 33, in <module>\n'
        "    import bz2\n"
        "ImportError: cannot import name 'x' from 'json' (/opt/conda/Lib/json/__init__.py)\n"
    )
    assert parse_report(text).system.shadowed_modules == []


def test_a_script_named_like_a_stdlib_module_that_nobody_imported_is_not_shadowing() -> None:
    text = 'Traceback (most recent call last):\n  File "/home/u/test.py", line 4, in <module>\n    1 / 0\nZeroDivisionError: division by zero\n'
    assert parse_report(text).system.shadowed_modules == []


def test_a_package_imported_by_a_relative_path_came_from_the_working_directory() -> None:
    # Python 2's REPL: sys.path[0] is '', so a torch/ folder where Python started is imported as "torch/..."
    text = (
        "Traceback (most recent call last):\n"
        '  File "<stdin>", line 1, in <module>\n'
        '  File "torch/__init__.py", line 12, in <module>\n'
        "    from torch._C import *\n"
        "ImportError: No module named _C\n"
    )
    facts = parse_report(text)
    assert [(s.name, s.path) for s in facts.system.shadowed_modules] == [("torch", "torch/__init__.py")]
    first = checks.run_checks(facts)[0]
    assert first.code == "env.module-shadowed" and first.fix[0].startswith("cd ..")


def test_a_script_started_by_a_relative_path_is_not_shadowing() -> None:
    text = 'Traceback (most recent call last):\n  File "numpy.py", line 1, in <module>\n    1 / 0\nZeroDivisionError: division by zero\n'
    assert parse_report(text).system.shadowed_modules == []


def test_a_relative_path_into_site_packages_is_the_installed_module() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "run.py", line 1, in <module>\n'
        "    import torch\n"
        '  File "site-packages\\torch\\__init__.py", line 9, in <module>\n'
        "    raise err\n"
        "OSError: [WinError 126] The specified module could not be found.\n"
    )
    assert parse_report(text).system.shadowed_modules == []


def test_a_partially_initialized_torch_is_a_local_torch_py() -> None:
    line = "AttributeError: partially initialized module 'torch' has no attribute 'x'\nImportError: cannot import name 'nn' from partially initialized module 'torch' (most likely due to a circular import)\n"
    assert _first(line) == "env.module-shadowed"


# --- "no kernel image" in torch's words or a library's ----------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        # a library's kernel launcher: "<Kernel> failed with error code <cudaGetErrorString(status)>"
        "RuntimeError: SamplingFromProbs failed with error code no kernel image is available for execution on the device",
        # a library's CUDA_CALL macro: "CUDA Error: %s (%d) %s: line %d at function %s"
        "CUDA Error: no kernel image is available for execution on the device (209) "
        "/tmp/build/somelib-0.2.0/include/somelib/decode.cuh: line 88 at function cudaLaunchKernel(kernel)",
    ],
)
def test_a_missing_kernel_image_in_a_librarys_words_is_the_librarys(line: str) -> None:
    codes = _codes(line)
    assert codes[0] == "gpu.arch-too-old-for-package"
    assert "gpu.arch-unsupported" not in codes  # nothing shows torch's own build lacks the architecture


def test_a_missing_kernel_image_in_torchs_words_stays_a_question_of_torchs_build() -> None:
    line = "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    assert _first(line) == "gpu.arch-unsupported"


# --- failures -----------------------------------------------------------------------------------------------


def test_an_exception_whose_message_starts_on_the_next_line_is_a_failure_with_that_message() -> None:
    # multiprocessing/spawn.py raises RuntimeError('''\n        An attempt has been made ...''')
    text = (
        "Traceback (most recent call last):\n"
        '  File "<string>", line 1, in <module>\n'
        "RuntimeError: \n"
        "        An attempt has been made to start a new process before the\n"
        "        current process has finished its bootstrapping phase.\n"
    )
    facts = parse_report(text)
    assert facts.failures[0].startswith("RuntimeError: An attempt has been made to start a new process")
    assert _codes(text) == ["doctor.unexplained"]  # the program's idiom, not the machine: a warning


# --- Docker and the NVIDIA Container Toolkit ------------------------------------------------------------------


def test_docker_without_the_container_toolkit_cannot_hand_in_the_gpu() -> None:
    text = (
        "$ docker run --rm --gpus all nvidia/cuda:12.4.1-base-ubuntu22.04 nvidia-smi\n"
        'docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]].\n'
    )
    (finding, *_) = checks.run_checks(parse_report(text))
    assert finding.code == "container.no-gpu"
    assert any("nvidia-container-toolkit" in step for step in finding.fix)


def test_an_image_needing_a_newer_cuda_than_the_host_driver() -> None:
    line = (
        "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=13.0, please update your driver "
        "to a newer version, or use an earlier cuda container: unknown.\n"
    )
    assert _first(line) == "driver.too-old"


def test_the_container_toolkit_finding_no_host_driver() -> None:
    line = "nvidia-container-cli: initialization error: load library failed: libnvidia-ml.so.1: cannot open shared object file: no such file or directory: unknown.\n"
    assert _first(line) == "driver.missing"


# --- CUDA initialisation errors ---------------------------------------------------------------------------------

_UNEXPECTED = (
    "UserWarning: CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions "
    "before calling NumCudaDevices() that might have already set an error? Error {n}: {what} "
    "(Triggered internally at /pytorch/c10/cuda/CUDAFunctions.cpp:109.)\n"
)


def test_error_803_is_a_driver_version_mismatch() -> None:
    line = _UNEXPECTED.format(n=803, what="system has unsupported display driver / cuda driver combination")
    (finding, *_) = checks.run_checks(parse_report(line))
    assert finding.code == "driver.version-mismatch"
    assert "803" in finding.title


def test_error_46_is_a_busy_gpu() -> None:
    line = _UNEXPECTED.format(n=46, what="all CUDA-capable devices are busy or unavailable")
    (finding, *_) = checks.run_checks(parse_report(line))
    assert finding.code == "cuda.init-failed"
    assert any("compute_mode" in step for step in finding.fix)


def test_an_init_error_with_a_number_no_rule_knows_is_still_a_cuda_init_failure() -> None:
    line = _UNEXPECTED.format(n=500, what="named symbol not found")
    assert _first(line) == "cuda.init-failed"


def test_error_802_stays_fabric_manager() -> None:
    line = _UNEXPECTED.format(n=802, what="system not yet initialized")
    assert _first(line) == "driver.fabric-manager-down"


def test_pip_listing_only_newer_builds_of_the_same_cuda_tag_narrows_the_python_down() -> None:
    # pip lists only what this interpreter can install; the cu126 index has 2.6.0+cu126 for Python 3.9-3.13
    # everywhere it has 2.10.0+cu126, so an interpreter that sees only 2.10 is one 2.6 has no wheel for
    text = (
        "Looking in indexes: https://download.pytorch.org/whl/cu126\n"
        "ERROR: Could not find a version that satisfies the requirement torch==2.6.0+cu126 "
        "(from versions: 2.10.0+cu126)\n"
    )
    (finding, *_) = checks.run_checks(parse_report(text))
    assert finding.code == "torch.python-unsupported"
    # the log shows no platform: the range named is the Linux x86_64 wheels', and the finding says so
    assert finding.title.endswith("Python 3.14 (Linux x86_64 wheels: Python 3.9-3.13)")
    assert "does not show the platform" in finding.detail
    assert "not stated" in str(finding.evidence["python"])


def test_pip_listing_older_releases_only_is_not_taken_for_a_python_problem() -> None:
    # every Python the listed releases share is one 2.3 supports: the platform, not the Python, is why
    text = (
        "ERROR: Could not find a version that satisfies the requirement torch==2.3.0 "
        "(from versions: 2.0.0, 2.0.1, 2.1.0, 2.2.0, 2.2.2)\n"
    )
    assert _first(text) == "torch.no-wheel"


def test_uv_names_the_interpreter_it_resolved_for() -> None:
    text = (
        "  × No solution found when resolving dependencies:\n"
        "  ╰─▶ Because torch==2.2.2 has no wheels with a matching Python ABI tag (e.g., `cp313`) and you require "
        "torch==2.2.2, we can conclude that your requirements are unsatisfiable.\n"
        "      hint: You require CPython 3.13 (`cp313`), but we only found wheels for `torch` (v2.2.2) with the "
        "following Python ABI tags: `cp38`, `cp39`, `cp310`, `cp311`, `cp312`\n"
    )
    facts = parse_report(text)
    assert facts.system.python_version == "3.13"
    (finding, *_) = checks.run_checks(facts)
    assert finding.code == "torch.python-unsupported"


# --- an interactive session's answers ---------------------------------------------------------------------------


def test_torch_answers_in_a_python_session_are_facts_and_the_last_answer_is_the_present() -> None:
    text = (
        ">>> import torch\n>>> torch.__version__\n'2.4.1+cu121'\n>>> torch.cuda.is_available()\nTrue\n"
        "$ pip install -U torch\n"
        ">>> import torch, torchvision\n>>> print(torch.__version__)\n2.5.1+cpu\n"
        ">>> print(torchvision.__version__)\n0.20.1+cpu\n>>> torch.cuda.is_available()\nFalse\n"
        ">>> torch.version.cuda\n>>> \n"
    )
    facts = parse_report(text)
    assert (facts.torch.version, facts.torch.cuda_available) == ("2.5.1+cpu", False)
    assert facts.companion("torchvision").version == "0.20.1+cpu"  # type: ignore[union-attr]


def test_ipython_answers_are_read_too() -> None:
    text = "In [1]: import torch\n\nIn [2]: torch.version.cuda\nOut[2]: '12.8'\n\nIn [3]: torch.__version__\nOut[3]: '2.8.0+cu128'\n"
    facts = parse_report(text)
    assert (facts.torch.version, facts.torch.cuda) == ("2.8.0+cu128", "12.8")


def test_a_version_in_prose_is_not_an_answer() -> None:
    text = "I think torch.__version__ should be 2.5.1 here.\nRuntimeError: No CUDA GPUs are available\n"
    assert parse_report(text).torch.version is None


# --- no torch at all ---------------------------------------------------------------------------------------------


def test_no_module_named_torch_is_torch_missing_in_that_python() -> None:
    text = "Traceback (most recent call last):\n  File \"train.py\", line 1, in <module>\n    import torch\nModuleNotFoundError: No module named 'torch'\n"
    facts = parse_report(text)
    assert facts.torch.installed is False
    assert _first(text) == "torch.missing"


def test_a_missing_torch_submodule_is_not_a_missing_torch() -> None:
    text = "ModuleNotFoundError: No module named 'torch._C'\n"
    assert parse_report(text).torch.installed is not False


def test_in_a_notebook_the_fix_starts_with_the_kernel() -> None:
    text = (
        "ModuleNotFoundError                       Traceback (most recent call last)\n"
        "Cell In[3], line 1\n----> 1 import torch\n\nModuleNotFoundError: No module named 'torch'\n"
    )
    (finding, *_) = checks.run_checks(parse_report(text))
    assert finding.code == "torch.missing"
    assert any("ipykernel install" in step for step in finding.fix)


# --- pip swapping torch for a companion's pin --------------------------------------------------------------------


def test_pip_replacing_torch_to_install_a_companion_is_a_companion_mismatch() -> None:
    text = (
        "$ pip install -U torchaudio\n"
        "Installing collected packages: nvidia-nccl-cu12, torch, torchaudio\n"
        "  Attempting uninstall: torch\n"
        "    Found existing installation: torch 2.6.0+cu126\n"
        "    Uninstalling torch-2.6.0+cu126:\n"
        "      Successfully uninstalled torch-2.6.0+cu126\n"
        "Successfully installed nvidia-nccl-cu12-2.27.3 torch-2.8.0 torchaudio-2.8.0\n"
    )
    facts = parse_report(text)
    assert facts.torch.version == "2.8.0"  # what pip said last: the present state
    (finding, *_) = checks.run_checks(facts)
    assert finding.code == "torch.companion-mismatch"
    assert "torchaudio" in finding.title
    # the fix keeps the torch that was there, not the one pip swapped in
    assert facts.torch.replaced == "2.6.0+cu126"
    assert finding.fix[0].startswith("python -m pip install torch==2.6.0+cu126 torchaudio")
    assert not any("torch==2.8.0" in step for step in finding.fix)


def test_pip_upgrading_torch_itself_is_not_a_companion_mismatch() -> None:
    text = (
        "Installing collected packages: torch\n  Attempting uninstall: torch\n"
        "    Found existing installation: torch 2.6.0\n      Successfully uninstalled torch-2.6.0\n"
        "Successfully installed torch-2.7.1\n"
    )
    assert "torch.companion-mismatch" not in [f.code for f in checks.run_checks(parse_report(text))]


# --- torch's DLLs on Windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "OSError: [WinError 126] The specified module could not be found. Error loading "
        '"D:\\envs\\sd\\lib\\site-packages\\torch\\lib\\c10.dll" or one of its dependencies.',
        "OSError: [WinError 1114] A dynamic link library (DLL) initialization routine failed. Error loading "
        '"C:\\Users\\me\\venv\\Lib\\site-packages\\torch\\lib\\shm.dll" or one of its dependencies.',
        'File "C:\\Python39\\lib\\site-packages\\torch\\__init__.py", line 81, in <module>\n'
        "    from torch._C import *\nImportError: DLL load failed while importing _C: The specified module could not be found.",
    ],
)
def test_a_torch_dll_that_does_not_load_is_an_import_failure_with_the_vc_runtime_fix(line: str) -> None:
    (finding, *_) = checks.run_checks(parse_report(line))
    assert finding.code == "torch.import-failed"
    assert any("VCRedist" in step for step in finding.fix)


def test_torch_finding_no_driver_is_driver_missing_without_claiming_a_gpu() -> None:
    line = (
        "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and "
        "installed a driver from http://www.nvidia.com/Download/index.aspx\n"
    )
    (finding, *_) = checks.run_checks(parse_report(line))
    assert finding.code == "driver.missing" and finding.severity.value == "warning"
    assert "shows no NVIDIA GPU" in finding.title


def test_torch_missing_a_cuda_library_function_names_that_library() -> None:
    line = (
        "OSError: /env/lib/python3.10/site-packages/torch/lib/libtorch_cuda.so: undefined symbol: "
        "cufftXtMakePlanMany, version libcufft.so.11\n"
    )
    (finding, *_) = checks.run_checks(parse_report(line))
    assert finding.code == "torch.import-failed"
    assert "libcufft.so.11" in finding.title


# --- dpkg -l -------------------------------------------------------------------------------------------------


def test_dpkg_gives_the_installed_user_space_driver_and_dmesg_the_loaded_module() -> None:
    text = (
        "ii  libnvidia-compute-550:amd64      550.127.05-0ubuntu0.22.04.1  amd64  NVIDIA libcompute package\n"
        "ii  nvidia-driver-550                550.127.05-0ubuntu0.22.04.1  amd64  NVIDIA driver metapackage\n"
        "rc  nvidia-driver-535                535.183.01-0ubuntu0.22.04.1  amd64  NVIDIA driver metapackage\n"
        "[    5.1] NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.90.07  Fri May 31 09:35:42 UTC 2024\n"
    )
    facts = parse_report(text)
    assert (facts.driver.userspace, facts.driver.kernel_module) == ("550.127.05", "550.90.07")
    assert checks.run_checks(facts)[0].code == "driver.version-mismatch"
