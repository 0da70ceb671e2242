"""torchrig doctor end to end on whole fake machines: recorded files, programs and NVML -> gather -> checks.

Each test builds one broken box the way it looks from the inside (``/proc``, ``/sys``, ``/dev``, site-packages,
what ``nvidia-smi``, ``nvcc`` and torch's child print, what NVML answers), runs the real probes and checks on
it, and says which root cause the doctor names first and what its fix must contain. The healthy boxes at the
end are the same kinds of machine with nothing wrong: they get no error.

NVML answers come from tests/fixtures/recorded/nvml/ wherever a recorded machine fits the story; the torch
child's output is written line by line in the format ``_torch_child.py`` prints, with the texts torch really
raises or warns ("Found no NVIDIA driver on your system", "Error 803/804", "found version 11040", "sm_120 is not
compatible", the nvJitLink undefined symbol), as public reports and knowledge/signatures.toml quote them.
"""

from __future__ import annotations

import pytest
from doctor_boxes import (
    PYTHON,
    SITE,
    Box,
    codes,
    cuda_init_fails,
    diagnose,
    fix_text,
    proc_version,
    recorded,
    torch_child,
    wheel_libs,
)
from probe_fakes import FakeTree, nvml_fixture

from torchrig._core.seams.nvml import FakeNvml
from torchrig._core.seams.runner import Completed
from torchrig.doctor.checks import all_codes
from torchrig.doctor.findings import Severity

# --- recorded machines the boxes are built on -------------------------------------------------------


def a10g_box(tree: FakeTree) -> Box:
    """AWS g5 (Kubernetes node in the recording): one A10G, driver 470.256.02, NVML answers everything."""
    box = Box(tree).with_nvml(nvml_fixture("a10g-470.json"))
    return box.gpu_on_bus("0000:00:1e.0", "0x2237", "0x030200").driver(proc_version("470.256.02"))


def a100_box(tree: FakeTree) -> Box:
    """One A100-SXM4-80GB, driver 470.103.01 (CUDA 11.4), MIG disabled."""
    box = Box(tree).with_nvml(nvml_fixture("a100-sxm4-80gb-470.json"))
    return box.gpu_on_bus("0000:94:00.0", "0x20b2", "0x030200").driver(proc_version("470.103.01"))


def rtx5090_box(tree: FakeTree) -> Box:
    """Two RTX 5090 (compute capability 12.0, P2P "GPU not supported"), kernel module 580.173.02.

    The recorded NVML answers no driver version for this box; the driver version comes from /proc.
    """
    box = Box(tree).with_nvml(nvml_fixture("2x-rtx5090-p2p-gns.json"))
    box.gpu_on_bus("0000:01:00.0", "0x2b85").gpu_on_bus("0000:02:00.0", "0x2b85")
    return box.driver(recorded("proc/version-580.173.02.txt"), gpus=2)


def cu118_healthy_child(gpu: str, capability: str, driver: str, devices: int = 1) -> Completed:
    return torch_child(
        "2.5.1+cu118",
        "11.8",
        cudnn="9.1.0",
        nccl="2.21.5",
        devices=[{"name": gpu, "capability": capability, "matmul_ok": True, "conv_ok": True}] * devices,
        libs=wheel_libs(cuda_major="11", driver=driver),
    )


A100_DEVICE = {"name": "NVIDIA A100-SXM4-80GB", "capability": "8.0", "matmul_ok": True, "conv_ok": True}
_DEVICE_COUNT_FAILED = (
    "RuntimeError: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling "
    "NumCudaDevices() that might have already set an error? "
)
ERROR_803 = _DEVICE_COUNT_FAILED + "Error 803: system has unsupported display driver / cuda driver combination"
ERROR_804 = _DEVICE_COUNT_FAILED + "Error 804: forward compatibility was attempted on non supported HW"
NO_DRIVER = (
    "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed "
    "a driver from http://www.nvidia.com/Download/index.aspx"
)

# --- one test per code: the root cause named first, and the fix it prints ---------------------------


def test_a_docker_container_started_without_gpus_is_told_to_pass_the_gpu_in(tree: FakeTree) -> None:
    box = Box(tree).docker()
    box.env["NVIDIA_VISIBLE_DEVICES"] = "all"  # a nvidia/cuda image, run without --gpus
    # the host's PCI bus (sysfs) and its loaded module (/proc/driver) show through; no /dev/nvidia*, no NVML
    box.gpu_on_bus("0000:01:00.0", "0x2684")
    tree.write("/proc/driver/nvidia/version", proc_version("550.54.14"))
    box.torch("2.5.1+cu121", "12.1", torch_child("2.5.1+cu121", "12.1", available=False, init_error=NO_DRIVER))
    first = diagnose(box)[0]
    assert first.code == "container.no-gpu" and first.severity is Severity.ERROR
    assert "docker run --gpus all" in fix_text(first)
    assert "nvidia-ctk runtime configure --runtime=docker" in fix_text(first)


def test_a_gpu_on_the_bus_without_a_loaded_driver_is_told_to_install_one(tree: FakeTree) -> None:
    # an RTX 3090 on the bus; no /proc/driver/nvidia, no libnvidia-ml, no nvidia-smi
    box = Box(tree).gpu_on_bus("0000:01:00.0", "0x2204")
    box.torch("2.5.1+cu121", "12.1", torch_child("2.5.1+cu121", "12.1", available=False, init_error=NO_DRIVER))
    findings = diagnose(box)
    first = findings[0]
    assert first.code == "driver.missing"
    assert "cuda.init-failed" not in codes(findings)  # a consequence, folded into the root cause
    assert any(c.startswith("cuda.init-failed") for c in first.evidence["consequences"])  # type: ignore[union-attr]
    assert "nvidia-driver-" in fix_text(first) and "dkms autoinstall" in fix_text(first)


