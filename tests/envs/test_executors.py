"""Executors at the subprocess seam: which tool is used, the exact argv, and clean-up on failure.

conda, mamba and micromamba are not on this machine, so their executor is driven through FakeRunner,
which answers the way the real tools do (``env list --json`` output as conda prints it). The venv
executor is exercised for real in test_cli_env.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from torchrig._core.errors import UserError
from torchrig._core.seams.runner import Completed, FakeRunner
from torchrig.envs.executors import (
    MARKER,
    CondaExecutor,
    CreateFailed,
    Request,
    UvExecutor,
    VenvExecutor,
    choose_executor,
    create,
    read_marker,
)
from torchrig.envs.spec import read_env_file
from torchrig.knowledge.builds import Target, plan

PLAN = plan(Target(driver="580.95.05", capabilities=("8.6",)), torch="2.13", python="3.12")


def _which(available: dict[str, str]):
    return available.get


def test_conda_family_first_then_uv_then_venv(tmp_path: Path) -> None:
    runner = FakeRunner()
    assert isinstance(
        choose_executor(runner, python="3.12", which=_which({"micromamba": "/opt/mm", "uv": "/u"})), CondaExecutor
    )
    mamba = choose_executor(runner, python="3.12", which=_which({"mamba": "/m", "conda": "/c"}))
    assert isinstance(mamba, CondaExecutor) and mamba.kind == "mamba"
    uv = choose_executor(runner, python="3.12", which=_which({"uv": "/u"}))
    assert isinstance(uv, UvExecutor) and uv.uv == "/u"
    import sys

    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    venv = choose_executor(runner, python=here, which=_which({}))
    assert type(venv) is VenvExecutor and venv.python == sys.executable
    with pytest.raises(UserError, match=r"Python 3\.99 is not on PATH"):
        choose_executor(runner, python="3.99", which=_which({}))


class FakeConda:
    """Answers like conda: env list --json, create (makes the prefix), run, env remove (deletes it)."""

    def __init__(self, root: Path, fail_on: str | None = None) -> None:
        self.root = root
        self.fail_on = fail_on
        self.envs: list[Path] = []

    def __call__(self, argv: tuple[str, ...]) -> Completed:
        if argv[1:3] == ("env", "list"):
            return Completed(argv, 0, json.dumps({"envs": [str(self.root), *map(str, self.envs)]}))
        if argv[1] == "create":
            prefix = self.root / "envs" / argv[argv.index("-n") + 1]
            (prefix / "bin").mkdir(parents=True)
            self.envs.append(prefix)
        if argv[1:3] == ("env", "remove"):
            prefix = self.root / "envs" / argv[argv.index("-n") + 1]
            import shutil

            shutil.rmtree(prefix, ignore_errors=True)
            self.envs = [p for p in self.envs if p != prefix]
        if self.fail_on and self.fail_on in argv:
            return Completed(argv, 1, "", "ERROR: No matching distribution found for torch==2.13.*")
        return Completed(argv, 0, "")


def test_conda_with_pip_torch_never_asks_conda_for_pytorch(tmp_path: Path) -> None:
    fake = FakeConda(tmp_path / "mamba")
    runner = FakeRunner({"mamba": fake})
    ex = CondaExecutor(tool="/usr/bin/mamba", runner=runner, kind="mamba")
    (tmp_path / "env.yml").write_text("dependencies:\n  - python=3.12\n  - numpy\n  - pip:\n    - tqdm\n")
    made = create(ex, Request("work", PLAN, read_env_file(tmp_path / "env.yml")))
    argvs = [a for a in runner.calls if a[1] not in ("env",)]
    create_argv = argvs[0]
    assert create_argv[:5] == ("/usr/bin/mamba", "create", "-y", "-n", "work")
    assert "numpy" in create_argv and "python=3.12" in create_argv
    assert not any(a.startswith("pytorch") for a in create_argv)
    pip_torch = argvs[1]
    assert pip_torch[:5] == ("/usr/bin/mamba", "run", "-n", "work", "python")
    assert pip_torch[-3:] == ("torch==2.13.*", "--index-url", "https://download.pytorch.org/whl/cu130")
    assert "tqdm" in argvs[2]
    assert made.doctor_argv == ("/usr/bin/mamba", "run", "-n", "work", "torchrig", "doctor", "--json")
    marker = read_marker(tmp_path / "mamba" / "envs" / "work")
    assert marker and marker["index_url"] == "https://download.pytorch.org/whl/cu130" and marker["torch_from"] == "pip"


def test_the_marker_is_written_atomically_and_durably_with_no_temp_file_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchrig._core.atomic
    import torchrig.envs.executors as executors

    written: list[Path] = []
    real_write = torchrig._core.atomic.write_atomic

    def recording(path, data, **kw):  # the shared fsync-and-rename writer, not a hand-made copy
        written.append(Path(path))
        return real_write(path, data, **kw)

    monkeypatch.setattr(executors, "write_atomic", recording)
    runner = FakeRunner({"mamba": FakeConda(tmp_path / "mamba")})
    ex = CondaExecutor(tool="/usr/bin/mamba", runner=runner, kind="mamba")
    create(ex, Request("work", PLAN))
    prefix = tmp_path / "mamba" / "envs" / "work"
    assert written == [prefix / MARKER]
    assert sorted(p.name for p in prefix.iterdir()) == ["bin", MARKER]
    assert read_marker(prefix)["name"] == "work"


def test_conda_pytorch_from_the_file_comes_from_conda_forge_with_a_cuda_version_pin_and_no_pip_torch(
    tmp_path: Path,
) -> None:
    fake = FakeConda(tmp_path / "conda")
    runner = FakeRunner({"conda": fake})
    ex = CondaExecutor(tool="conda", runner=runner)
    (tmp_path / "env.yml").write_text("channels: [conda-forge]\ndependencies:\n  - python=3.12\n  - pytorch\n")
    create(ex, Request("cf", PLAN, read_env_file(tmp_path / "env.yml")))
    create_argv = next(a for a in runner.calls if a[1] == "create")
    assert "pytorch=2.13.*=cuda*" in create_argv and "cuda-version>=13.0,<14" in create_argv
    assert not any("torch==" in part for call in runner.calls for part in call)


def test_a_failed_conda_step_removes_the_environment_and_says_which_step(tmp_path: Path) -> None:
    fake = FakeConda(tmp_path / "conda", fail_on="torch==2.13.*")
    runner = FakeRunner({"conda": fake})
    ex = CondaExecutor(tool="conda", runner=runner)
    with pytest.raises(CreateFailed) as info:
        create(ex, Request("broken", PLAN))
    message = str(info.value)
    assert message.startswith("install torch (cu130 build) failed (conda exited 1: ERROR: No matching distribution")
    assert message.endswith("removed the half-made environment (conda environment broken), nothing is left behind.")
    assert ("conda", "env", "remove", "-y", "-n", "broken") in runner.calls
    assert not (tmp_path / "conda" / "envs" / "broken").exists()


def test_an_existing_conda_environment_is_refused_before_anything_runs(tmp_path: Path) -> None:
    fake = FakeConda(tmp_path / "conda")
    fake.envs.append(tmp_path / "conda" / "envs" / "taken")
    runner = FakeRunner({"conda": fake})
    with pytest.raises(UserError, match="already exists"):
        create(CondaExecutor(tool="conda", runner=runner), Request("taken", PLAN))
    assert all(call[1] == "env" for call in runner.calls)


def test_a_venv_cannot_take_conda_packages(tmp_path: Path) -> None:
    (tmp_path / "env.yml").write_text("dependencies:\n  - python=3.12\n  - ffmpeg\n")
    ex = VenvExecutor(python="python3", runner=FakeRunner(), root=tmp_path / "envs")
    with pytest.raises(UserError, match=r"needs conda packages \(ffmpeg\) and no conda, mamba or micromamba"):
        create(ex, Request("v", PLAN, read_env_file(tmp_path / "env.yml")))
    assert not (tmp_path / "envs").exists()


def test_uv_installs_torch_from_the_plans_index_as_an_extra_index(tmp_path: Path) -> None:
    ex = UvExecutor(python="3.12", runner=FakeRunner(), root=tmp_path / "envs", uv="/bin/uv")
    steps = ex.steps(Request("u", PLAN))
    assert steps[0].argv == ("/bin/uv", "venv", "--python", "3.12", str(tmp_path / "envs" / "u"))
    assert steps[1].argv[-3:] == ("torch==2.13.*", "--index", "https://download.pytorch.org/whl/cu130")
    offline = ex.steps(Request("u", PLAN, find_links="/wheels"))
    assert offline[1].argv[-4:] == ("torch==2.13.*", "--no-index", "--find-links", "/wheels")


CONDA_EXPORT = """\
name: work
channels:
  - conda-forge
