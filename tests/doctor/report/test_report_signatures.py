"""The known-signature table: well formed, every row proven by its own real example, and the search
over pasted text (wrapped lines, context rows, one hit per signature)."""

from __future__ import annotations

import re

import pytest

from torchrig._core.errors import UserError
from torchrig.doctor.checks import all_codes, run_checks
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report
from torchrig.knowledge import load
from torchrig.knowledge import signatures as known

# A signature must be evidence for a code some check emits.
CODES = set(all_codes())
ROWS = known.signatures()
_SOURCES = ("https://github.com/", "https://docs.nvidia.com/", "https://rocm.docs.amd.com/")


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


def test_table_names_its_source_and_date() -> None:
    meta = load("signatures")["meta"]
    assert meta["source"] and re.fullmatch(r"\d{4}-\d{2}", meta["as_of"])


def test_every_row_is_complete_and_ids_are_unique() -> None:
    assert len(ROWS) >= 20
    assert len({s.id for s in ROWS}) == len(ROWS)
    for sig in ROWS:
        assert sig.code in CODES, sig.id
        assert sig.title and sig.example, sig.id
        # a public report that shows it, or the source/documentation of the program that prints it
        assert sig.source.startswith(_SOURCES), sig.id


# The context a row's `requires` asks for, where it is not torch's own traceback
_CONTEXT = {
    "driver.compat-libcuda-803": "export LD_LIBRARY_PATH=/usr/local/cuda-12.9/compat:$LD_LIBRARY_PATH",
    "container.docker-said-cuda-unavailable": "$ docker compose up",
    "program.ollama-version": "GPU: 2x NVIDIA Tesla P40, driver 535.309.01",
}


@pytest.mark.parametrize("sig", ROWS, ids=[s.id for s in ROWS])
def test_each_pattern_matches_its_real_example(sig: known.Signature) -> None:
    context = _CONTEXT.get(sig.id, '  File ".../torch/__init__.py", line 229')
    text = sig.example if sig.requires is None else f"{context}\n{sig.example}"
    assert [m.signature.id for m in known.find(text) if m.signature.id == sig.id] == [sig.id]


def test_the_brief_signatures_map_to_their_codes() -> None:
    lines = {
        "RuntimeError: The NVIDIA driver on your system is too old (found version 11040).": "driver.too-old",
        "RuntimeError: CUDA error: no kernel image is available for execution on the device": "gpu.arch-unsupported",
        "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.": "gpu.arch-unsupported",
        "Error 804: forward compatibility was attempted on non supported HW": "driver.forward-compat-unsupported",
        "Failed to initialize NVML: Driver/library version mismatch": "driver.version-mismatch",
        "CUDA unknown error - this may be due to an incorrectly set up environment": "cuda.init-failed",
        "RuntimeError: cuDNN version incompatibility: PyTorch was compiled against (8, 3, 2) but linked against (8, 1, 0)": "libs.shadowed",
        "RuntimeError: DataLoader worker (pid 13) is killed by signal: Bus error.": "shm.too-small",
        "WARNING: The NVIDIA Driver was not detected.  GPU functionality will not be available.": "container.no-gpu",
        "RuntimeError: No such operator torchvision::nms": "torch.companion-mismatch",
        "AssertionError: Torch not compiled with CUDA enabled": "torch.cpu-only-build",
        "RuntimeError: No CUDA GPUs are available": "cuda.visible-devices",
    }
    for line, code in lines.items():
        assert [m.signature.code for m in known.find(line)] == [code], line


def test_a_message_wrapped_by_the_terminal_still_matches_and_reports_its_first_line() -> None:
    text = "epoch 3\nRuntimeError: DataLoader worker (pid 47) is killed by signal: Bus\nerror. It is possible ..."
    (match,) = known.find(text)
    assert match.signature.id == "shm.dataloader-bus-error"
    assert match.line == 2
    # the excerpt holds every line the match spans, joined: the message whole, not cut at the wrap
    assert (
        match.excerpt == "RuntimeError: DataLoader worker (pid 47) is killed by signal: Bus error. It is possible ..."
    )


