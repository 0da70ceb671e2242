"""Who runs the self-test: the rules of --gpus, --cpu and torchrun, without any GPU."""

from __future__ import annotations

import pytest

from torchrig._core.errors import UserError
from torchrig.selftest import faults
from torchrig.selftest.launcher import _visible
from torchrig.selftest.plan import choose_plan, default_timeout, processes_here

TORCHRUN = {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "node0"}


def test_no_option_and_no_gpu_means_two_cpu_processes_and_says_so() -> None:
    plan = choose_plan(None, None, {}, gpu_count=0)
    assert (plan.device, plan.backend, plan.world_size, plan.launcher) == ("cpu", "gloo", 2, "torchrig")
    assert plan.reason == "no GPU found, so 2 CPU processes with gloo"


def test_no_option_with_gpus_means_every_gpu_with_nccl() -> None:
    plan = choose_plan(None, None, {}, gpu_count=4)
    assert (plan.device, plan.backend, plan.world_size, plan.gpus) == ("cuda", "nccl", 4, (0, 1, 2, 3))
    assert "4 GPUs found" in plan.reason


def test_gpus_with_no_gpu_is_an_error_with_exit_1() -> None:
    with pytest.raises(UserError, match="torch sees none") as info:
        choose_plan("all", None, {}, gpu_count=0)
    assert info.value.exit_code == 1


@pytest.mark.parametrize(
    ("spec", "gpus"), [("all", (0, 1, 2, 3, 4, 5)), ("2", (0, 1)), ("0,2,5", (0, 2, 5)), ("3,", (3,))]
)
def test_gpus_takes_all_a_count_or_a_list(spec: str, gpus: tuple[int, ...]) -> None:
    plan = choose_plan(spec, None, {}, gpu_count=6)
    assert plan.gpus == gpus and plan.world_size == len(gpus)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("7", "asks for 7 GPUs, but this machine has 6 GPUs"),
        ("0", "asks for 0 GPUs"),
        ("0,9", "names GPU 9, but this machine has 6 GPUs"),
        ("1,1", "names a GPU twice"),
        ("two", "takes all, a count or a list"),
        ("0,x", "takes all, a count or a list"),
    ],
)
def test_bad_gpu_specs_are_usage_errors(spec: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        choose_plan(spec, None, {}, gpu_count=6)
    assert info.value.exit_code == 2


def test_cpu_n_and_its_bounds() -> None:
    assert choose_plan(None, 3, {}, gpu_count=8).world_size == 3  # --cpu wins even where GPUs exist
    with pytest.raises(UserError, match="from 1 to 64"):
        choose_plan(None, 0, {}, gpu_count=0)
    with pytest.raises(UserError, match="choose one of --gpus and --cpu"):
        choose_plan("all", 2, {}, gpu_count=2)


def test_under_torchrun_this_process_is_one_rank_of_torchruns_world() -> None:
    plan = choose_plan(None, None, TORCHRUN, gpu_count=2)
    assert (plan.launcher, plan.backend, plan.world_size) == ("torchrun", "nccl", 4)
    cpu = choose_plan(None, None, TORCHRUN, gpu_count=0)
    assert (cpu.backend, cpu.world_size) == ("gloo", 4)
    assert choose_plan(None, 4, TORCHRUN, gpu_count=2).backend == "gloo"


def test_under_torchrun_counts_and_gpu_lists_are_torchruns_business() -> None:
    with pytest.raises(UserError, match="WORLD_SIZE=4"):
        choose_plan(None, 2, TORCHRUN, gpu_count=0)
    with pytest.raises(UserError, match="CUDA_VISIBLE_DEVICES"):
        choose_plan("0,1", None, TORCHRUN, gpu_count=2)
    with pytest.raises(UserError, match="has 1 GPU"):
        choose_plan(None, None, TORCHRUN, gpu_count=1)


def test_chosen_gpus_count_among_the_ones_already_visible() -> None:
    assert _visible((0, 2), None) == "0,2"
    assert _visible((0, 2), "3,5,7") == "3,7"
    assert _visible((1,), "GPU-aaaa,GPU-bbbb") == "GPU-bbbb"


def test_faults_are_checked_before_anything_runs() -> None:
    assert faults.parse(["p2p-zeros", "grad-drift"], 2) == {"p2p-zeros", "grad-drift"}
    with pytest.raises(UserError, match="unknown fault 'nope'"):
        faults.parse(["nope"], 2)
    with pytest.raises(UserError, match="needs at least 2 processes"):
        faults.parse(["slow-rank"], 1)


def test_the_default_time_limit_grows_with_the_processes_that_share_the_cpus() -> None:
    assert default_timeout(2, cpus=2) == 300  # --cpu 2 here, or 8 GPUs on a 16-core box: the plain limit
    assert default_timeout(8, cpus=16) == 300
    assert default_timeout(40, cpus=2) == 300 + 5 * 38  # --cpu 40 on this 2-core machine: 490 s
    assert default_timeout(64, cpus=2) == 610
    assert default_timeout(3, cpus=0) == 310  # an unknown CPU count counts as one


def test_the_processes_here_are_the_whole_run_or_torchruns_share_of_this_node() -> None:
    assert processes_here(choose_plan(None, 40, {}, gpu_count=0), {}) == 40
    assert processes_here(choose_plan(None, None, TORCHRUN, gpu_count=2), TORCHRUN) == 2  # of WORLD_SIZE=4
    plan = choose_plan(None, None, TORCHRUN, gpu_count=0)
    assert processes_here(plan, dict(TORCHRUN, LOCAL_WORLD_SIZE="x")) == 1
