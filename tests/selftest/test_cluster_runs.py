"""Across nodes, for real: two torchrun agents on this machine are two nodes (c10d rendezvous on 127.0.0.1,
gloo, CPU ranks), and the processes srun would start are started with the variables srun sets.

What must hold: one report, printed by rank 0 alone, naming both nodes with their ranks and facts; the
bus bandwidth within each node and across the nodes, separately; a difference planted in one node's
environment named; a planted slow rank named with its node and its ratio to the median; every rank's
evidence under --out. ``doctor --cluster`` gathers both nodes' facts the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from agents import TORCHRUN, Finished, clean_env, free_port, run_all, torchrun_agents

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed next to this python"),
]


def leader(finished: list[Finished]) -> Finished:
    """The one agent whose rank 0 printed the report (c10d decides which agent hosts rank 0)."""
    printed = [f for f in finished if f.stdout.strip()]
    assert len(printed) == 1, [(f.name, f.returncode, f.stdout[-500:], f.stderr[-1500:]) for f in finished]
    return printed[0]


def test_two_agents_of_two_ranks_give_one_report_naming_both_nodes(tmp_path: Path) -> None:
    out = tmp_path / "evidence"
    finished = torchrun_agents(
        ["node-a", "node-b"],
        2,
        ["selftest", "--steps", "20", "--out", str(out)],
        tmp_path,
        env_of={"node-b": {"NCCL_IB_DISABLE": "1"}},  # the planted difference: one node turned InfiniBand off
    )
    assert [f.returncode for f in finished] == [0, 0], [f.stderr[-2000:] for f in finished]
    text = leader(finished).stdout
    assert "Traceback" not in text
    assert "PASS rendezvous" in text and "4 ranks on 2 nodes joined with gloo" in text
    assert "2 nodes, 4 ranks" in text
    assert "within node-a (2 ranks):" in text and "within node-b (2 ranks):" in text
    assert "across 2 nodes (rank 0 of each node):" in text and "across 2 nodes (rank 1 of each node):" in text
    assert "NCCL_IB_DISABLE differs, with no majority:" in text and "node-b has 1" in text
    assert "slowest rank: rank " in text and "slowest node: " in text
    assert "selftest passed" in text

    report = json.loads((out / "report.json").read_text())
    assert report["ok"] and report["plan"]["world_size"] == 4 and report["plan"]["launcher"] == "torchrun"
    cluster = report["cluster"]
    by_host = {n["host"]: n for n in cluster["nodes"]}
    assert sorted(by_host) == ["node-a", "node-b"]
    assert sorted(tuple(n["ranks"]) for n in cluster["nodes"]) == [(0, 1), (2, 3)]
    for n in cluster["nodes"]:
        assert n["torch"] and n["python"] and n["gpus"] == 0 and n["devices"] == ["cpu", "cpu"]
        verdicts = {stage: entry["verdict"] for stage, entry in n["stages"].items()}
        assert verdicts == {
            "rendezvous": "pass",
            "smoke": "pass",
            "p2p": "skip",
            "collectives": "pass",
            "training": "pass",
            "checkpoint": "pass",
        }
        assert n["stages"]["collectives"]["figures"]["busbw_within_gbps"] > 0
        assert n["stages"]["training"]["figures"]["step_ms_slowest"] > 0
    bandwidth = cluster["bandwidth"]
    assert sorted(w["host"] for w in bandwidth["within_nodes"]) == ["node-a", "node-b"]
    assert [(a["position"], a["nodes"]) for a in bandwidth["across_nodes"]] == [(0, 2), (1, 2)]
    assert all(
        row["busbw_gbps"] > 0 for w in bandwidth["within_nodes"] + bandwidth["across_nodes"] for row in w["bandwidth"]
    )
    differs = {d["fact"]: d for d in cluster["differences"]}
    assert list(differs) == ["NCCL_IB_DISABLE"]
    assert {cluster["nodes"][int(k)]["host"]: v for k, v in differs["NCCL_IB_DISABLE"]["values"].items()} == {
        "node-a": "(unset)",
        "node-b": "1",
    }

    parts = sorted(out.glob("rank-*.json"))
    assert [p.name for p in parts] == ["rank-0.json", "rank-1.json", "rank-2.json", "rank-3.json"]
    for part in parts:
        data = json.loads(part.read_text())
        assert data["schema"] == "torchrig.selftest.rank/1" and data["done"] is True
        assert [r["name"] for r in data["results"]] == [s["name"] for s in report["stages"]]
        assert data["facts"]["host"] in ("node-a", "node-b") and "training" in data["figures"]


def test_a_planted_slow_rank_is_named_with_its_node_under_the_environment_srun_sets(tmp_path: Path) -> None:
    # srun starts one process per task with SLURM_* set; the job script exports MASTER_ADDR and MASTER_PORT
    port = free_port()
    commands = []
    for rank in range(2):
        env = clean_env(
            SLURM_PROCID=str(rank),
            SLURM_STEP_NUM_TASKS="2",
            SLURM_LOCALID="0",
            SLURM_NODEID=str(rank),
            SLURM_STEP_TASKS_PER_NODE="1(x2)",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            TORCHRIG_NODE_NAME=f"gpu{rank + 1:03d}",
        )
        argv = [_python(), "-m", "torchrig", "selftest", "--json", "--steps", "20", "--inject", "slow-rank"]
        commands.append((f"task{rank}", argv, env))
    finished = run_all(commands, tmp_path, timeout=300)
    assert [f.returncode for f in finished] == [1, 1], [f.stderr[-2000:] for f in finished]  # training failed
    report: dict[str, Any] = json.loads(leader(finished).stdout)
    assert report["plan"]["launcher"] == "srun" and report["plan"]["world_size"] == 2
    training = next(s for s in report["stages"] if s["name"] == "training")
    assert training["verdict"] == "fail" and training["code"] == "rank.straggler"
    cluster = report["cluster"]
    assert [(n["host"], n["group"], n["ranks"]) for n in cluster["nodes"]] == [("gpu001", 0, [0]), ("gpu002", 1, [1])]
    slow = cluster["slowest"]
    assert (slow["rank"]["rank"], slow["rank"]["host"], slow["node"]["host"]) == (1, "gpu002", "gpu002")
    assert slow["rank"]["ratio"] > 3  # 300 ms of sleep a step against the other rank's few ms
    assert [n["stages"]["training"]["verdict"] for n in cluster["nodes"]] == ["pass", "fail"]
    # one rank per node: nothing to measure within a node, one group across
    assert cluster["bandwidth"]["within_nodes"] == []
    assert [(a["position"], a["nodes"]) for a in cluster["bandwidth"]["across_nodes"]] == [(0, 2)]


def test_doctor_cluster_gathers_every_nodes_facts_over_gloo(tmp_path: Path) -> None:
    finished = torchrun_agents(
        ["node-a", "node-b"],
        1,
        ["doctor", "--cluster", "--json", "--quick"],
        tmp_path,
        env_of={"node-a": {"NCCL_P2P_DISABLE": "1"}},
        timeout=240,
    )
    assert all(f.returncode == 0 for f in finished), [f.stderr[-2000:] for f in finished]
    merged = json.loads(leader(finished).stdout)
    assert merged["schema"] == "torchrig.doctor.cluster/1"
    assert [n["name"] for n in merged["nodes"]] == ["node-a", "node-b"] or [n["name"] for n in merged["nodes"]] == [
        "node-b",
        "node-a",
    ]
    differs = {f["fact"]: f for f in merged["facts"] if f["differs"]}
    assert set(differs) == {"NCCL_P2P_DISABLE"}  # RANK differs too, by design, and is not reported
    assert differs["NCCL_P2P_DISABLE"]["values"] == {"node-a": "1", "node-b": "(unset)"}
    for node in merged["nodes"]:
        assert node["report"]["schema"] == "torchrig.doctor/1" and node["report"]["facts"]["torch"]["version"]


def _python() -> str:
    import sys

    return sys.executable
