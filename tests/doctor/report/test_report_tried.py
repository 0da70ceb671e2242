"""What a report shows was already tried: installer lines read, and a fix that does not hand back the same step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from torchrig.doctor.checks import run_checks
from torchrig.doctor.facts import Facts
from torchrig.doctor.report import parse_report, tried

_COLLECT_ENV = """\
PyTorch version: 2.7.0+cpu
Is debug build: False
CUDA used to build PyTorch: None
ROCM used to build PyTorch: N/A

OS: Ubuntu 22.04.4 LTS (x86_64)
Python version: 3.11.9 (main, Apr 19 2024, 16:48:06) [GCC 11.2.0] (64-bit runtime)
Is CUDA available: False
CUDA runtime version: No CUDA
GPU models and configuration: GPU 0: NVIDIA GeForce RTX 4090
Nvidia driver version: 570.124.06

Versions of relevant libraries:
[pip3] numpy==2.1.2
[pip3] torch==2.7.0+cpu
[pip3] torchvision==0.22.0+cpu
"""


def test_installer_lines_are_read_with_any_prompt_and_prose_is_not() -> None:
    text = """I tried everything, I did pip install torch but no luck.
(base) PS C:\\Users\\me> pip install torch==2.1.0+cu118 torchvision --index-url https://download.pytorch.org/whl/cu118
(venv) me@box:~/proj$ pip3 install torch --index-url https://download.pytorch.org/whl/cu121
$ conda install pytorch pytorch-cuda=12.1 -c pytorch -c nvidia
!pip install -q torch
`python3 -m pip install "torch>=2"`
sudo apt-get install nvidia-driver-535
$ pip3 install torch --index-url https://download.pytorch.org/whl/cu121
"""
    assert tried.commands(text) == [
        "pip install torch==2.1.0+cu118 torchvision --index-url https://download.pytorch.org/whl/cu118",
        "pip3 install torch --index-url https://download.pytorch.org/whl/cu121",
        "conda install pytorch pytorch-cuda=12.1 -c pytorch -c nvidia",
        "pip install -q torch",
        'python3 -m pip install "torch>=2"',
        "sudo apt-get install nvidia-driver-535",
    ]


def test_torch_installs_name_the_release_and_variant_they_asked_for() -> None:
    got = tried.torch_installs(
        [
            "pip install torch==2.1.0+cu118 torchvision",
            "pip install torch==2.5.1 --index-url=https://mirror.example/pytorch/whl/cu124/",
            "uv pip install torch --index https://download.pytorch.org/whl/cpu",
            "pip install torchvision==0.20.1",
            "conda install pytorch -c pytorch",
        ]
    )
    assert [(t.version, t.variant) for t in got] == [("2.1.0", "cu118"), ("2.5.1", "cu124"), (None, "cpu")]


def _fix(text: str) -> list[str]:
    findings = run_checks(parse_report(text))
    assert findings[0].code == "torch.cpu-only-build"
    return list(findings[0].fix)


def test_a_cuda_install_that_did_not_land_gets_the_next_step_not_the_same_one() -> None:
    report = "$ pip3 install torch torchvision --index-url https://download.pytorch.org/whl/cu128\n" + _COLLECT_ENV
    fix = _fix(report)
    assert "already ran" in fix[0] and "whl/cu128" in fix[0] and "torch is still 2.7.0+cpu" in fix[0]
    assert fix[1].startswith("python -m pip uninstall -y torch")
    assert fix[2].startswith("python -m pip install --no-cache-dir torch==2.7.0 ")
    assert fix[3].startswith("python -c ") and "torch.__file__" in fix[3]


def test_without_an_attempt_or_with_an_unrelated_one_the_fix_is_the_plain_one() -> None:
    for prefix in ("", "$ pip install torch --index-url https://download.pytorch.org/whl/cpu\n"):
        fix = _fix(prefix + _COLLECT_ENV)
        assert not any("already ran" in line or "--no-cache-dir" in line for line in fix), fix


def test_tried_commands_survive_the_json_round_trip() -> None:
    facts = parse_report(
        "$ pip install torch==2.7.0 --index-url https://download.pytorch.org/whl/cu126\n" + _COLLECT_ENV
    )
    assert Facts.from_dict(json.loads(json.dumps(facts.to_dict()))).tried == facts.tried != []


@pytest.mark.slow
def test_the_command_line_prints_the_next_step(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text("$ pip install torch==2.7.0 --index-url https://download.pytorch.org/whl/cu126\n" + _COLLECT_ENV)
    proc = subprocess.run(
        [sys.executable, "-m", "torchrig", "doctor", "--report", str(report), "--json"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    fix = json.loads(proc.stdout)["findings"][0]["fix"]
    assert any("already ran" in line for line in fix) and any("--no-cache-dir" in line for line in fix)
