"""The node dimension of a self-test, as rules: who shares a node, which node differs, which is slowest,
what each node's verdict is, and how bus bandwidth is computed within and across nodes. Pure: no torch."""

from __future__ import annotations

from typing import Any

import pytest

from torchrig._core.distributed import _tasks_per_node, job_of, torch_env
from torchrig._core.errors import UserError
from torchrig.selftest import nodes, render
from torchrig.selftest.report import FAIL, PASS, Plan, Report, StageResult
from torchrig.selftest.stages import collectives


def facts(host: str, group: int | None, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "host": host,
        "group": group,
        "local_rank": 0,
        "torch": "2.5.1+cu124",
        "cuda": "12.4",
        "nccl": "2.21.5",
        "python": "3.11.9",
        "driver": "550.54.15",
        "device": "NVIDIA H100 80GB HBM3",
        "gpus": 8,
        "gpu_models": ["NVIDIA H100 80GB HBM3"],
        "env": {},
    }
    base.update(over)
    return base


def test_ranks_share_a_node_when_their_group_rank_is_the_same_whatever_the_host_name() -> None:
    # two torchrun agents on one machine: one host name, two group ranks, two nodes
    every = [facts("box", 1), facts("box", 1), facts("box", 0), facts("box", 0)]
    assert nodes.node_of(every) == (1, 1, 0, 0)  # numbered by group rank


def test_without_a_group_rank_the_host_name_decides() -> None:
    every = [facts("b", None), facts("a", None), facts("b", None)]
    assert nodes.node_of(every) == (0, 1, 0)  # numbered by their lowest rank


def node(n: int, host: str, ranks: list[int], **over: Any) -> dict[str, Any]:
    entry = facts(host, n, **over)
    entry.update(node=n, ranks=ranks)
    return entry


def test_the_node_whose_torch_differs_from_the_majority_is_named() -> None:
    found = nodes.differences([node(0, "a", [0]), node(1, "b", [1], torch="2.4.0+cu121"), node(2, "c", [2])])
    assert found == [
        {
            "fact": "torch",
            "majority": "2.5.1+cu124",
            "values": {"0": "2.5.1+cu124", "1": "2.4.0+cu121", "2": "2.5.1+cu124"},
            "odd": [1],
        }
    ]


def test_a_node_with_a_missing_gpu_differs_in_its_gpu_count() -> None:
    found = nodes.differences([node(0, "a", [0]), node(1, "b", [1]), node(2, "c", [2], gpus=7)])
    assert [(d["fact"], d["majority"], d["odd"]) for d in found] == [("GPU count", "8", [2])]


def test_two_nodes_that_disagree_have_no_majority_and_both_are_named() -> None:
    found = nodes.differences([node(0, "a", [0], env={"NCCL_IB_DISABLE": "1"}), node(1, "b", [1])])
    assert found == [
        {"fact": "NCCL_IB_DISABLE", "majority": None, "values": {"0": "1", "1": nodes.UNSET}, "odd": [0, 1]}
    ]


def test_identical_nodes_have_no_differences() -> None:
    assert nodes.differences([node(0, "a", [0, 1]), node(1, "b", [2, 3])]) == []


def result(verdict: str, **figures: Any) -> StageResult:
    return StageResult("training", verdict, "", figures=figures)


@pytest.mark.parametrize(
    ("stage", "ranks", "expected"),
    [
        (result(PASS), [0, 1], PASS),
        (result(FAIL, failed_ranks=[3]), [2, 3], FAIL),  # the straggler is here
        (result(FAIL, failed_ranks=[3]), [0, 1], PASS),  # ... not here
        (result(FAIL, errors={"2": "RuntimeError: boom"}), [2, 3], FAIL),  # a rank's own error
        (result(FAIL, errors={"2": "RuntimeError: boom"}), [0, 1], PASS),
        (result(FAIL), [0, 1], FAIL),  # a failure that names no rank is every node's
    ],
)
def test_a_node_fails_a_stage_only_when_the_stage_blames_one_of_its_ranks(
    stage: StageResult, ranks: list[int], expected: str
) -> None:
    assert nodes.node_verdict(stage, ranks) == expected


