"""torch.import-failed: an installed torch must import; the failing library decides the fix."""

from __future__ import annotations

from check_facts import PY, RTX4090, codes_of, linux_gpu_box, report, this_machine

from torchrig.doctor.checks import CheckContext, torch_import_failed
from torchrig.doctor.findings import Severity
from torchrig.knowledge import signatures

CTX = CheckContext()
NVJITLINK = (
    "ImportError: /home/ada/.venv/lib/python3.12/site-packages/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12: "
    "undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12"
)


def _broken(error: str, **kw):
    facts = linux_gpu_box(RTX4090, **kw)
    facts.torch.import_ok = False
    facts.torch.import_error = error
    return facts


def test_a_missing_cudnn_reinstalls_torch_with_its_own_libraries() -> None:
    [finding] = torch_import_failed.torch_imports(
        _broken("ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory"), CTX
    )
    assert finding.severity is Severity.ERROR
    assert finding.title == "Importing torch fails (libcudnn.so.9)"
    assert finding.fix == (
        f"{PY} -m pip install --force-reinstall torch==2.13.0 --index-url https://download.pytorch.org/whl/cu130",
    )


def test_nvjitlink_undefined_symbol_with_a_toolkit_on_ld_library_path_drops_it_first() -> None:
    facts = _broken(NVJITLINK, torch="2.5.1+cu124", cuda="12.4", env={"LD_LIBRARY_PATH": "/usr/local/cuda-12.1/lib64"})
    [finding] = torch_import_failed.torch_imports(facts, CTX)
    assert finding.title == "Importing torch fails (libnvJitLink.so.12)"
    assert finding.fix[0] == "unset LD_LIBRARY_PATH"
    assert (
        finding.fix[-1]
        == f"{PY} -m pip install --force-reinstall torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124"
    )


def test_only_the_cuda_entries_of_ld_library_path_are_dropped() -> None:
    facts = _broken(NVJITLINK, env={"LD_LIBRARY_PATH": "/opt/intel/oneapi/lib:/usr/local/cuda/lib64"})
    [finding] = torch_import_failed.torch_imports(facts, CTX)
    assert finding.fix[0] == "export LD_LIBRARY_PATH=/opt/intel/oneapi/lib"


def test_libcuda_missing_on_a_machine_without_a_gpu_installs_the_cpu_build() -> None:
    facts = this_machine()
    facts.torch.version, facts.torch.cuda = "1.13.1+cu117", "11.7"
    facts.torch.import_ok = False
    facts.torch.import_error = "OSError: libcuda.so.1: cannot open shared object file: No such file or directory"
    [finding] = torch_import_failed.torch_imports(facts, CTX)
    # torch 1.13.1 has cp311 wheels on PyPI (the earlier table said Python <= 3.10): its own cpu build.
    assert finding.fix[-1] == f"{PY} -m pip install torch==1.13.1 --index-url https://download.pytorch.org/whl/cpu"
    facts.system.python_version = "3.12.3"  # no 1.13 wheels for 3.12: the newest release that has them
    [finding] = torch_import_failed.torch_imports(facts, CTX)
    assert finding.fix[-1] == f"{PY} -m pip install 'torch==2.14.*' --index-url https://download.pytorch.org/whl/cpu"


def test_an_old_libstdcxx_in_a_conda_env_installs_a_newer_one() -> None:
    facts = _broken(
        "ImportError: /opt/conda/lib/libstdc++.so.6: version `GLIBCXX_3.4.30' not found", conda_prefix="/opt/conda"
    )
    [finding] = torch_import_failed.torch_imports(facts, CTX)
    assert finding.title == "Importing torch fails (libstdc++)"
    assert finding.fix == ("conda install -y -c conda-forge 'libstdcxx-ng>=13'",)


def test_the_traceback_line_in_a_log_alone_yields_the_finding() -> None:
    facts = report(
        (
            "torch.cuda-library-not-found",
            "ImportError: libcudnn.so.8: cannot open shared object file: No such file or directory",
        )
    )
    [finding] = torch_import_failed.torch_imports(facts, CTX)
    assert finding.title == "Importing torch fails (libcudnn.so.8)"


def test_a_torch_that_imports_is_fine() -> None:
    assert torch_import_failed.torch_imports(linux_gpu_box(RTX4090), CTX) == []