def test_a_driver_whose_module_was_not_built_for_the_running_kernel_is_told_to_rebuild_or_install(
    tree: FakeTree,
) -> None:
    # the driver's user space is installed (NVML: "Driver Not Loaded", recorded nvidia-smi text), its module is not
    box = Box(tree).gpu_on_bus("0000:01:00.0", "0x2684").with_nvml(FakeNvml(errors={"init": "Driver Not Loaded"}))
    box.nvidia_smi(recorded("nvidia-smi/no-driver.txt"), returncode=9)
    box.torch("2.5.1+cu124", "12.4", torch_child("2.5.1+cu124", "12.4", available=False, init_error=NO_DRIVER))
    first = diagnose(box)[0]
    assert first.code == "driver.missing"
    assert first.evidence["NVML"] == "Driver Not Loaded"
    assert (
        first.fix[0] == "# if a driver is already installed, rebuild it for kernel 6.8.0-45-generic: "
        "sudo dkms autoinstall && sudo reboot"
    )


def test_a_wsl_box_whose_windows_driver_does_not_answer_is_told_to_fix_the_windows_driver(tree: FakeTree) -> None:
    # WSL2 has no PCI bus and no kernel module; the recorded nvidia-smi from /usr/lib/wsl/lib cannot reach the
    # driver. This box used to get no finding at all (fixed in driver_missing).
    box = Box(tree).with_nvml(FakeNvml(errors={"init": "Driver Not Loaded"}))
    box.nvidia_smi(recorded("nvidia-smi/wsl-driver-not-loaded.txt"), returncode=9)
    tree.write("/proc/sys/kernel/osrelease", "5.15.146.1-microsoft-standard-WSL2\n")
    tree.write("/dev/dxg")
    tree.mkdir("/usr/lib/wsl/lib")
    box.torch("2.5.1+cu124", "12.4", torch_child("2.5.1+cu124", "12.4", available=False, init_error=NO_DRIVER))
    first = diagnose(box)[0]
    assert first.code == "driver.missing"
    assert first.title == "WSL cannot reach the NVIDIA driver on Windows"
    assert "wsl --shutdown" in fix_text(first) and "apt-get" not in fix_text(first)


def test_a_kernel_module_older_than_the_driver_library_is_told_to_reboot_or_reload(tree: FakeTree) -> None:
    # recorded together: /proc says 580.173.02, nvidia-smi "Driver/library version mismatch / NVML library 580.178"
    box = Box(tree).gpu_on_bus("0000:01:00.0", "0x2684").driver(recorded("proc/version-580.173.02.txt"))
    box.with_nvml(nvml_fixture("version-mismatch.json"))
    box.nvidia_smi(recorded("nvidia-smi/mismatch-580.178.txt"), returncode=18)
    box.torch(
        "2.8.0+cu128",
        "12.8",
        torch_child(
            "2.8.0+cu128",
            "12.8",
            available=False,
            init_error=ERROR_803,
        ),
    )
    findings = diagnose(box)
    first = findings[0]
    assert first.code == "driver.version-mismatch"
    assert "580.173.02" in first.title and "580.178" in first.title
    assert "sudo reboot" in first.fix
    assert "sudo modprobe nvidia" in fix_text(first)
    assert "cuda.init-failed" not in codes(findings)


@pytest.mark.parametrize(
    ("smi_output", "kernel", "title"),
    [
        (
            "mismatch-570.124.txt",
            "565.57.01",
            "The NVIDIA kernel module (565.57.01) and driver library (570.124) are different versions",
        ),
        # drivers before 510 print no library version: the mismatch is named from NVML's words alone
        ("mismatch-470-no-library-line.txt", "470.141.03", "NVML reports a driver/library version mismatch"),
    ],
)
def test_every_recorded_mismatch_is_named_first(tree: FakeTree, smi_output: str, kernel: str, title: str) -> None:
    box = Box(tree).gpu_on_bus("0000:01:00.0", "0x2204").driver(proc_version(kernel))
    box.with_nvml(nvml_fixture("version-mismatch.json")).nvidia_smi(recorded(f"nvidia-smi/{smi_output}"), 18)
    box.torch(
        "2.5.1+cu118",
        "11.8",
        torch_child(
            "2.5.1+cu118",
            "11.8",
            available=False,
            init_error=ERROR_803,
        ),
    )
    findings = diagnose(box)
    assert (findings[0].code, findings[0].title) == ("driver.version-mismatch", title)
    assert codes(findings) == ["driver.version-mismatch"]  # CUDA's failure is its consequence


def test_a_470_driver_under_a_cuda_12_4_build_is_told_to_upgrade_or_install_a_cuda_11_build(tree: FakeTree) -> None:
    too_old = (
        "The NVIDIA driver on your system is too old (found version 11040). Please update your GPU driver by "
        "downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx"
    )
    box = a10g_box(tree).torch("2.5.1+cu124", "12.4", cuda_init_fails("2.5.1+cu124", "12.4", too_old, line=108))
    findings = diagnose(box)
    first = findings[0]
    assert first.code == "driver.too-old"
    assert "470.256.02" in first.title and "12.4" in first.title
    assert "cuda.init-failed" not in codes(findings)
    fix = fix_text(first)
    assert "nvidia-driver-" in fix  # upgrade the driver...
    assert "https://download.pytorch.org/whl/cu118" in fix  # ...or keep it and install a build it runs