def test_torchs_capability_warning_keeps_the_range_it_prints_on_the_next_lines() -> None:
    # torch 2.8-2.10's _check_capability text (torch/cuda/__init__.py), as warnings.warn prints it
    text = (
        "UserWarning:\n    Found GPU0 NVIDIA GeForce MX350 which is of cuda capability 6.1.\n"
        "    Minimum and Maximum cuda capability supported by this version of PyTorch is\n    (7.0) - (12.0)\n\n"
        "  warnings.warn(\n"
    )
    (match,) = known.find(text)
    assert match.signature.id == "gpu.too-old-for-torch" and match.line == 2
    assert match.excerpt.endswith("supported by this version of PyTorch is (7.0) - (12.0)")


def test_a_missing_cuda_library_counts_only_where_torch_was_importing() -> None:
    onnx = (
        "from onnxruntime_genai.onnxruntime_genai import *\nImportError: libcudnn.so.8: cannot open shared object file"
    )
    assert known.find(onnx) == []
    torch = (
        '  File "/venv/lib/python3.8/site-packages/torch/__init__.py", line 229, in <module>\n' + onnx.splitlines()[1]
    )
    assert [m.signature.id for m in known.find(torch)] == ["torch.cuda-library-not-found"]


def test_each_signature_is_reported_once_at_its_first_line() -> None:
    line = (
        "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm)."
    )
    matches = known.find("\n".join([line] * 3))
    assert [(m.signature.id, m.line) for m in matches] == [("shm.insufficient", 1)]


def test_a_huge_line_is_cut_around_the_match() -> None:
    text = "x" * 5000 + " Error 804: forward compatibility was attempted on non supported HW " + "y" * 5000
    (match,) = known.find(text)
    assert "Error 804" in match.excerpt and len(match.excerpt) <= 400


def test_the_user_docs_list_every_signature(repo_root) -> None:
    page = (repo_root / "docs" / "doctor-report.md").read_text()
    for sig in ROWS:
        assert f"| `{sig.id}` | `{sig.code}` |" in page, f"docs/doctor-report.md lacks {sig.id}"


def test_a_message_a_logger_wrapped_and_indented_still_matches_and_keeps_both_lines() -> None:
    # rich's log handler breaks a long message and indents the rest under the message column
    text = (
        "12:00:01 ERROR    Could not load torch: [WinError 126] The specified module could not be found. Error loading\n"
        '                  "C:\\app\\venv\\Lib\\site-packages\\torch\\lib\\c10.dll" or one of its dependencies.\n'
    )
    (match,) = known.find(text)
    assert match.signature.id == "torch.windows-dll-load-failed"
    assert match.line == 1
    assert match.excerpt.endswith('torch\\lib\\c10.dll" or one of its dependencies.')


def test_an_nvjitlink_symbol_counts_without_its_version_tag() -> None:
    # ld.so prints "undefined symbol: NAME, version TAG"; an issue title cuts it off after ~100 characters
    cut = "ImportError: /opt/venv/lib/python3.11/site-packages/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12: undefined symbol: __nvJitLinkCreate_12_8, vers"
    assert [m.signature.id for m in known.find(cut)] == ["torch.nvjitlink-undefined-symbol"]
    assert known.find("import torch\nundefined symbol: __nvJitLinkCreate") == []  # unversioned: not nvJitLink's export


def test_an_nvjitlink_symbol_in_a_report_without_torch_is_not_a_torch_import() -> None:
    jax = "jaxlib/cuda/_solver.so: ImportError: libcusolver.so.11: undefined symbol: __nvJitLinkComplete_12_4"
    assert known.find(jax) == []