def test_an_nvjitlink_symbol_names_libnvjitlink_even_when_the_version_tag_is_cut_off() -> None:
    facts = _broken(
        "ImportError: /srv/env/lib/python3.11/site-packages/nvidia/cusolver/lib/libcusolver.so.11: "
        "undefined symbol: __nvJitLinkGetLinkedCubin_12_6, vers",
        env={"LD_LIBRARY_PATH": "/usr/local/cuda-12.2/lib64"},
    )
    [finding] = torch_import_failed.torch_imports(facts, CTX)
    assert finding.title == "Importing torch fails (libnvJitLink.so.12)"
    assert finding.fix[0] == "unset LD_LIBRARY_PATH"


def test_fbgemm_dll_names_the_openmp_runtime_it_needs_besides_the_vc_redistributable() -> None:
    facts = _broken(
        "OSError: [WinError 126] The specified module could not be found. Error loading "
        '"C:\\Python312\\Lib\\site-packages\\torch\\lib\\fbgemm.dll" or one of its dependencies.'
    )
    [finding] = torch_import_failed.torch_imports(facts, CTX)
    assert finding.title == "Importing torch fails (fbgemm.dll)"
    assert "libomp140.x86_64.dll" in finding.fix[0]
    assert any(line.startswith("winget install --id Microsoft.VCRedist") for line in finding.fix)


def test_a_torch_dll_named_without_its_path_is_the_failing_library_and_import_order_is_a_fix() -> None:
    facts = _broken("after opening the Qt window, importing the model fails with an error loading torch_python.dll")
    [finding] = torch_import_failed.torch_imports(facts, CTX)
    assert finding.title == "Importing torch fails (torch_python.dll)"
    assert "import torch before it" in finding.fix[-1]


def test_the_page_file_error_counts_when_the_line_is_cut_off_after_the_dll() -> None:
    facts = _broken(
        "OSError: [WinError 1455] The paging file is too small for this operation to complete. Error loading "
        '"C:\\env\\lib\\site-packages\\torch\\lib\\cudnn_cnn_infer64_8.dll" o'
    )
    [finding] = torch_import_failed.torch_imports(facts, CTX)
    assert finding.title.endswith("the Windows page file is too small")


def test_a_torch_dll_path_whose_closing_quote_was_cut_off_with_the_line_still_counts() -> None:
    text = 'OSError: Error loading "C:\\env\\Lib\\site-packages\\torch\\lib\\fbgemm.dll\nit fails on every start'
    assert [m.signature.id for m in signatures.find(text)] == ["torch.windows-dll-load-failed"]


# Titles that say the DLL is missing, in the words of other reports of the class (LoRA_Easy_Training_Scripts#363
# "Installation error: missing fbgemm.dll", Hi3DGen_1Click_installer#2 "missing dependencies fbgemm.dll",
# ComfyUI#3703 "can't start the ComfyUI due to the missing fbgemm.dll").
def test_a_title_saying_a_torch_dll_is_missing_is_torch_failing_to_import() -> None:
    for text in (
        "Installation error: missing fbgemm.dll",
        "missing dependencies fbgemm.dll",
        "Now I can't start it due to the missing fbgemm.dll",
        "c10.dll is missing after updating the dependencies",
    ):
        assert codes_of(text)[:1] == ["torch.import-failed"], text


def test_a_dll_of_another_program_said_missing_is_not_torch() -> None:
    assert "torch.windows-dll-load-failed" not in {m.signature.id for m in signatures.find("missing MSVCP140.dll")}


# --- nvJitLink: JAX and CuPy load the same pip nvidia-* libraries (the symbol alone is not torch's)


def test_torch_importing_cusparse_that_misses_an_nvjitlink_symbol_is_still_read() -> None:
    text = (
        '  File "/venv/lib/python3.11/site-packages/torch/__init__.py", line 237, in <module>\n'
        "ImportError: /venv/lib/python3.11/site-packages/torch/lib/../../nvidia/cusparse/lib/libcusparse.so.12: "
        "undefined symbol: __nvJitLinkComplete_12_4, version libnvJitLink.so.12\n"
    )
    assert codes_of(text)[0] == "torch.import-failed"
