"""A live `torchrig doctor` starts its probes from the entry point, before typer loads; nothing else does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from torchrig.cli import early
from torchrig.doctor.facts import Facts


@pytest.fixture
def fake_gather(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    calls: list[bool] = []

    def gather(host: object = None, *, quick: bool = False, board: object = None) -> Facts:
        calls.append(quick)
        return Facts(origin="live", report_format="early")

    monkeypatch.setattr("torchrig.doctor.probe.gather", gather)
    yield calls
    early.take()  # leave nothing pending for the next test


@pytest.mark.parametrize("argv", [["doctor"], ["doctor", "--json"], ["--debug", "doctor", "--markdown", "--strict"]])
def test_a_live_doctor_starts_its_probes_early_and_hands_them_over_once(
    argv: list[str], fake_gather: list[bool]
) -> None:
    early.start_if_doctor(argv)
    pending = early.take()
    assert pending is not None and pending[0].result(timeout=10).report_format == "early"
    assert fake_gather == [False]
    assert early.take() is None


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["selftest"],
        ["doctor", "--quick"],
        ["doctor", "--report", "f.txt"],
        ["doctor", "--report=f.txt"],
        ["doctor", "--help"],
        ["env", "plan", "doctor"],
    ],
)
def test_anything_but_a_live_doctor_starts_nothing(argv: list[str], fake_gather: list[bool]) -> None:
    early.start_if_doctor(argv)
    assert early.take() is None and fake_gather == []


def test_a_usage_error_after_the_probes_started_early_is_still_a_plain_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "torchrig", "doctor", "--no-such-option"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "No such option" in proc.stderr and "Traceback" not in proc.stderr


def test_the_timeout_given_to_doctor_is_read_before_typer_parses_it() -> None:
    from torchrig.cli.early import timeout_of

    assert timeout_of(["--timeout", "12"]) == 12.0
    assert timeout_of(["--json", "--timeout=7.5"]) == 7.5
    assert timeout_of(["--timeout", "soon"]) is None and timeout_of(["--timeout=0"]) is None
    assert timeout_of(["--json"]) is None


def test_the_probe_board_names_the_probes_still_running_longest_first() -> None:
    import time

    from torchrig.doctor.probe import ProbeBoard

    board = ProbeBoard()
    board.start("torch")
    time.sleep(0.01)
    board.start("gpus")
    assert board.running() == ["torch", "gpus"]
    board.finish("torch")
    assert board.running() == ["gpus"]