@pytest.mark.parametrize(
    "line",
    [
        # cuDNN 8 reporting dlerror() for the libnvrtc it opened (CUDA 11.1 added nvrtcGetCUBIN)
        "Could not load library libcudnn_cnn_infer.so.8. Error: /opt/apps/cuda/10.2/lib64/libnvrtc.so.10.2: "
        "undefined symbol: nvrtcGetCUBIN",
        "OSError: /usr/local/cuda-11.0/lib64/libcublasLt.so.11: undefined symbol: cublasLtMatmulAlgoCapGetAttribute",
    ],
)
def test_a_cuda_library_lacking_a_function_of_its_own_api_is_an_older_copy_shadowing_the_right_one(line: str) -> None:
    assert [m.signature.id for m in known.find(line)] == ["libs.cuda-library-lacks-own-symbol"]


def test_cublas_missing_a_cublaslt_function_is_not_read_as_cublas_lacking_its_own() -> None:
    line = "libcublas.so.11: undefined symbol: cublasLtGetStatusString, version libcublasLt.so.11"
    assert "libs.cuda-library-lacks-own-symbol" not in [m.signature.id for m in known.find(line)]


@pytest.mark.parametrize(
    ("line", "sig_id"),
    [
        # an issue title that cuts CUDA's string for error 209 short
        ("Flux fails: CUDA error: no kernel image is available", "gpu.no-kernel-image"),
        # error 802 (cudaErrorSystemNotReady / CUDA_ERROR_SYSTEM_NOT_READY) in the reporter's own words
        ("On our HGX box CUDA initialization failed with error 802 after the upgrade", "cuda.system-not-initialized"),
        ("cuInit returned CUDA_ERROR_SYSTEM_NOT_READY", "cuda.system-not-initialized"),
        # torch's own Windows DLLs named without their torch\lib path
        ("Error loading c10.dll when I start the app", "torch.windows-dll-load-failed"),
        ("error loading `torch_cpu.dll`", "torch.windows-dll-load-failed"),
        ("my app shows an error while loading the torch_python.dll module", "torch.windows-dll-load-failed"),
        # torch/__init__.py's message cut off after the quoted path
        (
            'OSError: [WinError 1114] Error loading "D:\\venv\\Lib\\site-packages\\torch\\lib\\c10_cuda.dll" or',
            "torch.windows-dll-load-failed",
        ),
        # NVML_ERROR_DRIVER_NOT_LOADED in nvidia-smi's words and in nvml.h's (which nvidia-settings prints)
        ("Failed to initialize NVML: Driver Not Loaded", "driver.nvml-driver-not-loaded"),
        ("nvidia-settings: ERROR: NVIDIA driver is not loaded", "driver.nvml-driver-not-loaded"),
        # an NCCL API function missing, with no library named (cupy's or jax's binding, an issue title)
        ("ImportError: undefined symbol: ncclCommWindowRegister", "nccl.undefined-symbol"),
        # a NumPy-1.x-built module under NumPy 2
        ("AttributeError: _ARRAY_API not found", "env.numpy-array-api-not-found"),
    ],
)
def test_an_error_in_another_wording_is_still_its_signature(line: str, sig_id: str) -> None:
    assert sig_id in [m.signature.id for m in known.find(line)]


@pytest.mark.parametrize(
    "line",
    [
        "CUDA 12.8 installed, driver 580.82, 802 MiB used",  # a number 802, no error
        "CUDA error 8020 in the log",  # another number
        "Error loading shm.dll or one of its dependencies",  # a DLL name other libraries ship too
        "libnccl.so.2: undefined symbol: ncclParamFoo",  # libnccl lacking its own: libs.shadowed's, not this one
        "no kernel image available? we build for sm_80 only",  # not CUDA's wording
    ],
)
def test_lookalikes_of_the_widened_signatures_do_not_match(line: str) -> None:
    ids = {m.signature.id for m in known.find(line)}
    assert not ids & {
        "cuda.system-not-initialized",
        "torch.windows-dll-load-failed",
        "gpu.no-kernel-image",
        "nccl.undefined-symbol",
    }