def sizes(*seconds: float) -> list[dict[str, Any]]:
    return [{"bytes": 1 << 20, "seconds": s} for s in seconds]


def test_bus_bandwidth_follows_nccl_tests_for_each_group_and_waits_for_its_slowest_rank() -> None:
    # 2 nodes x 2 ranks; node 1's second rank is slow within its node; rank 0 of each node forms group 0 across
    every = [
        {"links": {"node": 0, "position": 0, "within": sizes(0.001), "across": sizes(0.004)}},
        {"links": {"node": 0, "position": 1, "within": sizes(0.001), "across": sizes(0.004)}},
        {"links": {"node": 1, "position": 0, "within": sizes(0.001), "across": sizes(0.004)}},
        {"links": {"node": 1, "position": 1, "within": sizes(0.002), "across": sizes(0.004)}},
    ]
    links = collectives.link_figures(every)
    mib = (1 << 20) / 1e9
    assert [(w["node"], w["ranks"]) for w in links["within_nodes"]] == [(0, 2), (1, 2)]
    # n = 2: busbw = algbw * 2(n-1)/n = algbw; the slower rank's time counts
    assert links["within_nodes"][0]["busbw_gbps"] == pytest.approx(mib / 0.001)
    assert links["within_nodes"][1]["busbw_gbps"] == pytest.approx(mib / 0.002)
    assert [(a["position"], a["nodes"]) for a in links["across_nodes"]] == [(0, 2), (1, 2)]
    assert links["across_nodes"][0]["busbw_gbps"] == pytest.approx(mib / 0.004)
    # and for a group of 4: 2(n-1)/n = 1.5
    table = collectives.bandwidth_table([sizes(0.001)] * 4)
    assert table[0]["busbw_gbps"] == pytest.approx(1.5 * table[0]["algbw_gbps"])


def training_figures(own_s: float) -> dict[str, Any]:
    return {"median_own_s": own_s, "data_stall": 0.1}


def test_the_slowest_rank_and_node_are_named_with_their_ratio_to_the_median() -> None:
    every_facts = [facts("a", 0), facts("a", 0), facts("b", 1), facts("b", 1)]
    stages = [
        StageResult("rendezvous", PASS, ""),
        StageResult(
            "training", FAIL, "", figures={"failed_ranks": [3], "median_own_s_per_rank": [0.02, 0.02, 0.02, 0.32]}
        ),
    ]
    gathered = {"training": [training_figures(s) for s in (0.02, 0.02, 0.02, 0.32)]}
    cluster = nodes.summarize(every_facts, stages, gathered)
    slow = cluster["slowest"]
    assert (slow["rank"]["rank"], slow["rank"]["host"]) == (3, "b")
    assert slow["rank"]["ratio"] == pytest.approx(16.0)  # 320 ms against the other ranks' median, 20 ms
    assert (slow["node"]["host"], slow["node"]["ratio"]) == ("b", pytest.approx(16.0))  # against the other node
    assert [n["stages"]["training"]["verdict"] for n in cluster["nodes"]] == [PASS, FAIL]
    assert cluster["nodes"][1]["stages"]["training"]["figures"]["step_ms_slowest"] == pytest.approx(320)
    lines = render.slowest_lines(cluster)
    assert lines == [
        "slowest rank: rank 3 on b, 320 ms (own work per training step), 16.0x the median of the other ranks (20 ms)",
        "slowest node: b, 320 ms on its slowest rank, 16.0x the median of the other nodes (20 ms)",
    ]


