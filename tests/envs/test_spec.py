"""Environment names and environment.yml files: what is accepted, and one sentence for what is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchrig._core.errors import UserError
from torchrig.envs.spec import check_name, read_env_file


@pytest.mark.parametrize("name", ["torch", "py3.12-cu126", "A_b.c-1", "x" * 64])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "bad name", "../escape", "a/b", "-flag", ".hidden", "base", "root", "x" * 65, "é", "a:b"]
)
def test_bad_names_are_one_sentence(name: str) -> None:
    with pytest.raises(UserError, match="is not a valid environment name") as info:
        check_name(name)
    assert str(info.value).count(". ") == 0 and str(info.value).endswith(".")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "environment.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_conda_file_is_split_into_python_conda_pip_and_torch(tmp_path: Path) -> None:
    env = read_env_file(
        write(
            tmp_path,
            """\
name: train
channels: [conda-forge]
dependencies:
  - python=3.12
  - pip
  - numpy>=1.26
  - pip:
    - --extra-index-url https://pypi.tuna.tsinghua.edu.cn/simple
    - torch==2.12.1
    - lightning[extra]>=2
""",
        )
    )
    assert env.name == "train" and env.python == "3.12"
    assert env.conda == ("numpy>=1.26",)
    assert env.pip == ("--extra-index-url https://pypi.tuna.tsinghua.edu.cn/simple", "lightning[extra]>=2")
    assert (env.torch, env.torch_from) == ("2.12.1", "pip")
    assert env.needs_conda


def test_conda_pytorch_is_recognised_with_its_version(tmp_path: Path) -> None:
    env = read_env_file(
        write(tmp_path, "dependencies:\n  - python==3.11.*\n  - pytorch=2.5.1=cuda*\n  - cuda-version=12\n")
    )
    assert (env.torch, env.torch_from, env.python, env.conda) == ("2.5.1", "conda", "3.11", ())


def test_a_pip_only_file_needs_no_conda(tmp_path: Path) -> None:
    env = read_env_file(write(tmp_path, "dependencies:\n  - pip:\n    - tqdm\n"))
    assert not env.needs_conda and env.torch_from is None and env.python is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dependencies:\n  - python=3.11\n  - [oops\n", "does not parse as YAML at line"),
        ("just a string\n", "it must be a mapping"),
        ("dependencies: numpy\n", "dependencies must be a list"),
        (
            "dependencies:\n  - pytorch\n  - pip:\n    - torch\n",
            "asks for PyTorch from both conda (pytorch) and pip (torch)",
        ),
        (
            "channels: [pytorch, conda-forge]\ndependencies: [pytorch]\n",
            "uses the pytorch channel, which stopped at torch 2.5",
        ),
        ("dependencies:\n  - python>=3.10\n", "pin Python as python=3.12"),
        ("dependencies:\n  - {conda: numpy}\n", "is not a package spec"),
        ("dependencies:\n  - pytorch\n  - pip:\n    - torchvision\n", "asks for conda's pytorch and pip's torchvision"),
        ("dependencies:\n  - pip: tqdm\n", "the pip: entry must be a list"),
    ],
)
def test_bad_files_are_one_sentence(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError) as info:
        read_env_file(write(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_binary_and_directory_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read"):
        read_env_file(tmp_path / "nope.yml")
    with pytest.raises(UserError, match="is a directory"):
        read_env_file(tmp_path)
    binary = tmp_path / "b.yml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UserError, match="not a text file"):
        read_env_file(binary)
