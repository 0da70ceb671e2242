"""The known-signature table: well formed, every row proven by its own real example, and the search
over pasted text (wrapped lines, context rows, one hit per signature)."""

from __future__ import annotations

import re

import pytest

from torchrig.doctor.checks import all_codes
from torchrig.knowledge import load
from torchrig.knowledge import signatures as known

# A signature must be evidence for a code some check emits.
CODES = set(all_codes())
ROWS = known.signatures()
_SOURCES = ("https://github.com/", "https://docs.nvidia.com/", "https://rocm.docs.amd.com/")


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