dependencies:
  - python=3.12.7
  - pip=24.3.1
  - numpy=2.1.3
  - pip:
      - torch==2.13.0+cu130
      - torchrig==0.1.0
prefix: {prefix}
"""


def test_conda_export_puts_the_torch_index_first_in_the_pip_list_and_drops_the_prefix(tmp_path: Path) -> None:
    from torchrig.envs.export import export

    fake = FakeConda(tmp_path / "conda")
    prefix = tmp_path / "conda" / "envs" / "work"

    def answer(argv: tuple[str, ...]) -> Completed:
        if argv[1:3] == ("env", "export"):
            assert argv[-1] == "--no-builds"
            return Completed(argv, 0, CONDA_EXPORT.format(prefix=prefix))
        return fake(argv)

    runner = FakeRunner({"conda": answer})
    ex = CondaExecutor(tool="conda", runner=runner)
    create(ex, Request("work", PLAN))
    text = export("work", [VenvExecutor(python="python3", runner=runner, root=tmp_path / "venvs"), ex], runner).text
    assert "prefix:" not in text
    assert text.index("- --extra-index-url https://download.pytorch.org/whl/cu130") < text.index(
        "- torch==2.13.0+cu130"
    )
    assert "  - numpy=2.1.3" in text


def test_ctrl_c_in_the_middle_removes_what_was_made_and_is_not_swallowed(tmp_path: Path) -> None:
    root = tmp_path / "envs"

    def venv(argv: tuple[str, ...]) -> Completed:
        (Path(argv[-1]) / "bin").mkdir(parents=True)  # what `python -m venv PREFIX` leaves
        return Completed(argv, 0)

    def pip(argv: tuple[str, ...]) -> Completed:
        raise KeyboardInterrupt

    ex = VenvExecutor(python="/usr/bin/python3", runner=FakeRunner({"python3": venv, "python": pip}), root=root)
    with pytest.raises(KeyboardInterrupt):
        create(ex, Request("stopped", PLAN))
    assert not (root / "stopped").exists()


def test_torchvision_from_the_file_comes_from_torchs_index_with_the_releases_pair(tmp_path: Path) -> None:
    (tmp_path / "env.yml").write_text(
        "dependencies:\n  - pip:\n    - torchvision\n    - torchaudio==2.11.0\n    - tqdm\n"
    )
    ex = VenvExecutor(python="python3", runner=FakeRunner(), root=tmp_path / "envs")
    steps = ex.steps(Request("v", PLAN, read_env_file(tmp_path / "env.yml")))
    torch_step = steps[1]
    assert torch_step.title == "install torch, torchvision, torchaudio (cu130 build)"
    assert torch_step.argv[-5:] == (
        "torch==2.13.*",
        "torchvision==0.28.*",
        "torchaudio==2.11.0",
        "--index-url",
        "https://download.pytorch.org/whl/cu130",
    )
    assert steps[2].argv[-1] == "tqdm" and not any(a.startswith("torch") for a in steps[2].argv)