def test_an_ncc_socket_ifname_exclusion_list_without_lo_admits_the_loopback_interface() -> None:
    # NCCL src/misc/socket.cc: a set NCCL_SOCKET_IFNAME replaces the default "^docker,lo" outright
    def ids(text: str) -> list[str]:
        return [m.signature.id for m in known.find(text)]

    chosen = "export NCCL_SOCKET_IFNAME=^docker0\nnode1:77:77 [0] NCCL INFO Bootstrap : Using lo:127.0.0.1<0>\n"
    assert ids(chosen) == ["nccl.socket-ifname-admits-loopback"]
    assert ids("export NCCL_SOCKET_IFNAME=^docker0,lo   # keep NCCL off the loopback interface\n") == []
    assert ids("NCCL_SOCKET_IFNAME=^lo,docker\nNCCL INFO Bootstrap : Using eth0:10.0.0.2<0>\n") == []


@pytest.mark.parametrize(
    ("text", "answered"),
    [
        # Ultralytics' select_device, when the device asked for does not exist (ultralytics/utils/torch_utils.py)
        (
            "ValueError: Invalid CUDA 'device=0' requested.\n\ntorch.cuda.is_available(): False\n"
            "torch.cuda.device_count(): 0\n",
            True,
        ),
        # a diagnostic script's print(f"torch.cuda.is_available(): {torch.cuda.is_available()}")
        ("PyTorch Version: 2.4.1+cpu\ntorch.cuda.is_available(): False\n", True),
        ("torch.cuda.is_available(): True\n", False),
        ("if torch.cuda.is_available(): False  # sic\n", False),
    ],
)
def test_a_program_printing_the_call_and_its_value_is_torchs_answer(text: str, answered: bool) -> None:
    ids = [m.signature.id for m in known.find(text)]
    assert ("torch.cuda-available-false" in ids) is answered


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


# --- nvJitLink: JAX and CuPy load the same pip nvidia-* libraries (the symbol alone is not torch's)


def test_a_jax_import_missing_an_nvjitlink_symbol_is_not_torch_failing_to_import() -> None:
    text = (
        "$ pip list | grep -E 'jax|torch'\njax 0.4.30\njaxlib 0.4.30\ntorch 2.3.1\n"
        "RuntimeError: Unable to load cuSPARSE. Is it installed?\n"
        "/venv/lib/python3.11/site-packages/nvidia/cusparse/lib/libcusparse.so.12: undefined symbol: "
        "__nvJitLinkAddData_12_1, version libnvJitLink.so.12\n"
    )
    assert "torch.nvjitlink-undefined-symbol" not in _sigs(text)


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


# --- "returns False" in words: a condition in advice is not torch's answer


def test_advice_about_is_available_returning_false_is_not_torch_s_answer() -> None:
    assert "torch.cuda-available-false" not in _sigs(
        "If torch.cuda.is_available() returns False, check that the driver is installed.\n"
    )
    assert "torch.cuda-available-false" in _sigs("On this machine torch.cuda.is_available() returns False.\n")


# --- container.no-gpu: a program run from Docker finds no CUDA, and nothing hands the container a GPU --------------


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


# --- torch.cuda.is_available() answered False, told in words ------------------------------------------------------


def test_is_available_told_as_a_comparison_is_torch_s_answer() -> None:
    assert "torch.cuda-available-false" in _sigs("On my laptop torch.cuda.is_available() is False.\n")
    assert "torch.cuda-available-false" in _sigs("I got `2.1.0` with `torch.cuda.is_available() == False`.\n")
    # the dot before is_available lost when retyped
    assert "torch.cuda-available-false" in _sigs("while debugging, torch.cudais_available is false for me\n")
    # the answer first, the call after it
    assert "torch.cuda-available-false" in _sigs("the following returns false\n\n`torch.cuda.is_available()`\n")


