"""``torchrig doctor --merge``: several nodes' ``doctor --json`` as one report.

The nodes are built from the H200 the GPU lane recorded (tests/fixtures/recorded/gpu-h200/doctor.json, a real
``torchrig doctor --json``), as an admin's 8-GPU nodes would look, each with one thing changed the way
nodes drift apart: another torch, a GPU gone, another driver.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.merge import NodeReport, merge, unique_names

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "gpu-h200" / "doctor.json"


def h200_node(gpus: int = 8) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDED.read_text())
    (gpu,) = data["facts"]["gpus"]["devices"]
    data["facts"]["gpus"]["devices"] = [dict(gpu, index=i, uuid=f"GPU-{i:08d}") for i in range(gpus)]
    data["facts"]["torch"]["device_count"] = gpus
    return data


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data, indent=1))
    return str(path)


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torchrig", "doctor", *args], capture_output=True, text=True, timeout=120
    )


def test_two_nodes_whose_torch_differs_show_the_difference_and_what_it_breaks(tmp_path: Path) -> None:
    a = h200_node()
    b = copy.deepcopy(a)
    b["facts"]["torch"]["version"] = "2.10.0+cu130"  # its torchvision 0.26 still wants torch 2.11
    proc = doctor("--merge", write(tmp_path, "gpu-a", a), write(tmp_path, "gpu-b", b))
    assert proc.returncode == 1, proc.stderr  # an error on one node
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        "✗ 2 nodes; they differ in torch; 1 finding only on some nodes, the first: error "
        "torch.companion-mismatch on gpu-b."
    )
    rows = {line.split()[0]: line for line in lines if line.startswith(("gpu-a ", "gpu-b "))}
    assert "2.11.0+cu130*" in rows["gpu-a"] and "2.10.0+cu130*" in rows["gpu-b"]  # marked in the table
    assert "8x NVIDIA H200" in rows["gpu-a"] and "none" in rows["gpu-a"] and "1 error" in rows["gpu-b"]
    assert "  ! torch differs, with no majority: gpu-a has 2.11.0+cu130; gpu-b has 2.10.0+cu130" in lines
    first = lines.index("Only on some nodes (look here first)")
    assert lines[first + 1].startswith("  ✗ ERROR torch.companion-mismatch on gpu-b: torchvision and torchaudio")
    assert "gpu-a: No problems found in what the report shows." in proc.stdout
    assert "python -m pip install --force-reinstall --no-deps torchvision==0.25.0" in proc.stdout


def test_the_odd_node_out_of_three_is_named_against_the_majority(tmp_path: Path) -> None:
    a, b = h200_node(), h200_node()
    c = h200_node(gpus=7)  # a GPU fell off the bus
    c["facts"]["system"]["env"]["NCCL_IB_DISABLE"] = "1"
    files = [write(tmp_path, f"node-{n}", d) for n, d in (("1", a), ("2", b), ("3", c))]
    proc = doctor("--merge", *files, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema"] == "torchrig.doctor.cluster/1"
    assert [n["name"] for n in data["nodes"]] == ["node-1", "node-2", "node-3"]
    differs = {f["fact"]: f for f in data["facts"] if f["differs"]}
    assert differs["GPUs"]["majority"] == "8x NVIDIA H200" and differs["GPUs"]["odd"] == ["node-3"]
    assert differs["NCCL_IB_DISABLE"]["environment"] is True
    assert differs["NCCL_IB_DISABLE"]["values"] == {"node-1": "(unset)", "node-2": "(unset)", "node-3": "1"}
    assert differs["NCCL_IB_DISABLE"]["odd"] == ["node-3"]
    assert data["nodes"][2]["report"]["facts"]["gpus"]["devices"][6]["index"] == 6  # the whole report is kept

    markdown = doctor("--merge", *files, "--markdown").stdout
    assert "| node-3 | 7x NVIDIA H200* |" in markdown
    assert "- GPUs: node-3 has 7x NVIDIA H200; the other 2 nodes have 8x NVIDIA H200" in markdown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--merge",), "--merge needs the `torchrig doctor --json` files of the nodes"),
        (("somefile.json",), "somefile.json: files are read with --merge (several nodes) or --report FILE (one)."),
        (("--merge", "--cluster", "x.json"), "choose one of --report, --merge and --cluster."),
        (("--cluster",), "--cluster runs as one rank of a torchrun or srun job"),
    ],
)
def test_usage_errors_are_one_sentence_and_exit_2(args: tuple[str, ...], message: str) -> None:
    proc = doctor(*args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in " ".join(proc.stderr.split())


def test_a_file_that_is_no_report_is_named(tmp_path: Path) -> None:
    good = write(tmp_path, "good", h200_node())
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "torchrig.doctor/1", "facts": {}}')
    proc = doctor("--merge", good, str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert " ".join(proc.stderr.split()).startswith(f"torchrig: {bad}: the report's `facts` are empty")


def finding(code: str, severity: Severity = Severity.WARNING) -> Finding:
    return Finding(code, severity, f"{code} happened")


def test_findings_only_some_nodes_have_come_first_then_by_severity() -> None:
    facts = Facts()
    nodes = [
        NodeReport("a", facts, [finding("env.everywhere"), finding("shm.too-small", Severity.INFO)]),
        NodeReport("b", facts, [finding("env.everywhere"), finding("driver.too-old", Severity.ERROR)]),
    ]
    merged = merge(nodes)
    assert [(s.finding.code, s.nodes, s.everywhere) for s in merged.findings] == [
        ("driver.too-old", ["b"], False),
        ("shm.too-small", ["a"], False),
        ("env.everywhere", ["a", "b"], True),
    ]
    assert merged.has({"error"}) and merged.exit_problem


def test_nodes_with_one_name_are_told_apart() -> None:
    assert unique_names(["node", "node", "other"]) == ["node", "node (2)", "other"]