def test_forward_compat_libraries_on_geforce_cards_are_told_to_leave_the_library_path(tree: FakeTree) -> None:
    box = rtx5090_box(tree)
    box.env["LD_LIBRARY_PATH"] = "/usr/local/cuda-13.0/compat:/usr/local/cuda-13.0/lib64"
    libs = {**wheel_libs(cuda_major="13"), "libcuda.so.580.82.07": "/usr/local/cuda-13.0/compat/libcuda.so.580.82.07"}
    libs.pop("libcuda.so.580.173.02")
    box.torch(
        "2.9.1+cu130",
        "13.0",
        torch_child(
            "2.9.1+cu130",
            "13.0",
            available=False,
            libs=libs,
            init_error=ERROR_804,
        ),
    )
    findings = diagnose(box)
    first = findings[0]
    assert first.code == "driver.forward-compat-unsupported"
    assert first.fix[0] == "export LD_LIBRARY_PATH=/usr/local/cuda-13.0/lib64"
    assert "sudo apt-get remove -y cuda-compat-13-0" in first.fix
    assert "cuda.init-failed" not in codes(findings)


def test_cuda_visible_devices_naming_a_second_gpu_on_a_one_gpu_box_is_told_to_unset_it(tree: FakeTree) -> None:
    box = a100_box(tree)
    box.env["CUDA_VISIBLE_DEVICES"] = "1"
    box.torch(
        "2.5.1+cu118",
        "11.8",
        torch_child(
            "2.5.1+cu118",
            "11.8",
            available=False,
            init_error="RuntimeError: No CUDA GPUs are available",
            libs=wheel_libs(cuda_major="11", driver="470.103.01"),
        ),
    )
    findings = diagnose(box)
    first = findings[0]
    assert first.code == "cuda.visible-devices"
    assert "there is no GPU 1 (this machine has 1)" in first.detail
    assert first.fix[0] == "unset CUDA_VISIBLE_DEVICES"
    assert "export CUDA_VISIBLE_DEVICES=0" in fix_text(first)
    assert "cuda.init-failed" not in codes(findings)


def test_cuda_unknown_error_after_suspend_is_told_to_reload_nvidia_uvm(tree: FakeTree) -> None:
    unknown = (
        "CUDA unknown error - this may be due to an incorrectly set up environment, e.g. changing env variable "
        "CUDA_VISIBLE_DEVICES after program start. Setting the available devices to be zero."
    )
    box = a100_box(tree).torch(
        "2.5.1+cu118",
        "11.8",
        cuda_init_fails("2.5.1+cu118", "11.8", unknown, libs=wheel_libs(cuda_major="11", driver="470.103.01")),
    )
    first = diagnose(box)[0]
    assert first.code == "cuda.init-failed"
    assert "CUDA_ERROR_UNKNOWN" in first.detail
    assert first.fix[0] == "sudo modprobe -r nvidia_uvm && sudo modprobe nvidia_uvm"


def test_a_torch_py_in_the_working_directory_is_told_to_be_renamed(tree: FakeTree) -> None:
    box = Box(tree)
    tree.write(f"{box.cwd}/torch.py", "import torch\nprint(torch.randn(3))\n")  # the classic first script
    box.torch("2.13.0+cpu", None, torch_child("2.13.0+cpu", None))
    first = diagnose(box)[0]
    assert first.code == "env.module-shadowed" and first.severity is Severity.ERROR
    assert first.fix == (
        "mv /home/user/project/torch.py /home/user/project/torch_local.py",
        "rm -f /home/user/project/__pycache__/torch.*.pyc",
    )


def test_a_user_site_torch_over_the_venv_torch_is_told_to_uninstall_both_and_install_one(tree: FakeTree) -> None:
    user_site = "/home/user/.local/lib/python3.11/site-packages"
    box = Box(tree, sys_path=("", "/usr/lib/python3.11", user_site, SITE))
    box.torch("2.13.0+cpu", None, None, site=SITE)
    box.torch("2.4.1+cpu", None, torch_child("2.4.1+cpu", None, site=user_site), site=user_site)
    first = diagnose(box)[0]
    assert first.code == "env.mixed-installs"
    assert first.evidence["copies on sys.path"] == [f"{user_site}/torch", f"{SITE}/torch"]
    assert first.fix[:2] == (f"{PYTHON} -m pip uninstall -y torch",) * 2
    assert "# then install exactly one, with pip:" in first.fix


def test_a_gpu_box_without_torch_is_told_the_cuda_build_its_driver_runs(tree: FakeTree) -> None:
    box = a10g_box(tree)
    findings = diagnose(box)
    first = findings[0]
    assert first.code == "torch.missing"
    assert "the CUDA 11.8 build" in first.detail
    assert "--index-url https://download.pytorch.org/whl/cu118" in fix_text(first)
    assert fix_text(first).startswith(f"{PYTHON} -m pip install")
    assert box.programs == {}  # and nothing tried to import a torch that is not there


