"""Rules read from the sources behind batch 2026-12-06b: each text is the program's own wording (NCCL, Fabric
Manager, cuda-python, torchaudio, the dynamic loader), written here, not copied from a corpus report."""

from __future__ import annotations

from torchrig.doctor.checks import run_checks
from torchrig.doctor.findings import Severity
from torchrig.doctor.report import parse_report
from torchrig.knowledge import signatures as known


def _codes(text: str) -> list[str]:
    return [f.code for f in run_checks(parse_report(text))]


def test_an_nccl_system_error_in_a_container_follows_the_ibv_call_nccl_names() -> None:
    # src/misc/ibvwrap.cc: WARN("Call to " name " failed with error %s", strerror(errno)); return ncclSystemError
    text = (
        "docker run --gpus all --network=host trainer:latest\n"
        "gpu-node-3:411:502 [2] misc/ibvwrap.cc:190 NCCL WARN Call to ibv_reg_mr failed with error Cannot allocate memory\n"
        "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system error "
        "(run with NCCL_DEBUG=INFO for details), NCCL version 2.21.5\n"
    )
    findings = run_checks(parse_report(text))
    assert [f.code for f in findings] == ["nccl.transport-failed"]  # no /dev/shm suspicion: the call is named
    assert "ibv_reg_mr" in findings[0].title
    assert any("NCCL_BUFFSIZE" in step for step in findings[0].fix)
    assert any("ulimit -l unlimited" in step for step in findings[0].fix)


def test_a_socket_call_nccl_names_is_a_transport_failure() -> None:
    # src/include/checks.h SYSCHECK: WARN("Call to " name " failed: %s", strerror(errno))
    text = (
        "podman run ...\nnode1:77:77 [0] misc/socket.cc:480 NCCL WARN Call to connect failed : Connection timed out\n"
        "RuntimeError: NCCL error: unhandled system error\n"
    )
    assert _codes(text)[0] == "nccl.transport-failed"
    assert "shm.too-small" not in _codes(text)


def test_an_nccl_system_error_in_a_container_with_no_call_named_stays_a_shm_suspicion() -> None:
    text = "docker run --gpus all img\nRuntimeError: NCCL error in: ProcessGroupNCCL.cpp:825, unhandled system error\n"
    first = run_checks(parse_report(text))[0]
    assert (first.code, first.severity) == ("shm.too-small", Severity.WARNING)


def test_fabric_manager_refusing_a_driver_of_another_version_with_a_typographic_apostrophe() -> None:
    text = (
        "systemctl status nvidia-fabricmanager\n"
        "nv-fabricmanager[2231]: fabric manager NVIDIA GPU driver interface version 535.161.07 don\u2019t match "
        "with driver version 535.183.01. Please update with matching NVIDIA driver package.\n"
    )
    [finding] = run_checks(parse_report(text))
    assert finding.code == "driver.fabric-manager-down"
    assert "535.161.07" in finding.title and "535.183.01" in finding.title


def test_cuda_python_failing_to_dlopen_libcuda_under_wsl_is_the_driver_library_off_the_loader_path() -> None:
    # cuda-python's cuPythonInit: raise RuntimeError('Failed to dlopen libcuda.so')
    text = (
        "$ uname -r\n5.15.167.4-microsoft-standard-WSL2\n"
        ">>> from cuda import cuda; cuda.cuInit(0)\nRuntimeError: Failed to dlopen libcuda.so\n"
    )
    [finding] = run_checks(parse_report(text))
    assert finding.code == "driver.missing"
    assert "/usr/lib/wsl/lib" in finding.title


def test_torchaudios_old_top_level_extension_missing_a_torch_symbol_is_a_companion_mismatch() -> None:
    # torchaudio <= 0.4: CppExtension('_torch_sox', ...), imported by torchaudio/__init__.py
    text = (
        "    import _torch_sox\n"
        "ImportError: /home/u/.local/lib/python3.6/site-packages/_torch_sox.cpython-36m-x86_64-linux-gnu.so: "
        "undefined symbol: _ZN3c1010TensorImpl7stridesEv\n"
    )
    [finding] = run_checks(parse_report(text))
    assert finding.code == "torch.companion-mismatch"
    assert finding.title.startswith("torchaudio was not built")


