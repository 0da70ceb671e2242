"""The self-test's report read back: a real H200 run's ``--json`` (tests/fixtures/recorded/gpu-h200) is a
report the code reads, writes back unchanged, and renders as the console showed it on that machine."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from torchrig.cli.selftest import render, verdict_line
from torchrig.selftest.report import SCHEMA, Report

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "gpu-h200"


def recorded_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDED / "selftest.json").read_text())
    return data


def rendered(report: Report) -> str:
    buffer = io.StringIO()
    render(Console(file=buffer, width=200, no_color=True, soft_wrap=True, highlight=False), report)
    return buffer.getvalue()


def figures_masked(text: str) -> list[str]:
    """The lines with every number replaced: two runs of the same machine differ only there."""
    return [re.sub(r"\d+(\.\d+)?(e[+-]\d+)?", "#", line) for line in text.strip().splitlines()]


def test_the_recorded_gpu_report_reads_back_and_writes_the_same_json() -> None:
    data = recorded_json()
    assert data["schema"] == SCHEMA == "torchrig.selftest/1"
    report = Report.from_dict(data)
    assert (report.plan.device, report.plan.backend, report.plan.world_size, report.plan.gpus) == (
        "cuda",
        "nccl",
        1,
        (0,),
    )
    assert report.environment["device"] == "NVIDIA H200"
    assert [(s.name, s.verdict) for s in report.stages] == [
        ("rendezvous", "pass"),
        ("smoke", "pass"),
        ("p2p", "skip"),
        ("collectives", "pass"),
        ("training", "pass"),
        ("checkpoint", "pass"),
    ]
    assert report.ok and report.exit_code == 0
    assert report.to_dict() == data  # nothing lost, nothing invented: ok and exit_code follow from the stages


def test_the_recorded_gpu_report_renders_as_that_machine_printed_it() -> None:
    report = Report.from_dict(recorded_json())
    text = rendered(report)
    assert text.splitlines()[0] == "torchrig selftest: --gpus all: 1 GPU (0) with NCCL."
    assert "SKIP peer-to-peer (0.0 s): skipped: one GPU per node: no pair to copy between" in text
    assert text.strip().endswith("selftest passed in 12.1 s on 1 CUDA process with nccl.")
    # The console lines of another run on the same H200, figures aside: the same format, line for line.
    # Since that recording, "1 cuda process(es)" reads "1 CUDA process"; nothing else changed.
    recorded = (RECORDED / "selftest.txt").read_text().replace("1 cuda process(es)", "1 CUDA process")
    assert figures_masked(text) == figures_masked(recorded)


def test_a_failed_stage_read_back_renders_its_problem_cause_and_code() -> None:
    data = recorded_json()
    p2p = next(s for s in data["stages"] if s["name"] == "p2p")
    p2p.update(
        verdict="fail",
        summary="1 ordered pair(s) copied directly and via the host (stand-ins within one GPU, for --inject)",
        problem="direct copies delivered different data (cuda:0->cuda:0) while copies via the host were correct",
        cause="the GPUs advertise peer-to-peer access but a direct copy delivered different data",
        code="gpu.p2p-broken",
    )
    report = Report.from_dict(data)
    assert not report.ok and report.exit_code == 1 and report.to_dict()["ok"] is False
    lines = rendered(report).splitlines()
    assert verdict_line(p2p).startswith("[bold red]FAIL[/] peer-to-peer (0.0 s): ")
    assert "FAIL peer-to-peer (0.0 s): 1 ordered pair(s) copied directly and via the host" in lines[3]
    assert (
        "peer-to-peer failed: direct copies delivered different data (cuda:0->cuda:0) while copies via the host "
        "were correct"
    ) in lines
    assert "  likely cause [gpu.p2p-broken]: the GPUs advertise peer-to-peer access" in "\n".join(lines)
    assert lines[-1] == "selftest failed in 12.1 s on 1 CUDA process with nccl."


def test_a_field_added_later_is_no_obstacle_to_reading() -> None:
    data = recorded_json()
    data["nodes"] = [{"host": "node0"}]  # e.g. what multi-node reporting may add
    data["stages"][0]["figures"]["per_node"] = {"node0": 0.674}
    assert Report.from_dict(data).stages[0].figures["per_node"] == {"node0": 0.674}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"schema": "torchrig.doctor/1", "facts": {}}, "not a torchrig self-test report (schema 'torchrig.doctor/1'"),
        ({"stages": []}, "not a torchrig self-test report (no schema"),
        ([1, 2], "not a torchrig self-test report (no schema"),
        ({"schema": SCHEMA, "stages": []}, "a torchrig.selftest/1 report with a missing or malformed field"),
        ({"schema": SCHEMA, "plan": {"device": "cpu"}, "stages": []}, "missing or malformed field"),
    ],
)
def test_what_is_not_a_report_is_refused_in_one_sentence(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Report.from_dict(data)
