"""``torchrig selftest --gpus all`` on real GPUs: every stage passes with NCCL, and each planted fault fails
its own stage there too (the CPU suite proves the same with gloo; only here do NCCL and CUDA take part).

Faults that need two ranks are skipped on a one-GPU machine: the self-test runs one NCCL rank per GPU
and refuses two ranks on one device (the last test shows it), since NCCL itself rejects that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gpu_lane import cli_env, no_gpu_reason, run_torchrig, tail

from torchrig.selftest.stages.training import sizing

GPUS = 0
if no_gpu_reason() is None:  # else conftest skips every test, saying why
    import torch

    GPUS = torch.cuda.device_count()

pytestmark = pytest.mark.gpu

LAST = GPUS - 1  # every fault hits the last rank
TWO_GPUS = pytest.mark.skipif(
    GPUS == 1,
    reason=(
        f"needs 2 GPUs, this machine has {GPUS}: the fault needs 2 ranks, and the selftest runs one NCCL rank per "
        "GPU (two ranks on one GPU are refused, see test_two_ranks_on_one_gpu_are_refused_in_one_sentence)"
    ),
)
STEPS = 40  # with one GPU an epoch is 32 steps of 32 images: 40 steps reach epoch 2, which reads the cache
RUN_TIMEOUT = 150  # the CLI's own --timeout; the subprocess gets a little more
BATCH, DATASET = sizing(max(GPUS, 1)).batch, sizing(max(GPUS, 1)).dataset_length  # 32 and 1024 up to 8 GPUs


def selftest(
    home: Path, tmp: Path, *args: str, gpus: tuple[str, ...] = ("--gpus", "all")
) -> tuple[int, dict[str, Any]]:
    proc = run_torchrig(
        ["selftest", *gpus, "--json", "--timeout", str(RUN_TIMEOUT), *args],
        cli_env(home, tmp),
        timeout=RUN_TIMEOUT + 60,
    )
    assert "Traceback" not in proc.stderr, tail(proc.stderr)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(
            f"selftest {' '.join(args)} printed no JSON (exit {proc.returncode}):\n"
            f"{tail(proc.stdout)}\n{tail(proc.stderr)}"
        )
    assert data["schema"] == "torchrig.selftest/1"
    return proc.returncode, data


def by_stage(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in data["stages"]}


def show(data: dict[str, Any]) -> str:
    return "\n".join(
        f"  {s['name']}: {s['verdict']} {s['code'] or ''} {s['problem'] or s['summary']}" for s in data["stages"]
    )


def _dirs(factory: pytest.TempPathFactory, name: str) -> tuple[Path, Path]:
    base = factory.mktemp(name)
    (base / "home").mkdir()
    (base / "tmp").mkdir()
    return base / "home", base / "tmp"


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    home, tmp = _dirs(tmp_path_factory, "selftest-healthy")
    code, data = selftest(home, tmp, "--steps", str(STEPS), gpus=("--gpus",))  # alone, it means every GPU
    return code, data, tmp


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    """One run with every fault that leaves the ranks alive, each aimed at a different stage."""
    faults = ["matmul-wrong", "p2p-zeros", "allreduce-wrong"] + (["grad-drift", "slow-rank"] if GPUS >= 2 else [])
    home, tmp = _dirs(tmp_path_factory, "selftest-faulty")
    return selftest(home, tmp, "--steps", "20", *(a for f in faults for a in ("--inject", f)))


def test_every_stage_passes_with_nccl_on_every_gpu(healthy: tuple[int, dict[str, Any], Path]) -> None:
    code, data, _ = healthy
    assert code == 0 and data["ok"], f"selftest --gpus all failed on a healthy machine:\n{show(data)}"
    assert data["plan"] == {
        "device": "cuda",
        "backend": "nccl",
        "world_size": GPUS,
        "gpus": list(range(GPUS)),
        "launcher": "torchrig",
        "reason": data["plan"]["reason"],
    }
    assert data["plan"]["reason"].startswith("--gpus all:")  # what a bare --gpus stands for
    expected = {
        "rendezvous": "pass",
        "smoke": "pass",
        "p2p": "pass" if GPUS >= 2 else "skip",
        "collectives": "pass",
        "training": "pass",
        "checkpoint": "pass",
    }
    assert {s["name"]: s["verdict"] for s in data["stages"]} == expected, show(data)
    env = data["environment"]
    assert env["torch"] == torch.__version__ and env["cuda"] == torch.version.cuda
    assert env["nccl"] == ".".join(map(str, torch.cuda.nccl.version()))
    assert env["device"] == torch.cuda.get_device_name(0)


def test_each_gpu_computed_its_own_smoke_product_within_float32_accuracy(
    healthy: tuple[int, dict[str, Any], Path],
) -> None:
    smoke = by_stage(healthy[1])["smoke"]["figures"]
    names = [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(GPUS)]  # selftest.device.name
    assert [r["device"] for r in smoke["per_rank"]] == names
    assert smoke["max_rel_error"] <= smoke["bound"] == 1e-4
    assert all(r["gflops"] and r["gflops"] > 0 for r in smoke["per_rank"])


def test_the_nccl_all_reduce_is_exact_and_its_bandwidth_measured(healthy: tuple[int, dict[str, Any], Path]) -> None:
    figures = by_stage(healthy[1])["collectives"]["figures"]
    assert figures["backend"] == "nccl" and figures["ranks"] == GPUS
    assert figures["wrong_per_rank"] == [0] * GPUS
    assert [row["bytes"] for row in figures["bandwidth"]] == [1 << p for p in (20, 22, 24, 26, 28)]
    assert all(row["seconds"] > 0 for row in figures["bandwidth"])
    if GPUS >= 2:
        assert figures["peak_busbw_gbps"] > 0


def test_ddp_training_learns_keeps_replicas_equal_and_reads_epoch_2_from_the_cache(
    healthy: tuple[int, dict[str, Any], Path],
) -> None:
    _, data, tmp = healthy
    train = by_stage(data)["training"]["figures"]
    assert train["steps"] == STEPS and train["epochs"] >= 2
    assert train["loss_last"] <= 0.25 * train["loss_first"]
    assert train["max_abs_param_diff"] == 0.0
    cache = train["cache"]
    reads = STEPS * BATCH * GPUS  # at least: the workers read ahead
    assert cache["items"] == DATASET, cache
    assert cache["hits"] >= reads - DATASET - BATCH, f"epoch 2 should read from the cache: {cache}"
    # the launcher keeps the sample cache in its work directory (under TMPDIR), never in /dev/shm/torchrig-<uid>
    assert Path(cache["location"]).is_relative_to(tmp), cache["location"]
    checkpoint = by_stage(data)["checkpoint"]["figures"]
    assert checkpoint["ddp_keys_prefixed"] == checkpoint["keys"] > 0
    assert max(checkpoint["ddp_to_plain_max_diff"], checkpoint["plain_to_ddp_max_diff"]) <= checkpoint["tolerance"]


def test_the_planted_faults_fail_the_run(faulty: tuple[int, dict[str, Any]]) -> None:
    code, data = faulty
    assert code == 1 and not data["ok"], show(data)
    assert data["plan"]["backend"] == "nccl"
    assert by_stage(data)["rendezvous"]["verdict"] == "pass"
    assert by_stage(data)["checkpoint"]["verdict"] == "pass", "none of the faults touches what it checks"


def test_matmul_wrong_fails_the_device_smoke_on_the_gpu(faulty: tuple[int, dict[str, Any]]) -> None:
    smoke = by_stage(faulty[1])["smoke"]
    assert (smoke["verdict"], smoke["code"]) == ("fail", "gpu.matmul-wrong"), show(faulty[1])
    name = torch.cuda.get_device_name(LAST)
    prefix = f"rank {LAST} (cuda:{LAST} {name}) computed a 2048x2048 float32 product with relative error"
    assert smoke["problem"].startswith(prefix), smoke["problem"]


def test_p2p_zeros_fails_peer_to_peer(faulty: tuple[int, dict[str, Any]]) -> None:
    # docs/selftest.md: "p2p-zeros fails peer-to-peer"; faults.py: "A check that never fails under its fault
    # is a defect". On CPU the comparison runs on host-memory stand-ins; on one GPU it must fail too.
    p2p = by_stage(faulty[1])["p2p"]
    assert (p2p["verdict"], p2p["code"]) == ("fail", "gpu.p2p-broken"), (
        f"--inject p2p-zeros on {GPUS} GPU(s) gave p2p {p2p['verdict']}: {p2p['summary']}"
    )
    assert "direct copies delivered different data" in p2p["problem"]


def test_allreduce_wrong_fails_the_collectives_with_the_nccl_code(faulty: tuple[int, dict[str, Any]]) -> None:
    stage = by_stage(faulty[1])["collectives"]
    assert (stage["verdict"], stage["code"]) == ("fail", "nccl.allreduce-wrong"), show(faulty[1])
    assert f"nccl all-reduce returned a wrong sum on rank {LAST}: 1 of " in stage["problem"], stage["problem"]


def test_training_fails_exactly_when_a_training_fault_was_planted(faulty: tuple[int, dict[str, Any]]) -> None:
    training = by_stage(faulty[1])["training"]
    if GPUS >= 2:  # grad-drift and slow-rank were planted
        assert training["verdict"] == "fail"
        assert training["figures"]["codes"] == ["ddp.replicas-diverged", "rank.straggler"], training
        assert f"rank {LAST}'s parameters differ from rank 0's" in training["problem"]
        assert f"rank {LAST} is a straggler" in training["problem"]
    else:  # the faults planted hit the smoke and collectives stages only
        assert training["verdict"] == "pass", training


def test_a_rank_that_dies_fails_training_with_its_signal(home_and_tmp: tuple[Path, Path]) -> None:
    code, data = selftest(*home_and_tmp, "--steps", "20", "--inject", "rank-dies")
    assert code == 1 and not data["ok"]
    training, checkpoint = by_stage(data)["training"], by_stage(data)["checkpoint"]
    assert (training["verdict"], training["code"]) == ("fail", "rank.died"), show(data)
    assert training["problem"].startswith(f"rank {LAST} (pid ")
    assert "was killed by SIGKILL during training" in training["problem"]
    assert checkpoint["verdict"] == "skip"


@TWO_GPUS
def test_a_rank_that_raises_fails_training_with_its_own_error(home_and_tmp: tuple[Path, Path]) -> None:
    code, data = selftest(*home_and_tmp, "--steps", "20", "--inject", "rank-raises")
    training = by_stage(data)["training"]
    assert code == 1 and training["verdict"] == "fail", show(data)
    assert training["problem"] == (
        f"rank {LAST} failed: RuntimeError: injected: this rank's training failed before its first collective"
    )


@TWO_GPUS
def test_a_rank_that_hangs_is_timed_out_under_nccl(home_and_tmp: tuple[Path, Path]) -> None:
    code, data = selftest(*home_and_tmp, "--steps", "20", "--inject", "rank-hangs", "--collective-timeout", "5")
    training = by_stage(data)["training"]
    assert code == 1 and training["verdict"] == "fail", show(data)
    assert training["code"] in {"collective.timeout", "rank.died"}, training
    assert by_stage(data)["checkpoint"]["verdict"] == "skip"


@pytest.mark.skipif(GPUS > 1, reason="only a one-GPU machine needs to know why two ranks cannot share its GPU")
def test_two_ranks_on_one_gpu_are_refused_in_one_sentence(home_and_tmp: tuple[Path, Path]) -> None:
    proc = run_torchrig(["selftest", "--gpus", "0,0"], cli_env(*home_and_tmp), timeout=120)
    assert proc.returncode == 2, tail(proc.stdout + proc.stderr)
    assert "--gpus '0,0' names a GPU twice." in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr
