"""Each stage's rule, judged on figures of every rank: it passes a healthy run and fails the broken one.

The figures have the shape ``measure`` returns; the end-to-end tests produce the real ones.
"""

from __future__ import annotations

from torchrig.selftest import causes
from torchrig.selftest.stages import checkpoint_roundtrip, collectives, p2p, smoke, training


def test_smoke_states_its_bound_and_fails_a_wrong_product_or_nan() -> None:
    ok = {"device": "cuda:0 NVIDIA H100", "n": 2048, "rel_error": 1.3e-6, "finite": True, "gflops": 50000.0}
    assert smoke.judge([ok, ok]).verdict == "pass"
    assert "bound 1e-04" in smoke.judge([ok]).summary
    wrong = smoke.judge([ok, dict(ok, device="cuda:1 NVIDIA H100", rel_error=4.9e-4)])  # what TF32 gives
    assert wrong.verdict == "fail" and wrong.code == "gpu.matmul-wrong"
    assert wrong.problem.startswith("rank 1 (cuda:1 NVIDIA H100)")
    nan = smoke.judge([dict(ok, rel_error=float("nan"), finite=False)])
    assert nan.verdict == "fail" and "non-finite" in nan.problem


def pair(src: str, dst: str, *, direct: bool = True, host: bool = True, access: bool = True) -> dict:
    return {"src": src, "dst": dst, "peer_access": access, "direct_ok": direct, "host_ok": host, "direct_gbps": 20.0}


def test_p2p_zeros_on_a_direct_copy_is_p2p_broken_and_a_bad_host_copy_is_memory() -> None:
    healthy = [{"pairs": [pair("cuda:0", "cuda:1")]}, {"pairs": [pair("cuda:1", "cuda:0")]}]
    assert p2p.judge(healthy).verdict == "pass"
    broken = p2p.judge([{"pairs": [pair("cuda:0", "cuda:1")]}, {"pairs": [pair("cuda:1", "cuda:0", direct=False)]}])
    assert (broken.verdict, broken.code) == ("fail", "gpu.p2p-broken")
    assert "cuda:1->cuda:0" in broken.problem and "although peer access is advertised" in broken.problem
    memory = p2p.judge([{"pairs": [pair("cuda:0", "cuda:1", direct=False, host=False)]}])
    assert memory.code == "gpu.memory-corrupt"


def test_p2p_is_skipped_when_every_rank_skipped() -> None:
    result = p2p.judge([{"skipped": "no GPUs: peer-to-peer needs two GPUs on one node"}] * 2)
    assert result.verdict == "skip" and "no GPUs" in result.summary


def test_p2p_copies_between_every_gpu_pair_of_a_node() -> None:
    assert p2p.targets("cuda:1", 1, 4, injected=False) == p2p.Targets(("cuda:0", "cuda:2", "cuda:3"), stand_in=False)
    assert p2p.targets("cuda:0", 0, 1, injected=False) == "one GPU per node: no pair to copy between"
    assert p2p.targets("cpu", 0, 2, injected=False) == "no GPUs: peer-to-peer needs two GPUs on one node"


def test_p2p_zeros_on_one_gpu_runs_the_stand_in_on_that_gpu_so_the_fault_fails_the_stage() -> None:
    # The H200 GPU lane (tests/gpu/test_2_selftest_gpus.py::test_p2p_zeros_fails_peer_to_peer) found the
    # planted fault skipped with one GPU: the rank then had no copy for it to spoil.
    assert p2p.targets("cuda:0", 0, 1, injected=True) == p2p.Targets(("cuda:0",), stand_in=True)
    assert p2p.targets("cpu", 1, 2, injected=True) == p2p.Targets(("cpu",), stand_in=True)
    # with two GPUs or more the fault spoils a real peer copy, not a stand-in
    assert p2p.targets("cuda:0", 0, 2, injected=True) == p2p.Targets(("cuda:1",), stand_in=False)
    zeroed = {"src": "cuda:0", "dst": "cuda:0", "peer_access": None, "direct_ok": False, "host_ok": True}
    result = p2p.judge([{"pairs": [dict(zeroed, direct_gbps=None)], "stand_in": True}])
    assert (result.verdict, result.code) == ("fail", "gpu.p2p-broken")
    assert "(stand-ins within one GPU, for --inject)" in result.summary and "GB/s" not in result.summary
    assert "(cuda:0->cuda:0)" in result.problem and "advertised" not in result.problem


def sizes(seconds: float) -> list[dict]:
    return [{"bytes": 1 << 20, "seconds": seconds}, {"bytes": 1 << 26, "seconds": seconds * 40}]


def test_collectives_report_nccl_tests_bus_bandwidth_from_the_slowest_rank() -> None:
    ranks = [
        {"backend": "nccl", "elements": 4096, "wrong": 0, "first_wrong": None, "sizes": sizes(t)}
        for t in (1e-4, 2e-4, 1e-4, 1e-4)
    ]
    result = collectives.judge(ranks)
    assert result.verdict == "pass"
    row = result.figures["bandwidth"][0]
    assert row["seconds"] == 2e-4  # the slowest rank's time
    assert abs(row["algbw_gbps"] - (1 << 20) / 2e-4 / 1e9) < 1e-9
    assert abs(row["busbw_gbps"] - row["algbw_gbps"] * 2 * 3 / 4) < 1e-9  # 2(n-1)/n with n = 4
    assert collectives.bus_factor(2) == 1.0 and collectives.bus_factor(8) == 1.75