def cluster_report() -> Report:
    every_facts = [facts("a", 0), facts("a", 0), facts("b", 1, torch="2.4.0+cu121"), facts("b", 1, torch="2.4.0+cu121")]
    stages = (StageResult("rendezvous", PASS, "4 ranks on 2 nodes joined"),)
    cluster = nodes.summarize(every_facts, list(stages), {})
    plan = Plan("cuda", "nccl", 4, launcher="torchrun", reason="torchrun: 4 ranks")
    return Report(plan, stages, 12.0, {"torch": "2.5.1+cu124"}, cluster=cluster)


def test_the_fact_table_marks_what_differs_and_the_words_say_it_too() -> None:
    report = cluster_report()
    assert report.cluster is not None
    headers, rows = render.fact_table(report.cluster)
    assert headers[:4] == ["node", "group", "ranks", "GPUs"]
    torch_column = headers.index("torch")
    assert [row[torch_column] for row in rows] == ["2.5.1+cu124*", "2.4.0+cu121*"]
    assert [row[2] for row in rows] == ["0-1", "2-3"]
    assert render.difference_lines(report.cluster) == [
        "torch differs, with no majority: a has 2.5.1+cu124; b has 2.4.0+cu121"
    ]


def test_the_cluster_section_survives_json_and_reaches_the_markdown() -> None:
    report = cluster_report()
    again = Report.from_dict(report.to_dict())
    assert again.cluster == report.cluster
    text = render.markdown(again)
    assert "### 2 nodes, 4 ranks" in text
    assert "| a | 0 | 0-1 | 8 | NVIDIA H100 80GB HBM3 | 2.5.1+cu124* |" in text
    assert "- torch differs, with no majority: a has 2.5.1+cu124; b has 2.4.0+cu121" in text


# -- the launchers' environments ------------------------------------------------------------------


def test_torchruns_variables_say_the_rank_and_the_node() -> None:
    job = job_of(
        {
            "RANK": "3",
            "WORLD_SIZE": "4",
            "LOCAL_RANK": "1",
            "LOCAL_WORLD_SIZE": "2",
            "GROUP_RANK": "1",
            "MASTER_ADDR": "h",
        }
    )
    assert job is not None and (job.rank, job.world_size, job.local_rank, job.node, job.launcher) == (
        3,
        4,
        1,
        1,
        "torchrun",
    )


SRUN = {
    "SLURM_PROCID": "5",
    "SLURM_STEP_NUM_TASKS": "6",
    "SLURM_LOCALID": "1",
    "SLURM_NODEID": "2",
    "SLURM_STEP_TASKS_PER_NODE": "2(x3)",
    "MASTER_ADDR": "node001",
    "MASTER_PORT": "29500",
}


def test_sruns_variables_become_torchruns() -> None:
    assert torch_env(SRUN) == {
        "RANK": "5",
        "WORLD_SIZE": "6",
        "LOCAL_RANK": "1",
        "GROUP_RANK": "2",
        "LOCAL_WORLD_SIZE": "2",
        "TORCHRIG_LAUNCHER": "srun",
    }
    job = job_of(SRUN)
    assert job is not None and (job.rank, job.local_world_size, job.node, job.launcher) == (5, 2, 2, "srun")


def test_under_srun_without_master_addr_the_user_is_told_what_to_export() -> None:
    with pytest.raises(UserError, match="export MASTER_ADDR and MASTER_PORT before srun"):
        torch_env({k: v for k, v in SRUN.items() if not k.startswith("MASTER_")})


@pytest.mark.parametrize(
    "env",
    [
        {"SLURM_PROCID": "0", "SLURM_NTASKS": "8", "SLURM_NODEID": "0"},  # the batch script itself, not srun
        {"SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1"},  # srun of one task: torchrig launches the ranks
        {},
    ],
)
def test_outside_a_multi_task_srun_step_nothing_changes(env: dict[str, str]) -> None:
    assert torch_env(env) == {} and job_of(env) is None


def test_slurms_tasks_per_node_are_read_node_by_node() -> None:
    assert _tasks_per_node("4(x2),2") == [4, 4, 2]
    assert _tasks_per_node("8") == [8]
    assert _tasks_per_node("garbage") == []
