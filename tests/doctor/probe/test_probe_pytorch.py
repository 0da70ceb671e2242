"""The torch probe: what is installed (files only), then a subprocess that imports it and may crash."""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from probe_fakes import FakeTree, fake_machine

from torchrig._core.seams.runner import FakeRunner, SubprocessRunner
from torchrig.doctor.probe import Host, pytorch

SITE = "/venv/lib/python3.11/site-packages"
# torch/version.py as a CUDA wheel writes it (same layout as this machine's 2.13.0+cpu file)
CUDA_VERSION_PY = (
    "from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n"
    "__version__ = '2.5.1+cu121'\ndebug = False\ncuda: Optional[str] = '12.1'\n"
    "git_version = 'a8d6afb511a69687bbb2b7e88a3cf67917e1697e'\nhip: Optional[str] = None\n"
)


def _install_torch(
    tree: FakeTree, site: str = SITE, *, installer: str = "pip", version_py: str = CUDA_VERSION_PY
) -> None:
    tree.dist(site, "torch", "2.5.1+cu121", installer=installer, package="torch")
    tree.write(f"{site}/torch/version.py", version_py)


def test_version_py_of_the_torch_installed_here_says_cpu_build() -> None:
    import importlib.util

    spec = importlib.util.find_spec("torch")
    assert spec is not None and spec.origin is not None
    text = (Path(spec.origin).parent / "version.py").read_text()
    values = pytorch.parse_version_py(text)
    assert values["__version__"] == "2.13.0+cpu"
    assert values["cuda"] is None and values["hip"] is None


def test_an_installed_torch_is_described_without_importing_it(tree: FakeTree) -> None:
    _install_torch(tree)
    runner = FakeRunner()
    facts = pytorch.probe(fake_machine(tree, runner=runner, sys_path=("", SITE)), quick=True)
    assert runner.calls == []
    assert (facts.installed, facts.version, facts.cuda, facts.hip) == (True, "2.5.1+cu121", "12.1", None)
    assert facts.installer == "pip"
    assert facts.location == f"{SITE}/torch"
    assert facts.copies == [f"{SITE}/torch"]
    assert facts.sources["cuda"] == "torch/version.py"


def test_every_copy_on_sys_path_is_listed_in_import_order(tree: FakeTree) -> None:
    user_site = "/home/user/.local/lib/python3.11/site-packages"
    _install_torch(tree, user_site)
    _install_torch(tree, SITE)
    facts = pytorch.probe(fake_machine(tree, sys_path=(user_site, SITE)), quick=True)
    assert facts.copies == [f"{user_site}/torch", f"{SITE}/torch"]
    assert facts.location == f"{user_site}/torch"


def test_pip_over_conda_is_reported_as_both_owning_torch(tree: FakeTree) -> None:
    site = "/opt/conda/lib/python3.10/site-packages"
    _install_torch(tree, site, installer="pip")
    tree.write("/opt/conda/conda-meta/pytorch-2.1.0-py3.10_cuda12.1_cudnn8.9.2_0.json", "{}")
    tree.write("/opt/conda/conda-meta/python-3.10.13-h955ad1f_0.json", "{}")
    facts = pytorch.probe(fake_machine(tree, sys_path=(site,)), quick=True)
    assert facts.installer == "conda+pip"


def test_a_conda_torch_is_conda(tree: FakeTree) -> None:
    site = "/opt/conda/lib/python3.10/site-packages"
    _install_torch(tree, site, installer="conda")
    tree.write("/opt/conda/conda-meta/pytorch-2.1.0-py3.10_cuda12.1_cudnn8.9.2_0.json", "{}")
    facts = pytorch.probe(fake_machine(tree, sys_path=(site,)), quick=True)
    assert facts.installer == "conda"


