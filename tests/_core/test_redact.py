"""What the doctor's outputs mask before they are pasted publicly: each rule as an example."""

from __future__ import annotations

import pytest

from torchrig._core import redact
from torchrig._core.redact import MASK, HomeDirs, is_secret_name, secrets, url_credentials, user_names


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://alice:s3cret@pypi.corp.example/simple", "https://alice:****@pypi.corp.example/simple"),
        ("https://ghp_token@github.com/org/repo.git", "https://****@github.com/org/repo.git"),
        ("http://u:p@ss@host:8080/x", "http://u:****@host:8080/x"),  # an unencoded "@" in the password
        ("https://download.pytorch.org/whl/cu121", "https://download.pytorch.org/whl/cu121"),
        ("https://host:8080/path?mail=a@b", "https://host:8080/path?mail=a@b"),
    ],
)
def test_url_credentials_are_masked_as_pip_shows_them(url: str, shown: str) -> None:
    assert url_credentials(f"pip install --index-url {url} torch") == f"pip install --index-url {shown} torch"


@pytest.mark.parametrize(
    "name",
    ["HF_TOKEN", "GITHUB_TOKEN", "HUGGING_FACE_HUB_TOKEN", "OPENAI_API_KEY", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY"],
)
def test_variables_named_like_secrets_are_secret(name: str) -> None:
    assert is_secret_name(name) and is_secret_name(name.lower())


@pytest.mark.parametrize(
    "name", ["CUDA_VISIBLE_DEVICES", "MAX_TOKENS", "TOKENIZERS_PARALLELISM", "PYTORCH_CUDA_ALLOC_CONF"]
)
def test_ordinary_variables_are_not(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("export HF_TOKEN=hf_abcdef", "export HF_TOKEN=****"),
        ('HF_TOKEN="hf_abcdef" python train.py', 'HF_TOKEN="****" python train.py'),
        ("os.environ['OPENAI_API_KEY'] = 'sk-123'", "os.environ['OPENAI_API_KEY'] = '****'"),
        ('$env:HF_TOKEN = "hf_abc"', '$env:HF_TOKEN = "****"'),
        ("db_password: hunter2, MAX_TOKENS=5", "db_password: ****, MAX_TOKENS=5"),
        ("huggingface-cli login --token hf_abc", "huggingface-cli login --token ****"),
        ("a token in prose: hf_" + "x" * 34 + ".", "a token in prose: ****."),
        ("CUDA_VISIBLE_DEVICES=0,1 python train.py", "CUDA_VISIBLE_DEVICES=0,1 python train.py"),
    ],
)
def test_secret_values_are_masked_however_they_are_assigned(line: str, shown: str) -> None:
    assert secrets(line) == shown
    assert secrets(shown) == shown  # masking twice changes nothing


def test_text_without_secrets_is_returned_unchanged() -> None:
    text = "RuntimeError: CUDA error: no kernel image is available for execution on the device"
    assert secrets(text) is text


def test_user_names_come_from_home_directories_of_every_platform() -> None:
    homes = user_names(
        [
            "/home/alice/.local/lib/python3.10/site-packages/torch",
            "C:\\Users\\Ann Lee\\AppData\\Local\\Programs\\Python",
            "/Users/bob/miniforge3/bin/python",
            "/Users/Shared/data",  # a shared folder, not a user
        ]
    )
    assert homes == HomeDirs(("Ann Lee", "alice", "bob"))


def test_home_directories_become_tilde_and_names_elsewhere_become_user() -> None:
    homes = HomeDirs(("alice",))
    assert homes.apply("/home/alice/.cache/torch and /Users/alice") == "~/.cache/torch and ~"
    assert homes.apply("(venv) alice@gpu-box:~$ ls /scratch/alice/x") == "(venv) <user>@gpu-box:~$ ls /scratch/<user>/x"
    assert homes.apply("/home/alicex/y and malice") == "/home/alicex/y and malice"  # other names stay


def test_generic_account_names_keep_their_word_but_lose_their_home() -> None:
    homes = user_names(["/home/user/miniconda3"])
    assert homes.apply("/home/user/miniconda3; pip install --user torch") == "~/miniconda3; pip install --user torch"


def test_json_like_data_masks_secret_keys_and_every_string() -> None:
    data = {
        "env": {"HF_TOKEN": "hf_abc", "LD_LIBRARY_PATH": "/home/alice/cuda/lib64", "EMPTY_TOKEN": ""},
        "tried": ["pip install -i https://alice:pw@pypi.corp/simple torch"],
        "line": 3,
    }
    masked = redact.data(data, user_names(redact.strings(data)))
    assert masked == {
        "env": {"HF_TOKEN": MASK, "LD_LIBRARY_PATH": "~/cuda/lib64", "EMPTY_TOKEN": ""},
        "tried": ["pip install -i https://<user>:****@pypi.corp/simple torch"],
        "line": 3,
    }


def test_a_user_named_like_a_word_of_the_report_loses_only_the_home_directory() -> None:
    homes = redact.user_names(["/home/nvidia/train.py", "/home/dev/x"])
    shown = homes.apply("GPU 0: NVIDIA Jetson AGX Orin, /home/nvidia/train.py, /dev/nvidia0, nvidia-smi, /home/dev/x")
    assert shown == "GPU 0: NVIDIA Jetson AGX Orin, ~/train.py, /dev/nvidia0, nvidia-smi, ~/x"


def test_a_url_after_a_long_dotted_run_is_still_masked() -> None:
    # (the scheme may not start inside another word: "a.a.a...://" is no URL, and trying one from each
    # character of such a run was quadratic; the speed is not asserted here, only the answer)
    assert redact.secrets("see " + "a." * 5000 + " https://u:secret@host/simple").endswith("https://u:****@host/simple")
    assert redact.secrets("git+https://u:secret@github.com/x") == "git+https://u:****@github.com/x"
    assert redact.secrets("index-url=https://u:secret@h") == "index-url=https://u:****@h"