def test_is_available_in_a_python_condition_is_no_answer() -> None:
    for line in (
        "if torch.cuda.is_available() == False:\n    device = 'cpu'\n",
        "elif torch.cuda.is_available() is False:\n",
        "assert torch.cuda.is_available() is False\n",
        "use_cpu = torch.cuda.is_available() == False\n",
        "return torch.cuda.is_available() is False\n",
        "x = torch.cuda.is_available() is False and args.cpu\n",
        # code whose next line calls it (a report's text is searched with its lines joined)
        "if args.gpu is False:\n    torch.cuda.is_available()\n",
        "    return False\ntorch.cuda.is_available()\n",
        "    cuda = torch.cuda.is_available()\n    return False\n",
    ):
        assert "torch.cuda-available-false" not in _sigs(line), line


# --- container.no-gpu: `docker run` without --gpus, then torch inside answering False ------------------------------


def test_docker_run_with_gpus_is_not_this_row() -> None:
    text = "$ docker run --gpus all -it test\n>>> torch.cuda.is_available()\nFalse\n"
    assert "container.docker-run-without-gpus" not in _sigs(text)


# --- healthy controls: read and answered, never refused, never an error ---------------------------------------------


def test_a_program_silencing_the_few_workers_warning_is_not_the_warning() -> None:
    text = (
        "warnings.filterwarnings('ignore', message=\"The dataloader, val_dataloader 0, does not have many workers "
        'which may be a bottleneck.")\n'
        "warnings.filterwarnings('ignore', '.*does not have many workers which may be a bottleneck.*')\n"
    )
    assert "program.dataloader-few-workers" not in _sigs(text)


# --- /dev/kfd access (ROCT README: the user must be in the group that owns /dev/kfd)


def test_working_as_root_without_rocm_words_is_nothing() -> None:
    with pytest.raises(UserError):
        parse_report("The script only works as root on our server, why?\n")


# --- program failures on Apple's MPS backend: read, never an error


def test_an_mps_operator_missing_is_a_program_failure_not_a_machine_fault() -> None:
    text = (
        "NotImplementedError: The operator 'aten::upsample_bicubic2d.out' is not currently implemented for the MPS "
        "device. If you want this op to be added in priority during the prototype phase of this feature, please "
        "comment on https://github.com/pytorch/pytorch/issues/77764.\n"
    )
    findings = _findings(text)
    assert findings and not [f for f in findings if f.severity is Severity.ERROR]


def test_indices_on_another_device_are_read_as_a_program_failure() -> None:
    findings = _findings(
        "RuntimeError: indices should be either on cpu or on the same device as the indexed tensor (cpu)\n"
    )
    assert [f.code for f in findings] == ["doctor.unexplained"]


# --- each text in its program's own wording (NCCL, Fabric Manager, cuda-python, torchaudio, the dynamic
# loader) or a reporter's, written from the source, not copied from a corpus report


def test_torchvision_release_notes_about_removed_apis_are_no_replacement() -> None:
    for text in (
        "torchvision 0.17 removed support for torch.jit scripting of some transforms; install the new one",
        "after I install torchvision, removing the torch.hub cache fixed the download",
    ):
        assert "companion.install-replaced-torch-said" not in [m.signature.id for m in known.find(text)]


def test_a_driver_said_to_be_fine_is_no_statement_of_a_too_old_one() -> None:
    for text in ("my driver is up to date for cuda 12", "the driver version is 550 and torch is 2.4"):
        assert "driver.too-old-said" not in [m.signature.id for m in known.find(text)]


def test_a_cpu_version_of_torch_in_a_report_about_no_gpu_at_all_is_not_read() -> None:
    assert known.find("I want the CPU version of torch on my laptop") == []


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
