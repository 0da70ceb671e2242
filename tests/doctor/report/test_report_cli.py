"""`torchrig doctor --report FILE` through the real command line: exit codes, JSON, stdin, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from report_corpus import CORPUS

pytestmark = pytest.mark.slow  # each test starts the CLI in a subprocess


def doctor(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "torchrig", "doctor", *args], input=stdin, capture_output=True, timeout=120, check=False
    )


def test_a_broken_machines_collect_env_exits_1_with_the_root_cause_first() -> None:
    proc = doctor("--report", str(CORPUS / "pytorch-43058-v100-driver-418-cu102.txt"), "--json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["schema"] == "torchrig.doctor/1"
    assert out["findings"][0]["code"] == "driver.too-old"
    assert out["facts"]["origin"] == "report" and out["facts"]["report_format"] == "collect_env"
    assert out["facts"]["driver"]["userspace"] == "418.67"


def _index_urls(proc: subprocess.CompletedProcess[bytes]) -> set[str]:
    lines = [line for f in json.loads(proc.stdout)["findings"] for line in f.get("fix", [])]
    return {line.split("--index-url ")[1].split()[0] for line in lines if "--index-url " in line}


def test_a_reports_fixes_ignore_this_users_mirror_unless_asked(sandbox_home: Path) -> None:
    # someone else's machine: fixes pasted back to them must not point at this user's (maybe internal) mirror
    config = sandbox_home / ".config" / "torchrig" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[torch]\nindex = "https://pypi.internal.example/pytorch"\n')
    report = str(CORPUS / "pytorch-150733-rtx5090d-cu126.txt")
    plain = _index_urls(doctor("--report", report, "--json"))
    assert plain and all(url.startswith("https://download.pytorch.org/whl/") for url in plain)
    asked = _index_urls(doctor("--report", report, "--json", "--mirror"))
    assert asked and all(url.startswith("https://pypi.internal.example/pytorch/") for url in asked)


def test_a_log_on_stdin_is_read_with_a_dash() -> None:
    log = (CORPUS / "panopticseg-20-container-no-gpu.txt").read_bytes()
    proc = doctor("--report", "-", "--json", stdin=log)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["code"] == "container.no-gpu"


def test_a_healthy_report_exits_0() -> None:
    proc = doctor("--report", str(CORPUS / "pytorch-46973-colab-t4-healthy.txt"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_doctors_own_json_explains_the_same_machine_again(tmp_path: Path) -> None:
    first = doctor("--report", str(CORPUS / "dalle-playground-104-nvrm-api-mismatch.txt"), "--json")
    saved = tmp_path / "doctor.json"
    saved.write_bytes(first.stdout)
    again = doctor("--report", str(saved), "--json")
    assert again.returncode == first.returncode == 1
    before, after = json.loads(first.stdout), json.loads(again.stdout)
    assert [f["code"] for f in after["findings"]] == [f["code"] for f in before["findings"]]
    assert after["facts"]["report_format"] == "torchrig-json"
    assert after["facts"]["driver"] == before["facts"]["driver"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", b"empty"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, b"binary"),
        (b"Dear diary, today the weather was fine and nothing broke.\n", b"nothing in the report"),
    ],
    ids=["empty", "binary", "unrelated"],
)
def test_bad_input_is_one_sentence_and_exit_2(tmp_path: Path, content: bytes, words: bytes) -> None:
    report = tmp_path / "report.txt"
    report.write_bytes(content)
    proc = doctor("--report", str(report))
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr and proc.stdout == b""
    # One sentence (main() prints it through rich, which may wrap it at the console width).
    message = b" ".join(proc.stderr.split())
    assert message.startswith(b"torchrig: ") and message.endswith(b".") and words in message


def test_a_utf16_file_from_windows_powershell_is_read(tmp_path: Path) -> None:
    # `python -m torch.utils.collect_env > env.txt` in Windows PowerShell 5 writes UTF-16 with a BOM.
    text = (CORPUS / "pytorch-122924-windows-cpu-build-rtx4080.txt").read_text().replace("\n", "\r\n")
    report = tmp_path / "env.txt"
    report.write_bytes(text.encode("utf-16"))
    proc = doctor("--report", str(report), "--json")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["code"] == "torch.cpu-only-build"


def test_a_selftest_report_with_a_broken_p2p_pair_is_explained_as_gpu_p2p_broken(tmp_path: Path) -> None:
    # the self-test proves what no probe can: a direct copy that came back wrong (planted here with --inject)
    selftest = subprocess.run(
        [sys.executable, "-m", "torchrig", "selftest", "--cpu", "2", "--inject", "p2p-zeros", "--json"],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert selftest.returncode == 1, selftest.stderr
    saved = tmp_path / "selftest.json"
    saved.write_bytes(selftest.stdout)
    proc = doctor("--report", str(saved), "--json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["facts"]["report_format"] == "torchrig-selftest-json"
    assert out["findings"][0]["code"] == "gpu.p2p-broken"
    assert "NCCL_P2P_DISABLE=1" in out["findings"][0]["fix"][0]
    assert out["facts"]["gpus"]["p2p"][0]["source"] == "torchrig selftest (stand-ins, --inject)"


def test_a_healthy_selftest_report_has_nothing_to_explain() -> None:
    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "recorded" / "gpu-h200" / "selftest.json"
    proc = doctor("--report", str(fixture), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["findings"] == []
