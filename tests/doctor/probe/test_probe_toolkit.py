"""The CUDA toolkit is found the way torch.utils.cpp_extension finds it."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from probe_fakes import FakeTree, fake_machine

from torchrig._core.seams.runner import Completed, FakeRunner
from torchrig.doctor.facts import ToolkitInstall
from torchrig.doctor.probe import Host, toolkit

# `nvcc --version` of the CUDA 13.0 toolkit on the torchrig development machine
NVCC_13 = (
    "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2025 NVIDIA Corporation\n"
    "Built on Wed_Aug_20_01:58:59_PM_PDT_2025\nCuda compilation tools, release 13.0, V13.0.88\n"
    "Build cuda_13.0.r13.0/compiler.36424714_0\n"
)


def _toolkit(tree: FakeTree, home: str, *, version_json: str | None = None, cuda_h: int | None = None) -> None:
    tree.write(f"{home}/bin/nvcc", "#!/bin/sh\n", mode=0o755)
    if version_json:
        tree.write(f"{home}/version.json", f'{{"cuda": {{"name": "CUDA SDK", "version": "{version_json}"}}}}')
    if cuda_h:
        tree.write(f"{home}/include/cuda.h", f"#define CUDA_VERSION {cuda_h}\n")


def test_nvcc_version_is_parsed() -> None:
    assert toolkit.parse_nvcc_version(NVCC_13) == "13.0.88"


def test_cuda_home_wins_over_everything(tree: FakeTree) -> None:
    _toolkit(tree, "/usr/local/cuda-12.4", version_json="12.4.131")
    _toolkit(tree, "/opt/other", version_json="11.8.89")
    env = {"CUDA_HOME": "/usr/local/cuda-12.4", "PATH": "/opt/other/bin:/usr/bin"}
    facts = toolkit.probe(fake_machine(tree, env=env), quick=True)
    assert (facts.cuda_home, facts.found_by, facts.version) == ("/usr/local/cuda-12.4", "CUDA_HOME", "12.4.131")
    assert facts.nvcc == "/usr/local/cuda-12.4/bin/nvcc"
    assert facts.sources["version"] == "version.json"


def test_a_cuda_home_that_does_not_exist_is_an_error(tree: FakeTree) -> None:
    facts = toolkit.probe(fake_machine(tree, env={"CUDA_PATH": "/nowhere"}), quick=True)
    assert (facts.cuda_home, facts.found_by, facts.version) == ("/nowhere", "CUDA_PATH", None)
    assert facts.errors == ["CUDA_PATH points to /nowhere, which does not exist"]


def test_nvcc_on_path_gives_its_parent_and_its_own_version(tree: FakeTree) -> None:
    _toolkit(tree, "/opt/cuda-13.0")
    runner = FakeRunner({"nvcc": Completed(("nvcc", "--version"), 0, stdout=NVCC_13)})
    facts = toolkit.probe(fake_machine(tree, env={"PATH": "/usr/bin:/opt/cuda-13.0/bin"}, runner=runner), quick=False)
    assert (facts.cuda_home, facts.found_by, facts.nvcc) == (
        "/opt/cuda-13.0",
        "nvcc on PATH",
        "/opt/cuda-13.0/bin/nvcc",
    )
    assert (facts.version, facts.sources["version"]) == ("13.0.88", "nvcc --version")
    assert runner.calls == [("/opt/cuda-13.0/bin/nvcc", "--version")]


def test_quick_mode_reads_the_header_instead_of_running_nvcc(tree: FakeTree) -> None:
    _toolkit(tree, "/opt/cuda-13.0", cuda_h=13000)
    runner = FakeRunner({"nvcc": Completed(("nvcc",), 0, stdout=NVCC_13)})
    facts = toolkit.probe(fake_machine(tree, env={"PATH": "/opt/cuda-13.0/bin"}, runner=runner), quick=True)
    assert runner.calls == []
    assert (facts.version, facts.sources["version"]) == ("13.0", "cuda.h")


def test_a_conda_nvcc_is_found_by_conda(tree: FakeTree) -> None:
    _toolkit(tree, "/opt/conda/envs/train", version_json="12.1.105")
    env = {"PATH": "/opt/conda/envs/train/bin:/usr/bin", "CONDA_PREFIX": "/opt/conda/envs/train"}
    facts = toolkit.probe(fake_machine(tree, env=env), quick=True)
    assert (facts.cuda_home, facts.found_by) == ("/opt/conda/envs/train", "conda")


def test_usr_local_cuda_is_the_last_guess_and_other_toolkits_are_listed_once(tree: FakeTree) -> None:
    _toolkit(tree, "/usr/local/cuda-12.4", version_json="12.4.131")
    _toolkit(tree, "/usr/local/cuda-11.8")
    tree.write("/usr/local/cuda-11.8/version.txt", "CUDA Version 11.8.89\n")
    tree.symlink("/usr/local/cuda", "cuda-12.4")
    facts = toolkit.probe(fake_machine(tree), quick=True)
    assert (facts.cuda_home, facts.found_by, facts.version) == ("/usr/local/cuda", "/usr/local/cuda", "12.4.131")
    assert facts.others == [ToolkitInstall(path="/usr/local/cuda-11.8", version="11.8.89")]


def test_no_toolkit_anywhere(tree: FakeTree) -> None:
    facts = toolkit.probe(fake_machine(tree), quick=False)
    assert (facts.cuda_home, facts.found_by, facts.version, facts.others) == (None, None, None, [])


@pytest.mark.skipif(not os.path.isdir("/usr/local/cuda-13.0"), reason="needs the CUDA 13.0 toolkit of the dev machine")
def test_the_cuda_13_toolkit_of_this_machine() -> None:
    live = Host.live()
    env = {
        **live.env,
        "PATH": os.pathsep.join(
            p for p in live.env.get("PATH", "").split(os.pathsep) if not os.path.isfile(os.path.join(p, "nvcc"))
        ),
    }
    env.pop("CUDA_HOME", None)
    env.pop("CUDA_PATH", None)
    facts = toolkit.probe(replace(live, env=env), quick=False)
    assert (facts.cuda_home, facts.found_by) == ("/usr/local/cuda", "/usr/local/cuda")
    assert facts.nvcc == "/usr/local/cuda/bin/nvcc"
    assert facts.version == "13.0.88"  # from the real nvcc
    assert all(o.path != "/usr/local/cuda-13.0" for o in facts.others)  # the symlink's target is not another toolkit


@pytest.mark.slow
def test_cuda_home_is_what_torchs_own_extension_builder_picks_here() -> None:
    from torch.utils.cpp_extension import _find_cuda_home  # the rule we mirror, run on the same environment

    facts = toolkit.probe(Host.live(), quick=True)
    assert facts.cuda_home == _find_cuda_home()


def test_an_nvcc_wrapper_outside_the_toolkit_gives_a_cuda_home_without_headers(tree: FakeTree) -> None:
    # the layout of the torchrig development machine: /usr/local/bin/nvcc is a two-line script that
    # execs /usr/local/cuda-13.0/bin/nvcc, and /usr/local/cuda links to cuda-13.0
    tree.write("/usr/local/bin/nvcc", '#!/bin/sh\nexec /usr/local/cuda-13.0/bin/nvcc "$@"\n', mode=0o755)
    _toolkit(tree, "/usr/local/cuda-13.0", version_json="13.0.88")
    tree.write("/usr/local/cuda-13.0/include/cuda_runtime.h", "/* CUDA runtime API */\n")
    tree.symlink("/usr/local/cuda", "cuda-13.0")
    machine = replace(fake_machine(tree), env={"PATH": "/usr/local/bin:/usr/bin"})
    facts = toolkit.probe(machine, quick=True)
    assert (facts.cuda_home, facts.found_by, facts.headers) == ("/usr/local", "nvcc on PATH", False)
    assert [o.path for o in facts.others] == ["/usr/local/cuda"]


def test_a_real_toolkit_home_has_its_headers(tree: FakeTree) -> None:
    _toolkit(tree, "/usr/local/cuda-12.6", version_json="12.6.85")
    tree.write("/usr/local/cuda-12.6/targets/x86_64-linux/include/cuda_runtime.h", "/* CUDA runtime API */\n")
    machine = replace(fake_machine(tree), env={"PATH": "/usr/bin", "CUDA_HOME": "/usr/local/cuda-12.6"})
    assert toolkit.probe(machine, quick=True).headers is True