def test_no_torch_means_no_subprocess(tree: FakeTree) -> None:
    runner = FakeRunner()
    facts = pytorch.probe(fake_machine(tree, runner=runner, sys_path=(SITE,)), quick=False)
    assert facts.installed is False
    assert runner.calls == []


def test_lines_cut_short_by_a_crash_are_skipped() -> None:
    values, step = pytorch._merge_lines(
        'TORCHRIG-JSON {"step": "import"}\nTORCHRIG-JSON {"import_ok": true}\nnoise\n'
        'TORCHRIG-JSON {"step": "cuda-init"}\nTORCHRIG-JSON {"cuda_avail'
    )
    assert values == {"import_ok": True}
    assert step == "cuda-init"


# --- the real subprocess -------------------------------------------------------------------------


def _live(**overrides: object) -> Host:
    return replace(Host.live(), **overrides)  # type: ignore[arg-type]


@pytest.mark.slow
def test_importing_the_torch_installed_here_finds_a_cpu_build() -> None:
    facts = pytorch.probe(_live(), quick=False)
    assert facts.errors == []
    assert (facts.import_ok, facts.version, facts.cuda) == (True, "2.13.0+cpu", None)
    assert (facts.cuda_available, facts.device_count) == (False, 0)
    assert facts.sources["import_ok"] == "torch"
    assert facts.python == sys.executable
    assert facts.cuda_init_error is None


