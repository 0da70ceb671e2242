"""`torchrig doctor` output is pasted publicly: a planted secret never reaches --json, --markdown or the terminal.

Real command lines in subprocesses, on a real collect_env output with the lines people paste next to it
(a private index with its password, a token exported in the shell, a traceback under their home).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from report_corpus import CORPUS

pytestmark = pytest.mark.slow  # each test starts the CLI in a subprocess

PASSWORD = "s3cretPassw0rd"
TOKEN = "hf_" + "Q" * 34
PLANTED = f"""
(venv) alice@gpu-box:~$ export HF_TOKEN={TOKEN}
(venv) alice@gpu-box:~$ pip install --index-url https://alice:{PASSWORD}@pypi.corp.example/simple torch==2.1.0
Traceback (most recent call last):
  File "/home/alice/miniconda3/envs/train/lib/python3.10/site-packages/torch/__init__.py", line 1, in <module>
ERROR: Could not fetch URL https://alice:{PASSWORD}@pypi.corp.example/simple/torch/: connection refused
"""


def doctor(*args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "torchrig", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout + proc.stderr


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "issue.txt"
    path.write_text((CORPUS / "pytorch-43058-v100-driver-418-cu102.txt").read_text() + PLANTED)
    return path


@pytest.mark.parametrize("fmt", ["--json", "--markdown", "--facts"])
def test_a_planted_password_and_token_never_reach_any_output(report: Path, fmt: str) -> None:
    out = doctor("--report", str(report), fmt)
    assert PASSWORD not in out and TOKEN not in out
    assert "/home/alice/miniconda3/envs/train" in out  # paths are kept unless asked


def test_the_json_report_keeps_its_facts_with_the_secrets_masked(report: Path) -> None:
    facts = json.loads(doctor("--report", str(report), "--json"))["facts"]
    # what was tried and what failed stay readable, the URL as pip shows it
    assert facts["tried"] == ["pip install --index-url https://alice:****@pypi.corp.example/simple torch==2.1.0"]
    assert any("https://alice:****@pypi.corp.example/simple/torch/" in line for line in facts["failures"])
    assert facts["driver"]["userspace"] == "418.67"  # the rest is as read


def test_a_saved_json_with_a_token_in_its_environment_is_shown_masked(tmp_path: Path, report: Path) -> None:
    saved = json.loads(doctor("--report", str(report), "--json"))
    saved["facts"]["system"]["env"] = {"HF_TOKEN": TOKEN, "NCCL_SOCKET_IFNAME": "eth0"}
    path = tmp_path / "node.json"
    path.write_text(json.dumps(saved))
    for fmt in ("--json", "--markdown", "--facts"):
        out = doctor("--report", str(path), fmt)
        assert TOKEN not in out and PASSWORD not in out, fmt
        assert "eth0" in out
    assert json.loads(doctor("--report", str(path), "--json"))["facts"]["system"]["env"]["HF_TOKEN"] == "****"


@pytest.mark.parametrize("fmt", ["--json", "--markdown", "--facts"])
def test_redact_paths_shows_home_directories_as_tilde_and_the_user_as_user(report: Path, fmt: str) -> None:
    out = doctor("--report", str(report), fmt, "--redact-paths")
    assert "alice" not in out.lower() and PASSWORD not in out
    assert "~/miniconda3/envs/train" in out


def test_redact_paths_names_the_same_user_the_same_way_everywhere(report: Path) -> None:
    facts = json.loads(doctor("--report", str(report), "--json", "--redact-paths"))["facts"]
    assert facts["torch"]["location"] == "~/miniconda3/envs/train/lib/python3.10/site-packages/torch"
    assert facts["system"]["conda_prefix"] == "~/miniconda3/envs/train"
    assert facts["tried"] == ["pip install --index-url https://<user>:****@pypi.corp.example/simple torch==2.1.0"]


def test_a_live_run_masks_secret_variables_and_with_redact_paths_its_home_paths() -> None:
    env = {"PYTORCH_HUB_TOKEN": TOKEN, "NCCL_IB_PASSWORD": PASSWORD, "PYTHONPATH": "/home/alice/src"}
    out = doctor("--quick", "--json", env=env)
    assert TOKEN not in out and PASSWORD not in out
    system = json.loads(out)["facts"]["system"]
    assert system["env"]["PYTORCH_HUB_TOKEN"] == "****" and system["env"]["PYTHONPATH"] == "/home/alice/src"
    for fmt in ("--markdown", "--facts"):
        shown = doctor("--quick", fmt, "--redact-paths", env=env)
        assert TOKEN not in shown and PASSWORD not in shown and "alice" not in shown, fmt
        assert "~/src" in shown


def test_merged_nodes_are_masked_too(tmp_path: Path, report: Path) -> None:
    saved = json.loads(doctor("--report", str(report), "--json"))
    saved["facts"]["system"]["env"] = {"HF_TOKEN": TOKEN}
    saved["facts"]["tried"] = [f"pip install -i https://alice:{PASSWORD}@pypi.corp.example/simple torch"]
    nodes = []
    for name in ("node-a", "node-b"):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(saved))
        nodes.append(str(path))
    for fmt in ("--json", "--markdown", "--facts"):
        out = doctor("--merge", *nodes, fmt, "--redact-paths")
        assert TOKEN not in out and PASSWORD not in out and "alice" not in out, fmt