def test_a_torch_release_without_wheels_for_this_python_is_told_to_make_a_matching_env(
    tree: FakeTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platform

    monkeypatch.setattr(platform, "python_version", lambda: "3.14.1")  # torch 2.5 publishes 3.9-3.13 (cp313 on PyPI)
    box = Box(tree).torch("2.5.1+cpu", None, torch_child("2.5.1+cpu", None))
    first = diagnose(box)[0]
    assert first.code == "torch.python-unsupported"
    assert first.title == "torch 2.5 supports Python 3.9-3.13 on Linux x86_64, not 3.14"
    assert first.fix[0] == "uv venv --python 3.13 .venv-torch2.5"


def test_nvjitlink_from_ld_library_path_breaking_the_import_is_told_to_drop_that_path(tree: FakeTree) -> None:
    # the error of https://github.com/pytorch/pytorch/issues/131312 (tests/corpus): cuSPARSE resolves an older
    # libnvJitLink; here the older one is a CUDA 12.1 toolkit's, put first by LD_LIBRARY_PATH
    box = Box(tree)
    box.env["LD_LIBRARY_PATH"] = "/usr/local/cuda-12.1/lib64"
    box.torch(
        "2.5.1+cu124",
        "12.4",
        torch_child(
            "2.5.1+cu124",
            "12.4",
            import_error=f"ImportError: {SITE}/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12: undefined symbol: "
            "__nvJitLinkComplete_12_4, version libnvJitLink.so.12",
        ),
    )
    findings = diagnose(box)
    first = findings[0]
    assert first.code == "torch.import-failed"
    assert first.title == "Importing torch fails (libnvJitLink.so.12)"
    assert first.fix[0] == "unset LD_LIBRARY_PATH"
    assert "--force-reinstall" in fix_text(first) and "whl/cu124" in fix_text(first)


def test_a_cpu_wheel_on_an_a10g_is_told_to_install_the_cuda_build_its_driver_runs(tree: FakeTree) -> None:
    box = a10g_box(tree).torch("2.13.0+cpu", None, torch_child("2.13.0+cpu", None))
    first = diagnose(box)[0]
    assert first.code == "torch.cpu-only-build"
    assert "NVIDIA A10G" in first.title
    assert "https://download.pytorch.org/whl/cu118" in fix_text(first)


def test_a_cuda_12_4_build_on_rtx_5090s_is_told_to_install_a_build_with_sm_120(tree: FakeTree) -> None:
    no_kernel = (
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
        "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace "
        "below might be incorrect."
    )
    sm120 = (
        "UserWarning: NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current "
        "PyTorch installation.\nThe current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_70 sm_75 "
        "sm_80 sm_86 sm_90."
    )
    device = {"name": "NVIDIA GeForce RTX 5090", "capability": "12.0", "error": no_kernel}
    box = rtx5090_box(tree).torch(
        "2.6.0+cu124",
        "12.4",
        torch_child(
            "2.6.0+cu124",
            "12.4",
            devices=[device, device],
            warnings=[sm120],
            libs=wheel_libs(),
        ),
    )
    first = diagnose(box)[0]
    assert first.code == "gpu.arch-unsupported"
    assert "GPU0 NVIDIA GeForce RTX 5090 (compute capability 12.0)" in first.title
    assert "no kernel image" in str(first.evidence["GPU0 smoke test"])
    # the newest build this 580 driver runs that is known to carry sm_120 (2.15's cu132 list is not sourced)
    assert "'torch==2.14.*' --index-url https://download.pytorch.org/whl/cu130" in fix_text(first)


def test_a_torchvision_built_for_another_torch_is_told_the_matching_release(tree: FakeTree) -> None:
    box = a100_box(tree).torch("2.5.1+cu118", "11.8", cu118_healthy_child("NVIDIA A100-SXM4-80GB", "8.0", "470.103.01"))
    box.package("torchvision", "0.19.1+cu118", requires=("numpy", "torch ==2.4.1", "pillow !=8.3.*,>=5.3.0"))
    first = diagnose(box)[0]
    assert first.code == "torch.companion-mismatch"
    assert "torchvision 0.19.1+cu118 requires torch==2.4.1" in str(first.evidence["torchvision"])
    assert "torchvision==0.20" in fix_text(first) and "--no-deps" in fix_text(first)
    assert "https://download.pytorch.org/whl/cu118" in fix_text(first)


def test_flash_attention_2_on_a_titan_v_beside_an_rtx_5880_is_told_to_use_only_the_ada_gpu(tree: FakeTree) -> None:
    # nvidia-smi --query-gpu of a TITAN V (7.0) and an RTX 5880 Ada (8.9) on driver 570.86.15
    # (triton-inference-server/server#8070); no NVML library, so the doctor falls back to nvidia-smi
    box = Box(tree).nvidia_smi(recorded("nvidia-smi/query-titanv-rtx5880.csv"))
    box.driver(proc_version("570.86.15"), gpus=2)
    devices = [
        {"name": "NVIDIA TITAN V", "capability": "7.0", "matmul_ok": True, "conv_ok": True},
        {"name": "NVIDIA RTX 5880 Ada Generation", "capability": "8.9", "matmul_ok": True, "conv_ok": True},
    ]
    box.torch(
        "2.9.1+cu128",
        "12.8",
        torch_child(
            "2.9.1+cu128",
            "12.8",
            devices=devices,
            libs=wheel_libs(cuda_major="12", driver="570.86.15"),
            archs=["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
        ),
    )
    box.package("flash-attn", "2.8.3", requires=("torch", "einops"))
    first = diagnose(box)[0]
    assert first.code == "gpu.arch-too-old-for-package"
    assert first.title == (
        "flash-attn 2.8.3 needs compute capability 8.0+, but GPU0 NVIDIA TITAN V (compute capability 7.0) has less"
    )
    assert first.fix[0] == "export CUDA_VISIBLE_DEVICES=1   # only the GPUs it supports"


def test_flash_attention_3_on_a100s_is_not_refused(tree: FakeTree) -> None:
    # FlashAttention-3 (hopper/, dist flash_attn_3) compiles sm_80 kernels and checks cc major >= 8, though its
    # README still says H100/H800 (extensions.toml); only its FP8 path needs Hopper.
    box = Box(tree).with_nvml(nvml_fixture("8x-a100-sxm4-40gb-450.json"))
    for n in range(8):
        box.gpu_on_bus(f"0000:{7 + n:02x}:00.0", "0x20b0", "0x030200")
    box.driver(proc_version("450.203.03"), gpus=8)
    device = {"name": "A100-SXM4-40GB", "capability": "8.0", "matmul_ok": True, "conv_ok": True}
    box.torch(
        "2.5.1+cu118",
        "11.8",
        torch_child("2.5.1+cu118", "11.8", devices=[device] * 8, libs=wheel_libs(cuda_major="11", driver="450.203.03")),
    )
    box.package("flash-attn-3", "3.0.0b1", requires=("torch", "einops"))
    assert "gpu.arch-too-old-for-package" not in [f.code for f in diagnose(box)]


def test_a_system_cudnn_on_ld_library_path_is_told_to_leave_torchs_own(tree: FakeTree) -> None:
    box = a100_box(tree)
    box.env["LD_LIBRARY_PATH"] = "/usr/local/cuda-11.8/lib64:/opt/intel/lib"
    libs = wheel_libs(cuda_major="11", driver="470.103.01")
    libs["libcudnn.so.9"] = "/usr/local/cuda-11.8/lib64/libcudnn.so.9"  # a cuDNN copied into the toolkit
    box.torch("2.5.1+cu118", "11.8", torch_child("2.5.1+cu118", "11.8", devices=[A100_DEVICE], libs=libs))
    first = diagnose(box)[0]
    assert first.code == "libs.shadowed"
    assert first.evidence["libcudnn.so.9 loaded from"] == "/usr/local/cuda-11.8/lib64/libcudnn.so.9"
    assert first.fix == ("export LD_LIBRARY_PATH=/opt/intel/lib",)


def test_a_cuda_13_toolkit_under_a_cuda_12_8_torch_is_told_to_point_cuda_home_at_a_12_toolkit(
    tree: FakeTree,
) -> None:
    box = rtx5090_box(tree).toolkit("/usr/local/cuda-13.0")
    tree.symlink("/usr/local/cuda", "cuda-13.0")
    box.env["PATH"] = "/usr/local/cuda/bin:" + box.env["PATH"]
    device = {"name": "NVIDIA GeForce RTX 5090", "capability": "12.0", "matmul_ok": True, "conv_ok": True}
    box.torch("2.8.0+cu128", "12.8", torch_child("2.8.0+cu128", "12.8", devices=[device] * 2, libs=wheel_libs()))
    first = diagnose(box)[0]
    assert first.code == "toolkit.mismatch"
    assert first.title == "The CUDA toolkit at /usr/local/cuda is 13.0.88, but torch was built with CUDA 12.8"
    assert first.fix[0] == "sudo apt-get install -y cuda-toolkit-12-8   # from NVIDIA's CUDA apt repository"
    assert first.fix[1] == "export CUDA_HOME=/usr/local/cuda-12.8"


def test_a_runtime_only_cuda_home_is_told_to_point_at_a_toolkit_with_headers(tree: FakeTree) -> None:
    # nvidia/cuda:*-runtime images set CUDA_HOME to a toolkit without headers; a -devel install sits elsewhere
    box = rtx5090_box(tree).toolkit("/usr/local/cuda-13.0", headers=False).toolkit("/opt/cuda-13.0")
    box.env["CUDA_HOME"] = "/usr/local/cuda-13.0"
    device = {"name": "NVIDIA GeForce RTX 5090", "capability": "12.0", "matmul_ok": True, "conv_ok": True}
    box.torch(
        "2.9.1+cu130",
        "13.0",
        torch_child("2.9.1+cu130", "13.0", devices=[device] * 2, libs=wheel_libs(cuda_major="13")),
    )
    first = diagnose(box)[0]
    assert first.code == "toolkit.incomplete-home"
    assert "/usr/local/cuda-13.0, which has no CUDA headers" in first.title
    assert first.fix == ("export CUDA_HOME=/opt/cuda-13.0",)


def test_dockers_64_mib_dev_shm_is_told_to_run_with_a_larger_shm_size(tree: FakeTree) -> None:
    box = a100_box(tree).docker()
    box.shm_bytes = 64 << 20
    box.torch("2.5.1+cu118", "11.8", cu118_healthy_child("NVIDIA A100-SXM4-80GB", "8.0", "470.103.01"))
    first = diagnose(box)[0]
    assert first.code == "shm.too-small"
    assert first.title == "/dev/shm is only 64 MiB"
    assert first.fix == ("docker run --shm-size=16g <image> ...   # or --ipc=host to share the host's /dev/shm",)


def test_an_hgx_a100_without_fabric_manager_is_told_to_start_it_at_the_drivers_version(tree: FakeTree) -> None:
    not_ready = "Error 802: system not yet initialized (Triggered internally at ../c10/cuda/CUDAFunctions.cpp:108.)"
    box = a100_box(tree).torch(
        "2.5.1+cu118",
        "11.8",
        cuda_init_fails("2.5.1+cu118", "11.8", not_ready, libs=wheel_libs(cuda_major="11", driver="470.103.01")),
    )
    tree.write("/etc/os-release", 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\n')
    first = diagnose(box)[0]
    assert first.code == "driver.fabric-manager-down"
    assert "sudo systemctl enable --now nvidia-fabricmanager" in first.fix
    assert any("nvidia-fabricmanager-470=470.103.01-1" in line for line in first.fix)
    assert "cuda.init-failed" not in codes(diagnose(box))  # a consequence, folded into the root cause


def test_numpy_2_under_torch_2_2_is_told_to_pin_numpy_below_2(tree: FakeTree) -> None:
    child = torch_child(
        "2.2.2+cu118", "11.8", devices=[A100_DEVICE], libs=wheel_libs(cuda_major="11", driver="470.103.01")
    )
    box = a100_box(tree).torch("2.2.2+cu118", "11.8", child)
    box.package("numpy", "2.1.3")
    first = diagnose(box)[0]
    assert first.code == "env.numpy-abi-mismatch"
    assert first.title == "NumPy 2 is installed, but torch was built against NumPy 1"
    assert first.fix[0].endswith("-m pip install 'numpy<2'   # the quickest way back")


# Codes no live probe can produce, and why. Every other registered code needs a test above (see LIVE_CASES).
EXEMPT = {
    # NVML's nvmlDeviceGetP2PStatus reports whether P2P is *supported* (ok, chipset/topology/GPU not
    # supported, disabled by regkey), never that it is broken; the doctor runs no peer copy. Broken P2P is
    # proven by `torchrig selftest` (its p2p stage) and recognised in pasted logs (tests/checks, tests/corpus).
    "gpu.p2p-broken": "only provable by a peer copy (torchrig selftest) or a pasted log; NVML reports support only",
    # Emitted when a check itself raises (a torchrig bug), whatever the machine; tests/checks/test_run_checks.py.
    "doctor.check-failed": "a bug in a check, not a property of any machine",
    "doctor.unexplained": "live, the only failures the probes see are torch's own import and CUDA init, which "
    "torch.import-failed and cuda.init-failed own; a program's failure is only in a report",
    "gpu.hardware-fault": "its evidence is the kernel log (Xid lines) or NVML losing a GPU; the doctor reads no dmesg",
    "rocm.device-access": "its evidence is a ROCm process's own error (/dev/kfd); the doctor probes NVIDIA stacks",
    "rocm.gpu-unsupported": "its evidence is a ROCm kernel launch failing; the doctor probes NVIDIA stacks",
    "torch.no-wheel": "its evidence is pip's own resolution error, in a pasted log",
    "nccl.version-mismatch": "its evidence is NCCL's messages from a multi-process job; the doctor runs no collective",
    "nccl.transport-failed": "its evidence is NCCL's messages from a multi-process job; the doctor runs no collective",
    "dataloader.few-workers": "its evidence is a training framework's warning in a program's log; the doctor runs "
    "no training",
}

LIVE_CASES = {
    "container.no-gpu": test_a_docker_container_started_without_gpus_is_told_to_pass_the_gpu_in,
    "driver.missing": test_a_gpu_on_the_bus_without_a_loaded_driver_is_told_to_install_one,
    "driver.version-mismatch": test_a_kernel_module_older_than_the_driver_library_is_told_to_reboot_or_reload,
    "driver.too-old": test_a_470_driver_under_a_cuda_12_4_build_is_told_to_upgrade_or_install_a_cuda_11_build,
    "driver.forward-compat-unsupported": test_forward_compat_libraries_on_geforce_cards_are_told_to_leave_the_library_path,
    "cuda.visible-devices": test_cuda_visible_devices_naming_a_second_gpu_on_a_one_gpu_box_is_told_to_unset_it,
    "cuda.init-failed": test_cuda_unknown_error_after_suspend_is_told_to_reload_nvidia_uvm,
    "env.module-shadowed": test_a_torch_py_in_the_working_directory_is_told_to_be_renamed,
    "env.mixed-installs": test_a_user_site_torch_over_the_venv_torch_is_told_to_uninstall_both_and_install_one,
    "torch.missing": test_a_gpu_box_without_torch_is_told_the_cuda_build_its_driver_runs,
    "torch.python-unsupported": test_a_torch_release_without_wheels_for_this_python_is_told_to_make_a_matching_env,
    "torch.import-failed": test_nvjitlink_from_ld_library_path_breaking_the_import_is_told_to_drop_that_path,
    "torch.cpu-only-build": test_a_cpu_wheel_on_an_a10g_is_told_to_install_the_cuda_build_its_driver_runs,
    "gpu.arch-unsupported": test_a_cuda_12_4_build_on_rtx_5090s_is_told_to_install_a_build_with_sm_120,
    "torch.companion-mismatch": test_a_torchvision_built_for_another_torch_is_told_the_matching_release,
    "gpu.arch-too-old-for-package": test_flash_attention_2_on_a_titan_v_beside_an_rtx_5880_is_told_to_use_only_the_ada_gpu,
    "libs.shadowed": test_a_system_cudnn_on_ld_library_path_is_told_to_leave_torchs_own,
    "toolkit.mismatch": test_a_cuda_13_toolkit_under_a_cuda_12_8_torch_is_told_to_point_cuda_home_at_a_12_toolkit,
    "toolkit.incomplete-home": test_a_runtime_only_cuda_home_is_told_to_point_at_a_toolkit_with_headers,
    "shm.too-small": test_dockers_64_mib_dev_shm_is_told_to_run_with_a_larger_shm_size,
    "driver.fabric-manager-down": test_an_hgx_a100_without_fabric_manager_is_told_to_start_it_at_the_drivers_version,
    "env.numpy-abi-mismatch": test_numpy_2_under_torch_2_2_is_told_to_pin_numpy_below_2,
}


def test_every_registered_code_has_a_live_case_or_a_stated_exemption() -> None:
    registered = set(all_codes())
    missing = sorted(registered - set(LIVE_CASES) - set(EXEMPT))
    assert not missing, f"codes without an end-to-end machine test or an exemption with its reason: {missing}"
    assert not set(LIVE_CASES) & set(EXEMPT)
    assert set(LIVE_CASES) | set(EXEMPT) <= registered  # no case for a code that no longer exists
    assert all(reason.strip() for reason in EXEMPT.values())
    for code, test in LIVE_CASES.items():
        assert test.__name__.startswith("test_") and test.__module__ == __name__, code


# --- the same kinds of machine with nothing wrong: no error ----------------------------------------


def test_a_healthy_a100_with_a_matching_cu118_stack_gets_no_finding(tree: FakeTree) -> None:
    box = a100_box(tree).torch("2.5.1+cu118", "11.8", cu118_healthy_child("NVIDIA A100-SXM4-80GB", "8.0", "470.103.01"))
    box.package("torchvision", "0.20.1+cu118", requires=("numpy", "torch ==2.5.1", "pillow !=8.3.*,>=5.3.0"))
    box.package("nvidia-cudnn-cu11", "9.1.0.70")
    assert diagnose(box) == []


def test_a_healthy_a10g_in_kubernetes_with_the_gpu_passed_in_gets_no_error(tree: FakeTree) -> None:
    box = a10g_box(tree)
    box.env["KUBERNETES_SERVICE_HOST"] = "10.100.0.1"
    box.env["NVIDIA_VISIBLE_DEVICES"] = "GPU-a10g"
    box.torch("2.5.1+cu118", "11.8", cu118_healthy_child("NVIDIA A10G", "8.6", "470.256.02"))
    assert box.facts().system.container == "kubernetes"
    assert diagnose(box) == []


def test_healthy_rtx_5090s_with_a_cu130_build_and_a_cuda_13_toolkit_get_no_finding(tree: FakeTree) -> None:
    box = rtx5090_box(tree).toolkit("/usr/local/cuda-13.0")
    tree.symlink("/usr/local/cuda", "cuda-13.0")
    device = {"name": "NVIDIA GeForce RTX 5090", "capability": "12.0", "matmul_ok": True, "conv_ok": True}
    box.torch(
        "2.9.1+cu130",
        "13.0",
        torch_child("2.9.1+cu130", "13.0", devices=[device] * 2, libs=wheel_libs(cuda_major="13")),
    )
    facts = box.facts()
    assert [(p.a, p.b, p.status) for p in facts.gpus.p2p] == [(0, 1, "not-supported")]  # supported != broken
    assert diagnose(box) == []


def test_a_healthy_wsl_box_on_the_windows_driver_gets_no_finding(tree: FakeTree) -> None:
    # WSL2: no Linux kernel module; NVML reports the Windows driver 555.99, which runs CUDA 12.4 builds
    box = Box(tree).with_nvml(nvml_fixture("wsl-rtx4070-555.json"))
    tree.write("/proc/sys/kernel/osrelease", "5.15.146.1-microsoft-standard-WSL2\n")
    tree.write("/dev/dxg")
    tree.mkdir("/usr/lib/wsl/lib")
    device = {"name": "NVIDIA GeForce RTX 4070", "capability": "8.9", "matmul_ok": True, "conv_ok": True}
    libs = wheel_libs(driver="1")  # WSL maps the Windows driver's libcuda from /usr/lib/wsl/lib
    libs["libcuda.so.1"] = "/usr/lib/wsl/lib/libcuda.so.1"
    box.torch("2.5.1+cu124", "12.4", torch_child("2.5.1+cu124", "12.4", devices=[device], libs=libs))
    facts = box.facts()
    assert facts.system.wsl is True and facts.driver.kernel_module is None
    assert diagnose(box) == []


def test_a_healthy_cpu_only_box_with_a_cuda_13_toolkit_gets_no_finding(tree: FakeTree) -> None:
    # the torchrig development machine: no GPU, no driver, CPU torch 2.13, the CUDA 13.0 toolkit
    box = Box(tree).toolkit("/usr/local/cuda-13.0")
    tree.symlink("/usr/local/cuda", "cuda-13.0")
    box.torch("2.13.0+cpu", None, torch_child("2.13.0+cpu", None))
    assert diagnose(box) == []


def test_a_docker_container_with_the_gpu_passed_in_and_ipc_host_gets_no_finding(tree: FakeTree) -> None:
    box = a100_box(tree).docker()
    box.env["NVIDIA_VISIBLE_DEVICES"] = "all"
    box.torch("2.5.1+cu118", "11.8", cu118_healthy_child("NVIDIA A100-SXM4-80GB", "8.0", "470.103.01"))
    assert diagnose(box) == []


def test_the_boxes_really_go_through_the_seams(tree: FakeTree) -> None:
    """The facts above come from the probes: NVML's recorded answers, /proc, and the child's printed lines."""
    box = a100_box(tree).torch("2.5.1+cu118", "11.8", cu118_healthy_child("NVIDIA A100-SXM4-80GB", "8.0", "470.103.01"))
    facts = box.facts()
    assert (facts.driver.kernel_module, facts.driver.sources["kernel_module"]) == ("470.103.01", "/proc")
    assert (facts.driver.userspace, facts.driver.cuda_driver_api) == ("470.103.01", "11.4")
    assert facts.gpus.devices[0].uuid == "GPU-a75cda02-62ce-2c30-9150-555ef08935e2"
    assert (facts.torch.import_ok, facts.torch.cuda_available, facts.torch.device_count) == (True, True, 1)
    assert facts.torch.location == f"{SITE}/torch" and facts.torch.python == PYTHON
    assert facts.torch.smoke[0].matmul_ok is True
    assert "init" in box.nvml.calls and "p2p_status" not in box.nvml.calls  # one GPU: no pair to ask about


def test_an_ngc_container_on_an_a100_running_cuda_12_6_through_forward_compat_gets_no_error(tree: FakeTree) -> None:
    # Driver 470 is older than CUDA 12.6 needs, but NGC images load the cuda-compat libcuda, which data-centre
    # GPUs accept: the child's matmul ran. Reporting driver.too-old here was a misfire (fixed in driver_too_old).
    box = a100_box(tree).docker()
    box.env["NVIDIA_VISIBLE_DEVICES"] = "all"
    box.env["LD_LIBRARY_PATH"] = "/usr/local/cuda/compat/lib:/usr/local/nvidia/lib:/usr/local/nvidia/lib64"
    site = "/usr/local/lib/python3.10/dist-packages"
    box.sys_path = ("", "/usr/lib/python3.10", site)
    version = "2.5.0a0+872d972e41.nv24.08"
    box.torch(
        version,
        "12.6",
        torch_child(
            version,
            "12.6",
            site=site,
            archs=["sm_80", "sm_86", "sm_90", "compute_90"],
            devices=[A100_DEVICE],
            libs={
                "libcudart.so.12": "/usr/local/cuda/lib64/libcudart.so.12",
                "libcudnn.so.9": "/usr/lib/x86_64-linux-gnu/libcudnn.so.9",
                "libcuda.so.560.35.03": "/usr/local/cuda/compat/lib.real/libcuda.so.560.35.03",
            },
        ),
        site=site,
    )
    assert box.facts().driver.kernel_module == "470.103.01"
    assert diagnose(box) == []


def test_a_jetson_orin_with_jetpacks_torch_gets_no_error(tree: FakeTree) -> None:
    # /proc names the L4T release (35.3.1), not a desktop driver branch: comparing it with the desktop minimum
    # for CUDA 11.4 reported driver.too-old on every Jetson (fixed in driver_too_old).
    box = Box(tree).driver(recorded("proc/version-jetson-orin-35.3.1.txt"), gpus=0)
    tree.write(
        "/etc/nv_tegra_release",
        "# R35 (release), REVISION: 3.1, GCID: 32827747, BOARD: t186ref, "
        "EABI: aarch64, DATE: Sun Mar 19 15:19:21 UTC 2023\n",
    )
    tree.write("/proc/device-tree/model", "NVIDIA Orin NX Developer Kit\0")
    version = "2.1.0a0+41361538.nv23.06"
    box.torch(
        version,
        "11.4",
        torch_child(
            version,
            "11.4",
            archs=["sm_72", "sm_87"],
            devices=[{"name": "Orin", "capability": "8.7", "matmul_ok": True, "conv_ok": True}],
            libs={
                "libcudart.so.11.0": "/usr/local/cuda-11.4/targets/aarch64-linux/lib/libcudart.so.11.0",
                "libcudnn.so.8": "/usr/lib/aarch64-linux-gnu/libcudnn.so.8",
                "libcuda.so.1.1": "/usr/lib/aarch64-linux-gnu/tegra/libcuda.so.1.1",
            },
        ),
    )
    facts = box.facts()
    assert (facts.system.jetson, facts.driver.kernel_module) == (True, "35.3.1")
    assert diagnose(box) == []


def test_a_conda_forge_pytorch_with_condas_own_cuda_libraries_and_nvcc_gets_no_finding(tree: FakeTree) -> None:
    # conda-forge builds carry no +cuXXX tag, load cuDNN/NCCL from $CONDA_PREFIX/lib, and cuda-nvcc puts the
    # toolkit that builds extensions into the environment itself
    env = "/home/user/miniforge3/envs/train"
    site = f"{env}/lib/python3.11/site-packages"
    box = rtx5090_box(tree)
    box.sys_path = ("", f"{env}/lib/python3.11", site)
    box.env.update(CONDA_PREFIX=env, PATH=f"{env}/bin:" + box.env["PATH"])
    for record in (
        "pytorch-2.5.1-cuda126_py311h1234567_303",
        "torchvision-0.20.1-cuda126_py311h7654321_1",
        "python-3.11.9-hb806964_0_cpython",
    ):
        tree.write(f"{env}/conda-meta/{record}.json", "{}")
    tree.write(f"{env}/bin/nvcc", "#!/bin/sh\n", mode=0o755)
    tree.write(f"{env}/include/cuda_runtime.h", "#pragma once\n")
    box.programs["nvcc"] = Completed(
        ("nvcc", "--version"),
        0,
        stdout=(
            "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2024 NVIDIA Corporation\n"
            "Built on Tue_Oct_29_23:50:19_PDT_2024\nCuda compilation tools, release 12.6, V12.6.85\n"
            "Build cuda_12.6.r12.6/compiler.35059454_0\n"
        ),
    )
    device = {"name": "NVIDIA GeForce RTX 5090", "capability": "12.0", "matmul_ok": True, "conv_ok": True}
    box.torch(
        "2.5.1",
        "12.6",
        torch_child(
            "2.5.1",
            "12.6",
            site=site,
            devices=[device] * 2,
            archs=[
                "sm_50",
                "sm_60",
                "sm_70",
                "sm_75",
                "sm_80",
                "sm_86",
                "sm_89",
                "sm_90",
                "sm_100",
                "sm_120",
                "compute_120",
            ],
            libs={
                "libcudart.so.12": f"{env}/lib/libcudart.so.12.6.77",
                "libcudnn.so.9": f"{env}/lib/libcudnn.so.9.3.0",
                "libnccl.so.2": f"{env}/lib/libnccl.so.2.23.4",
                "libcuda.so.580.173.02": "/usr/lib/x86_64-linux-gnu/libcuda.so.580.173.02",
            },
        ),
        site=site,
        installer="conda",
    )
    box.package("torchvision", "0.20.1", requires=("numpy", "torch >=2.5.1", "pillow >=5.3.0,!=8.3.*"), site=site)
    facts = box.facts()
    assert (facts.torch.installer, facts.toolkit.found_by, facts.toolkit.version) == ("conda", "conda", "12.6.85")
    assert diagnose(box) == []


def test_a_plain_pypi_wheel_with_its_companions_gets_no_finding(tree: FakeTree) -> None:
    # `pip install torch torchvision torchaudio` from PyPI: no local version tag, CUDA 12.8 libraries as nvidia-* wheels
    device = {"name": "NVIDIA GeForce RTX 5090", "capability": "12.0", "matmul_ok": True, "conv_ok": True}
    box = rtx5090_box(tree).torch(
        "2.9.1",
        "12.8",
        torch_child(
            "2.9.1",
            "12.8",
            archs=["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
            devices=[device] * 2,
            libs=wheel_libs(),
        ),
    )
    box.package("torchvision", "0.24.1", requires=("numpy", "torch ==2.9.1", "pillow !=8.3.*,>=5.3.0"))
    box.package("torchaudio", "2.9.1", requires=("torch ==2.9.1",))
    box.package("triton", "3.5.1")
    box.package("nvidia-cudnn-cu12", "9.10.2.21", requires=("nvidia-cublas-cu12",))
    assert diagnose(box) == []