def _fake_python(tmp_path: Path, body: str) -> str:
    """An executable that stands in for the interpreter: it ignores `-c <child>` and runs ``body``."""
    script = tmp_path / "python"
    script.write_text(f"#!{sys.executable}\nimport os, signal, sys, time\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return str(script)


def _machine_with_torch(tree: FakeTree, python: str, **overrides: object) -> Host:
    _install_torch(tree)
    return fake_machine(tree, runner=SubprocessRunner(), sys_path=(SITE,), python=python, **overrides)


def test_a_child_that_segfaults_while_importing_still_gives_facts(tree: FakeTree, tmp_path: Path) -> None:
    python = _fake_python(
        tmp_path,
        """
        print('TORCHRIG-JSON {"step": "import"}', flush=True)
        sys.stderr.write("Fatal Python error: Segmentation fault\\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    """,
    )
    facts = pytorch.probe(_machine_with_torch(tree, python), quick=False)
    assert facts.version == "2.5.1+cu121"  # step 1 still stands
    assert facts.import_ok is False
    assert "killed by SIGSEGV during import" in (facts.import_error or "")
    assert "Segmentation fault" in (facts.import_error or "")
    assert facts.errors == ["the torch subprocess was killed by SIGSEGV during import"]


@pytest.mark.slow
def test_a_child_that_hangs_in_cuda_init_is_abandoned_at_its_timeout(tree: FakeTree, tmp_path: Path) -> None:
    python = _fake_python(
        tmp_path,
        """
        for line in ({"step": "import"}, {"import_ok": True, "version": "2.5.1+cu121", "cuda": "12.1"},
                     {"step": "cuda-init"}):
            print("TORCHRIG-JSON " + __import__("json").dumps(line), flush=True)
        time.sleep(60)
    """,
    )
    facts = pytorch.probe(_machine_with_torch(tree, python, torch_timeout=1.5), quick=False)
    assert facts.import_ok is True
    assert facts.errors == ["the torch subprocess timed out after 1.5 s during cuda-init"]
    assert facts.cuda_init_error == "the torch subprocess timed out after 1.5 s during cuda-init"


def test_warnings_printed_by_torchs_cpp_code_are_kept(tree: FakeTree, tmp_path: Path) -> None:
    # the C++ warning torch 1.x printed when the driver was older than its CUDA build (found version 10020)
    warning = (
        "[W CUDAFunctions.cpp:109] Warning: CUDA initialization: The NVIDIA driver on your system is too old "
        "(found version 10020). (function operator())"
    )
    python = _fake_python(
        tmp_path,
        f"""
        print('TORCHRIG-JSON {{"step": "import"}}', flush=True)
        print('TORCHRIG-JSON {{"import_ok": true, "version": "1.9.0+cu111", "cuda": "11.1"}}', flush=True)
        sys.stderr.write({warning!r} + "\\n")
        print('TORCHRIG-JSON {{"cuda_available": false, "device_count": 0}}', flush=True)
    """,
    )
    facts = pytorch.probe(_machine_with_torch(tree, python), quick=False)
    assert facts.errors == []
    assert facts.warnings == [warning]


def test_a_missing_interpreter_is_an_error_not_a_crash(tree: FakeTree, tmp_path: Path) -> None:
    facts = pytorch.probe(_machine_with_torch(tree, str(tmp_path / "no-such-python")), quick=False)
    assert facts.import_ok is False
    assert facts.errors[0].startswith("the torch subprocess could not start (not found")


def _torch_package(tmp_path: Path, init: str) -> Path:
    """A directory for PYTHONPATH holding a `torch` package that behaves as ``init`` says."""
    package = tmp_path / "pythonpath" / "torch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(init))
    return package.parent


@pytest.mark.slow
def test_an_import_error_is_reported_with_its_library(tmp_path: Path) -> None:
    # the message torch 2.x raises when a CUDA wheel's cuDNN is missing, raised from a stand-in package
    pythonpath = _torch_package(
        tmp_path,
        """
        raise ImportError("libcudnn.so.9: cannot open shared object file: No such file or directory")
    """,
    )
    env = {**Host.live().env, "PYTHONPATH": str(pythonpath)}
    facts = pytorch.probe(_live(env=env, sys_path=(str(pythonpath), *sys.path)), quick=False)
    assert facts.import_ok is False
    assert facts.import_error == "ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory"
    assert facts.errors == []  # the child ran to completion: the failure is a fact, not a probe error


@pytest.mark.slow
def test_a_cuda_init_failure_keeps_the_drivers_words(tmp_path: Path) -> None:
    error_804 = (
        "Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling "
        "NumCudaDevices() that might have already set an error? Error 804: forward compatibility was "
        "attempted on non supported HW"
    )
    pythonpath = _torch_package(
        tmp_path,
        f"""
        import types, warnings
        __version__ = "2.5.1+cu124"
        version = types.SimpleNamespace(cuda="12.4", hip=None)
        def _available():
            warnings.warn("CUDA initialization: {error_804}", UserWarning)
            return False
        def _init():
            raise RuntimeError("{error_804}")
        _C = types.SimpleNamespace(_cuda_getArchFlags=lambda: "sm_50 sm_80 sm_90")
        cuda = types.SimpleNamespace(is_available=_available, device_count=lambda: 0, init=_init,
                                     get_arch_list=lambda: [],  # as older torch answered while CUDA was unusable
                                     nccl=types.SimpleNamespace(version=lambda: (2, 21, 5)))
        backends = types.SimpleNamespace(cudnn=types.SimpleNamespace(version=lambda: 90100))
    """,
    )
    env = {**Host.live().env, "PYTHONPATH": str(pythonpath)}
    facts = pytorch.probe(_live(env=env, sys_path=(str(pythonpath), *sys.path)), quick=False)
    assert (facts.import_ok, facts.version, facts.cuda) == (True, "2.5.1+cu124", "12.4")
    assert facts.arch_list == ["sm_50", "sm_80", "sm_90"]
    assert (facts.cudnn_version, facts.nccl_version) == ("9.1.0", "2.21.5")
    assert facts.cuda_available is False
    assert facts.cuda_init_error == f"RuntimeError: {error_804}"
    assert facts.warnings == [f"UserWarning: CUDA initialization: {error_804}"]
    assert facts.errors == []


def test_a_gpu_run_is_merged_device_by_device() -> None:
    lines = [
        {"step": "import"},
        {
            "import_ok": True,
            "version": "2.5.1+cu121",
            "cuda": "12.1",
            "hip": None,
            "location": "/venv/lib/python3.11/site-packages/torch/__init__.py",
        },
        {"step": "cuda-init"},
        {"cuda_available": True, "device_count": 2},
        {"step": "device 0"},
        {"device": {"device": 0, "name": "NVIDIA A10G", "capability": "8.6", "matmul_ok": True, "conv_ok": True}},
        {"step": "device 1"},
        {
            "device": {
                "device": 1,
                "name": "Tesla P4",
                "capability": "6.1",
                "error": "RuntimeError: CUDA error: no kernel image is available for execution on the device",
            }
        },
        {
            "loaded_libs": [
                {"name": "libcudnn.so.9", "path": "/venv/lib/python3.11/site-packages/nvidia/cudnn/lib/libcudnn.so.9"}
            ],
            "warnings": [],
        },
    ]
    stdout = "".join("TORCHRIG-JSON " + json.dumps(line) + "\n" for line in lines)
    facts = pytorch.TorchFacts()
    values, step = pytorch._merge_lines(stdout)
    pytorch._apply(facts, values)
    assert step == "device 1"
    assert facts.location == "/venv/lib/python3.11/site-packages/torch"
    assert [(s.device, s.matmul_ok, s.error is None) for s in facts.smoke] == [(0, True, True), (1, None, False)]
    assert facts.loaded_libs[0].name == "libcudnn.so.9"


# --- the child script's own parts, run in this process ------------------------------------------------


@pytest.mark.slow
def test_the_kernels_compare_the_device_with_the_cpu() -> None:
    import torch

    from torchrig.doctor.probe import _torch_child

    assert _torch_child.run_kernels(torch, torch.device("cpu")) == {"matmul_ok": True, "conv_ok": True}


def test_loaded_cuda_libraries_are_read_from_the_memory_map(tmp_path: Path) -> None:
    from torchrig.doctor.probe import _torch_child

    nvidia = "/venv/lib/python3.11/site-packages/nvidia"
    maps = tmp_path / "maps"
    maps.write_text(
        "7f0000000000-7f0000001000 r--p 00000000 fd:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        f"7f0000100000-7f0000200000 r-xp 00000000 fd:01 2 {nvidia}/cudnn/lib/libcudnn.so.9\n"
        f"7f0000200000-7f0000300000 r--p 00100000 fd:01 2 {nvidia}/cudnn/lib/libcudnn.so.9\n"
        "7f0000300000-7f0000400000 r-xp 00000000 fd:01 3 /usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05\n"
        "7f0000400000-7f0000500000 r-xp 00000000 fd:01 4 /usr/local/cuda-12.4/lib64/libcublasLt.so.12.4.5.8\n"
        f"7f0000500000-7f0000600000 r-xp 00000000 fd:01 5 {nvidia}/nvjitlink/lib/libnvJitLink.so.12\n"
        "7f0000600000-7f0000700000 rw-p 00000000 00:00 0 \n"
    )
    assert _torch_child.loaded_libs(str(maps)) == [
        {"name": "libcudnn.so.9", "path": f"{nvidia}/cudnn/lib/libcudnn.so.9"},
        {"name": "libcuda.so.580.95.05", "path": "/usr/lib/x86_64-linux-gnu/libcuda.so.580.95.05"},
        {"name": "libcublasLt.so.12.4.5.8", "path": "/usr/local/cuda-12.4/lib64/libcublasLt.so.12.4.5.8"},
        {"name": "libnvJitLink.so.12", "path": f"{nvidia}/nvjitlink/lib/libnvJitLink.so.12"},
    ]


def test_cudnn_versions_of_both_encodings() -> None:
    from torchrig.doctor.probe import _torch_child

    assert _torch_child.dotted_cudnn(91002) == "9.10.2"
    assert _torch_child.dotted_cudnn(8902) == "8.9.2"