def test_a_torch_library_missing_while_torchvision_loads_its_ops_is_a_companion_mismatch() -> None:
    # torch.ops.load_library -> ctypes.CDLL: the loader names the dependency it could not find
    text = (
        'File "/usr/lib/python3.8/ctypes/__init__.py", line 373, in __init__\n'
        "    self._handle = _dlopen(self._name, mode)\n"
        "OSError: libtorch_cuda_cu.so: cannot open shared object file: No such file or directory\n"
        "(raised by import torchvision)\n"
    )
    assert _codes(text)[0] == "torch.companion-mismatch"


def test_a_torch_library_missing_without_a_companion_in_the_report_is_not_read_as_one() -> None:
    text = "OSError: libtorch_cuda_cu.so: cannot open shared object file: No such file or directory\n"
    assert "torch.companion-mismatch" not in _codes(text)


def test_a_reporter_saying_installing_torchvision_removed_their_torch() -> None:
    text = (
        "I built PyTorch from source for my GPU. When I pip install torchvision it uninstalls my torch and "
        "installs a different one from PyPI.\n"
    )
    [finding] = run_checks(parse_report(text))
    assert finding.code == "torch.companion-mismatch"
    assert "torchvision" in finding.title
    assert any("from its source" in step for step in finding.fix)


def test_torchvision_release_notes_about_removed_apis_are_no_replacement() -> None:
    for text in (
        "torchvision 0.17 removed support for torch.jit scripting of some transforms; install the new one",
        "after I install torchvision, removing the torch.hub cache fixed the download",
    ):
        assert "companion.install-replaced-torch-said" not in [m.signature.id for m in known.find(text)]


def test_a_reporter_finding_their_driver_too_old_for_the_build_asked_for() -> None:
    text = (
        "torch.cuda.is_available() returns False after conda env create.\n"
        "Found it: the NVIDIA driver is too old for the CUDA 11.8 build of pytorch in environment.yml.\n"
    )
    [finding] = [f for f in run_checks(parse_report(text)) if f.severity is Severity.ERROR]
    assert finding.code == "driver.too-old"


def test_a_driver_said_to_be_fine_is_no_statement_of_a_too_old_one() -> None:
    for text in ("my driver is up to date for cuda 12", "the driver version is 550 and torch is 2.4"):
        assert "driver.too-old-said" not in [m.signature.id for m in known.find(text)]


def test_a_reporter_saying_the_torch_shipped_is_the_cpu_version_is_a_cpu_build_warning() -> None:
    for text in (
        "The portable package ships the CPU version of torch, so my NVIDIA card is never used.",
        "安装包里自带的是cpu版本的torch，所以显卡没有被用上。",
    ):
        [finding] = run_checks(parse_report(text))
        assert (finding.code, finding.severity) == ("torch.cpu-only-build", Severity.WARNING)


def test_a_cpu_version_of_torch_in_a_report_about_no_gpu_at_all_is_not_read() -> None:
    assert known.find("I want the CPU version of torch on my laptop") == []


def test_a_docker_run_without_gpus_whose_container_finds_none_is_a_container_without_gpu() -> None:
    text = (
        "$ docker run --rm -v /srv/models:/models ghcr.io/acme/infer:2.1 serve\n"
        "RuntimeError: No CUDA GPUs are available\n"
        "$ docker run --rm --gpus all -v /srv/models:/models ghcr.io/acme/infer:2.1 serve\n"
        "serving on cuda:0\n"
    )
    first = run_checks(parse_report(text))[0]
    assert (first.code, first.severity) == ("container.no-gpu", Severity.ERROR)
    assert any("--gpus all" in step for step in first.fix)


def test_a_docker_run_with_gpus_or_the_nvidia_runtime_is_not_read_as_without() -> None:
    for command in (
        "docker run --rm --gpus all img",
        "docker run -v /a:/b --gpus '\"device=1\"' img",
        "docker run --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all img",
        "docker run --device nvidia.com/gpu=all img",
    ):
        hits = known.find(command + "\nRuntimeError: No CUDA GPUs are available")
        assert "container.docker-run-without-gpus" not in [m.signature.id for m in hits], command


def test_an_unrelated_container_before_a_gpu_one_is_not_blamed() -> None:
    text = "docker run -d --name db postgres:16\n$ docker run --gpus all trainer\nNo CUDA GPUs are available\n"
    assert "container.docker-run-without-gpus" not in [m.signature.id for m in known.find(text)]