def test_a_wrong_sum_on_one_rank_fails_with_the_backends_code() -> None:
    good = {"backend": "nccl", "elements": 4096, "wrong": 0, "first_wrong": None, "sizes": sizes(1e-4)}
    bad = dict(good, wrong=1, first_wrong=1365)
    result = collectives.judge([good, bad])
    assert (result.verdict, result.code) == ("fail", "nccl.allreduce-wrong")
    assert "rank 1: 1 of 4096 elements differ (first at index 1365)" in result.problem
    assert collectives.judge([dict(bad, backend="gloo")]).code == "gloo.allreduce-wrong"


def rank(losses: list[float], *, diff: float = 0.0, own: float = 0.01, stall: float = 0.1) -> dict:
    return {
        "losses": losses,
        "max_abs_diff_vs_rank0": diff,
        "median_own_s": own,
        "data_stall": stall,
        "step_s": 0.05,
        "first_step_s": 0.3,
        "setup_s": 1.0,
        "workers": 1,
        "epochs": 2,
        "cache": {},
    }


FALLING = [2.3] * 5 + [1.0] * 20 + [0.05] * 5


def test_training_passes_when_the_loss_falls_and_replicas_agree_and_reports_the_data_stall() -> None:
    result = training.judge([rank(FALLING, stall=0.1), rank(FALLING, stall=0.4)])
    assert result.verdict == "pass"
    assert result.figures["data_stall"] == 0.4 and "data stall 40%" in result.summary


def test_training_fails_replicas_that_differ_by_any_amount() -> None:
    result = training.judge([rank(FALLING), rank(FALLING, diff=1e-7)])
    assert (result.verdict, result.code) == ("fail", "ddp.replicas-diverged")
    assert "rank 1's parameters differ from rank 0's by up to 1e-07" in result.problem


def test_training_fails_a_loss_that_does_not_fall_by_the_stated_margin() -> None:
    flat = [2.3] * 25 + [0.6] * 5  # 26%: not at most 25%
    result = training.judge([rank(flat), rank(flat)])
    assert (result.verdict, result.code) == ("fail", "train.loss-not-falling")
    assert "at most 25% of where it started" in result.problem


def test_training_names_a_straggler_but_not_ordinary_noise() -> None:
    assert training.judge([rank(FALLING, own=0.010), rank(FALLING, own=0.045)]).verdict == "pass"  # 4.5x, 35 ms
    assert training.judge([rank(FALLING, own=0.200), rank(FALLING, own=0.290)]).verdict == "pass"  # 90 ms, 1.5x
    result = training.judge([rank(FALLING, own=0.010), rank(FALLING, own=0.310)])
    assert (result.verdict, result.code) == ("fail", "rank.straggler")
    assert "rank 1 is a straggler: its own work takes 310 ms a step against 10 ms" in result.problem


def test_training_lists_every_broken_rule() -> None:
    result = training.judge([rank(FALLING, own=0.01), rank(FALLING, diff=0.5, own=0.4)])
    assert result.figures["codes"] == ["ddp.replicas-diverged", "rank.straggler"]
    assert "straggler" in result.problem and "differ" in result.problem


def test_checkpoint_outputs_must_match_in_both_directions() -> None:
    ok = {"keys": 6, "ddp_keys_prefixed": 6, "ddp_to_plain_max_diff": 0.0, "plain_to_ddp_max_diff": 0.0, "bytes": 1}
    assert checkpoint_roundtrip.judge([ok, ok]).verdict == "pass"
    bad = checkpoint_roundtrip.judge([ok, dict(ok, plain_to_ddp_max_diff=0.25)])
    assert (bad.verdict, bad.code) == ("fail", "checkpoint.roundtrip-mismatch")
    assert bad.problem == "after loading plain -> DDP on rank 1, outputs differ by 0.25"


def test_error_signatures_point_at_doctor_codes() -> None:
    worker = (
        "RuntimeError: DataLoader worker (pid 4242) is killed by signal: Bus error. It is possible that "
        "dataloader's workers are out of shared memory. Please try to raise your shared memory limit."
    )
    assert causes.explain(worker).code == "shm.too-small"
    nccl = "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system error"
    assert causes.explain(nccl).code == "nccl.init-failed"
    assert (
        causes.explain("RuntimeError: DataLoader worker (pid(s) 77) exited unexpectedly").code
        == "dataloader.worker-died"
    )
    assert (
        causes.explain(
            "RuntimeError: [../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer "
            "[127.0.0.1]:23456"
        ).code
        == "rank.died"
    )
    assert causes.explain("Rank 1 failed to pass monitoredBarrier in 5000 ms").code == "collective.timeout"
    assert causes.explain("ValueError: something new").code == "selftest.internal"


# Real lines, as printed on real machines (the issue each comes from is named).
RECORDED = [
    # measured here: a DataLoader worker under a 256 KiB /dev/shm (torch 2.13)
    (
        "RuntimeError: unable to allocate shared memory(shm) for file </torch_18807_2855339027_0>: No space left on "
        "device (28)",
        "shm.too-small",
    ),
    # pytorch/ci-infra#490
    (
        "misc/shmutils.cc:132 NCCL WARN Error while creating shared memory segment /dev/shm/nccl-WU88OE (size 9637888), "
        "error: No space left on device (28)",
        "shm.too-small",
    ),
    # NVIDIA/nccl-tests#166
    ("misc/shmutils.cc:71 NCCL WARN Error: failed to extend /dev/shm/nccl-fjwOOB to 5967876 bytes", "shm.too-small"),
    # NVIDIA/nccl#342
    ("include/shm.h:28 NCCL WARN Call to posix_fallocate failed: No space left on device", "shm.too-small"),
    # vllm-project/vllm#10523
    (
        "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1333, "
        "unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.18.1",
        "nccl.init-failed",
    ),
]


def test_recorded_errors_name_their_cause() -> None:
    for line, code in RECORDED:
        assert causes.explain(line).code == code, line
