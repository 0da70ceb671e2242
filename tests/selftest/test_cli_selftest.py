"""``torchrig selftest`` end to end: real rank processes, real gloo, real DataLoader workers.

One clean run is what CI proves; each planted fault must fail the stage it targets, with the cause's
code, and a rank that dies or hangs must end the run with a message, never a hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from torchrig.cli.selftest import bare_gpus_means_all  # noqa: E402


def selftest(*args: str, timeout: float = 240, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torchrig", "selftest", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema"] == "torchrig.selftest/1"
    return data


def stages(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in data["stages"]}


@pytest.mark.slow
def test_cpu_2_passes_every_stage_with_its_figures() -> None:
    proc = selftest("--cpu", "2", "--json")
    data = report(proc)
    assert proc.returncode == 0 and data["ok"], proc.stdout
    by = stages(data)
    assert list(by) == ["rendezvous", "smoke", "p2p", "collectives", "training", "checkpoint"]
    assert [s["verdict"] for s in data["stages"]] == ["pass", "pass", "skip", "pass", "pass", "pass"]
    assert data["plan"] == {
        "device": "cpu",
        "backend": "gloo",
        "world_size": 2,
        "gpus": [],
        "launcher": "torchrig",
        "reason": "--cpu 2: 2 CPU processes with gloo",
    }
    assert by["smoke"]["figures"]["max_rel_error"] <= by["smoke"]["figures"]["bound"] == 1e-4
    bandwidth = by["collectives"]["figures"]["bandwidth"]
    assert [row["bytes"] for row in bandwidth] == [1 << 16, 1 << 18, 1 << 20, 1 << 22]
    assert all(row["busbw_gbps"] == pytest.approx(row["algbw_gbps"]) for row in bandwidth)  # 2(n-1)/n = 1 for n = 2
    train = by["training"]["figures"]
    assert train["loss_last"] <= 0.25 * train["loss_first"]
    assert train["max_abs_param_diff"] == 0.0
    assert 0.0 <= train["data_stall"] < 1.0
    assert train["workers_per_rank"] >= 1
    assert train["cache"]["items"] == 1024 and train["cache"]["hits"] > 0  # epoch 2 read from the shared cache
    assert by["checkpoint"]["figures"]["ddp_keys_prefixed"] == by["checkpoint"]["figures"]["keys"] == 6
    assert data["workdir"] is None


@pytest.mark.slow
def test_each_planted_fault_fails_its_own_stage_with_its_code() -> None:
    proc = selftest(
        "--cpu",
        "2",
        "--json",
        "--steps",
        "20",
        "--inject",
        "matmul-wrong",
        "--inject",
        "p2p-zeros",
        "--inject",
        "allreduce-wrong",
        "--inject",
        "grad-drift",
        "--inject",
        "slow-rank",
    )
    data = report(proc)
    assert proc.returncode == 1 and not data["ok"]
    by = stages(data)
    assert (by["smoke"]["verdict"], by["smoke"]["code"]) == ("fail", "gpu.matmul-wrong")
    assert by["smoke"]["problem"].startswith("rank 1 (cpu) computed a 256x256 float32 product with relative error")
    assert (by["p2p"]["verdict"], by["p2p"]["code"]) == ("fail", "gpu.p2p-broken")
    assert "direct copies delivered different data" in by["p2p"]["problem"]
    assert (by["collectives"]["verdict"], by["collectives"]["code"]) == ("fail", "gloo.allreduce-wrong")
    assert "wrong sum on rank 1: 1 of 65536 elements differ" in by["collectives"]["problem"]
    assert by["training"]["verdict"] == "fail"
    assert by["training"]["figures"]["codes"] == ["ddp.replicas-diverged", "rank.straggler"]
    assert "rank 1's parameters differ from rank 0's" in by["training"]["problem"]
    assert "rank 1 is a straggler" in by["training"]["problem"]
    assert by["checkpoint"]["verdict"] == "pass"  # the faults above break nothing it checks


@pytest.mark.slow
def test_the_faults_that_need_no_second_rank_fail_their_stage_with_one_rank() -> None:
    # With one rank the all-reduce's result was the very tensor it was checked against, so the planted
    # error changed both and collectives passed (found on the H200, whose one GPU runs one rank).
    proc = selftest("--cpu", "1", "--json", "--steps", "20", "--inject", "allreduce-wrong", "--inject", "p2p-zeros")
    data = report(proc)
    assert proc.returncode == 1 and not data["ok"]
    by = stages(data)
    assert (by["collectives"]["verdict"], by["collectives"]["code"]) == ("fail", "gloo.allreduce-wrong")
    assert "wrong sum on rank 0: 1 of 65536 elements differ" in by["collectives"]["problem"]
    assert (by["p2p"]["verdict"], by["p2p"]["code"]) == ("fail", "gpu.p2p-broken")
    assert "(stand-ins within host memory, for --inject)" in by["p2p"]["summary"]
    assert [by[name]["verdict"] for name in ("rendezvous", "smoke", "training", "checkpoint")] == ["pass"] * 4


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_forty_ranks_on_two_cores_pass_the_same_stages_within_the_default_time_limit(tmp_path: Path) -> None:
    # 1024 images in batches of 32 once left each of 34 ranks or more no full batch: StopIteration.
    from torchrig.selftest.stages.training import sizing

    begin = time.monotonic()
    proc = selftest("--cpu", "40", "--json", timeout=840, env=dict(os.environ, TMPDIR=str(tmp_path)))
    data = report(proc)
    assert proc.returncode == 0 and data["ok"], [(s["name"], s["verdict"], s["problem"]) for s in data["stages"]]
    assert [s["verdict"] for s in data["stages"]] == ["pass", "pass", "skip", "pass", "pass", "pass"]
    assert data["plan"]["world_size"] == 40
    by = stages(data)
    assert by["rendezvous"]["figures"]["world_size"] == 40
    assert by["collectives"]["figures"]["wrong_per_rank"] == [0] * 40
    train = by["training"]["figures"]
    assert (train["batch_per_rank"], train["dataset_length"]) == (sizing(40).batch, sizing(40).dataset_length)
    assert len(train["median_own_s_per_rank"]) == 40 and train["max_abs_param_diff"] == 0.0
    assert train["loss_last"] <= 0.25 * train["loss_first"]
    assert train["epochs"] >= 2 and train["cache"]["hits"] > 0
    assert list(tmp_path.glob("torchrig-selftest-*")) == []
    print(f"--cpu 40: {time.monotonic() - begin:.1f} s wall, {data['seconds']:.1f} s in the report")


@pytest.mark.slow
def test_a_rank_that_dies_fails_the_run_at_once_with_its_signal(tmp_path: Path) -> None:
    begin = time.monotonic()
    proc = selftest("--cpu", "2", "--inject", "rank-dies", "--keep")
    elapsed = time.monotonic() - begin
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "DDP training failed: rank 1 (pid" in proc.stdout
    assert "was killed by SIGKILL during training" in proc.stdout
    assert "likely cause [rank.died]" in proc.stdout
    assert "SKIP checkpoint round trip (0.0 s): not run: DDP training failed" in proc.stdout
    kept = Path(proc.stdout.split("kept: ")[1].split(" (")[0])
    assert (kept / "rank-1.log").exists()
    shutil.rmtree(kept)
    assert elapsed < 120  # no collective timeout was needed: the launcher saw the death


@pytest.mark.slow
def test_the_only_rank_dying_fails_the_run_and_is_never_a_pass() -> None:
    # a single-GPU box whose one rank segfaults or is OOM-killed: its channel closes before its exit
    # status can be reaped, which once read as "finished" and turned every stage into a SKIP and a pass
    proc = selftest("--cpu", "1", "--json", "--inject", "rank-dies")
    data = report(proc)
    assert proc.returncode == 1 and not data["ok"]
    training = stages(data)["training"]
    assert (training["verdict"], training["code"]) == ("fail", "rank.died")
    assert training["problem"].startswith("rank 0 (pid ")
    assert "was killed by SIGKILL during training" in training["problem"]


@pytest.mark.slow
def test_a_rank_that_fails_alone_fails_the_stage_without_waiting_for_the_collective_timeout() -> None:
    begin = time.monotonic()
    proc = selftest("--cpu", "2", "--json", "--inject", "rank-raises")  # collectives wait up to 60 s
    data = report(proc)
    assert proc.returncode == 1
    training = stages(data)["training"]
    assert training["verdict"] == "fail"
    assert training["problem"] == (
        "rank 1 failed: RuntimeError: injected: this rank's training failed before its first collective"
    )
    assert time.monotonic() - begin < 50  # the launcher's grace (10 s), not the 60 s collective timeout


@pytest.mark.slow
def test_a_rank_that_hangs_is_timed_out_not_waited_for() -> None:
    proc = selftest("--cpu", "2", "--json", "--inject", "rank-hangs", "--collective-timeout", "2")
    data = report(proc)
    assert proc.returncode == 1
    training = stages(data)["training"]
    assert training["verdict"] == "fail"
    assert training["code"] in {"collective.timeout", "rank.died"}, training
    assert stages(data)["checkpoint"]["verdict"] == "skip"


@pytest.mark.slow
def test_torchrun_ranks_run_the_same_stages(tmp_path: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed next to this python")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    proc = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "torchrig",
            "selftest",
            "--json",
            "--steps",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads(proc.stdout)  # rank 0 alone prints
    assert data["ok"] and data["plan"]["launcher"] == "torchrun" and data["plan"]["world_size"] == 2
    assert [s["verdict"] for s in data["stages"]] == ["pass", "pass", "skip", "pass", "pass", "pass"]


NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU (tests/gpu covers it)")


@NO_GPU
@pytest.mark.parametrize("args", [("--gpus", "all"), ("--gpus",), ("--gpus", "--json"), ("--gpus=0,2",)])
def test_gpus_without_a_gpu_is_one_sentence_and_exit_1(args: tuple[str, ...]) -> None:
    proc = selftest(*args)
    assert proc.returncode == 1
    assert " ".join(proc.stderr.split()) == (
        "torchrig: --gpus asks for GPUs but torch sees none on this machine; run "
        "`torchrig doctor` to find out why, or use --cpu N."
    )
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("args", "completed"),
    [
        (["--gpus"], ["--gpus", "all"]),
        (["--gpus", "--json"], ["--gpus", "all", "--json"]),
        (["--json", "--gpus"], ["--json", "--gpus", "all"]),
        (["--gpus", "2", "--json"], ["--gpus", "2", "--json"]),
        (["--gpus", "0,2,5"], ["--gpus", "0,2,5"]),
        (["--gpus=0,2"], ["--gpus=0,2"]),
        (["--gpus", "all"], ["--gpus", "all"]),
        (["--cpu", "2", "--", "--gpus"], ["--cpu", "2", "--", "--gpus"]),
        ([], []),
    ],
)
def test_gpus_alone_means_every_gpu_and_a_value_is_kept(args: list[str], completed: list[str]) -> None:
    assert bare_gpus_means_all(args) == completed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--gpus", "all", "--cpu", "2"), "choose one of --gpus and --cpu."),
        (("--gpus", "--cpu", "2"), "choose one of --gpus and --cpu."),
        (("--cpu", "2", "--gpus"), "choose one of --gpus and --cpu."),
        (("--steps", "5"), "--steps must be at least 20"),
        (("--cpu", "2", "--inject", "nope"), "unknown fault 'nope'"),
        (("--cpu", "1", "--inject", "grad-drift"), "--inject grad-drift needs at least 2 processes"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: tuple[str, ...], message: str) -> None:
    proc = selftest(*args)
    assert proc.returncode == 2
    assert message in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr


def test_without_torch_it_says_so_in_one_sentence(tmp_path: Path) -> None:
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('No module named torch (test double)')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = selftest("--cpu", "2", env=env)
    assert proc.returncode == 2
    text = " ".join(proc.stderr.split())  # the console wraps long lines
    assert text.startswith("torchrig: torchrig selftest needs PyTorch, and importing it failed (ImportError")
    assert text.endswith("run `torchrig doctor` to find out why and how to fix it.") and "Traceback" not in text


@pytest.mark.parametrize("count", ["0", "65", "-1"])
def test_an_impossible_cpu_count_is_refused_before_torch_is_imported(tmp_path: Path, count: str) -> None:
    marker = tmp_path / "torch-imported"
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nraise ImportError('test double')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = selftest("--cpu", count, env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert " ".join(proc.stderr.split()) == f"torchrig: --cpu takes a process count from 1 to 64, not {count}."
    assert not marker.exists()  # answered before importing torch


def test_more_cpu_processes_than_cpus_is_accepted_with_a_one_line_warning() -> None:
    # pinned to one CPU, 3 processes take turns: the run starts, and says first that it will be slow
    proc = subprocess.Popen(
        [sys.executable, "-m", "torchrig", "selftest", "--cpu", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}),  # noqa: PLW1509
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
    assert first == "warning: 3 CPU processes on 1 CPU: they take turns, so the run will be slow (time limit 310 s).\n"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"torchrig.selftest.rank" in cmdline:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


def _processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every live process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                found.append((int(entry.name), int(fields[1]), int(fields[2])))
    return found


def _in_groups(groups: list[int]) -> list[int]:
    """The live processes of these process groups (a rank's group: the rank and its DataLoader workers)."""
    return [pid for pid, _, group in _processes() if group in groups]


def _launcher(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """A real launcher in a session of its own, working in ``tmp_path`` (its TMPDIR)."""
    return subprocess.Popen(
        [sys.executable, "-m", "torchrig", "selftest", "--cpu", "2", "--json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TMPDIR=str(tmp_path)),
        start_new_session=True,
    )


def _joined(launcher: subprocess.Popen[str], tmp_path: Path) -> tuple[list[int], Path]:
    """Wait until both ranks have joined (each made its directory): their pids and the work directory."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        ranks = _children(launcher.pid)
        made = list(tmp_path.glob("torchrig-selftest-*"))
        if len(ranks) == 2 and len(made) == 1 and all((made[0] / f"rank-{r}").is_dir() for r in (0, 1)):
            return ranks, made[0]
        assert launcher.poll() is None, launcher.communicate()
        time.sleep(0.2)
    raise AssertionError("the ranks did not join within 90 s")


def _end(launcher: subprocess.Popen[str], ranks: list[int]) -> None:
    """Kill what this test started and is still there: the launcher's session, each rank's group."""
    for group in [launcher.pid, *ranks]:
        if _in_groups([group]):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
    if launcher.poll() is None:
        launcher.kill()
    launcher.communicate()


def _gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not any(_alive(p) for p in pids)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_that_ends_the_launcher_ends_its_ranks_and_removes_its_work_directory(
    sig: signal.Signals, tmp_path: Path
) -> None:
    launcher = _launcher(tmp_path, "--inject", "rank-hangs")  # nothing would end this run but the signal
    ranks: list[int] = []
    try:
        ranks, workdir = _joined(launcher, tmp_path)
        launcher.send_signal(sig)
        out, err = launcher.communicate(timeout=60)
    finally:
        _end(launcher, ranks)
    assert launcher.returncode == 128 + sig  # as a shell reports a command that a signal ended
    assert " ".join(err.split()) == (
        f"torchrig: selftest stopped by {sig.name}: its 2 ranks ended, its work directory removed."
    )
    assert out == ""  # no half report
    assert _gone(ranks, within=10) and _in_groups(ranks) == []
    assert not workdir.exists() and list(tmp_path.glob("torchrig-selftest-*")) == []


@pytest.mark.slow
def test_a_sigkilled_launchers_ranks_and_workers_end_and_the_next_run_removes_what_is_left(tmp_path: Path) -> None:
    # a straggler and many steps keep the ranks training, their DataLoader workers running, for a minute
    launcher = _launcher(tmp_path, "--inject", "slow-rank", "--steps", "200")
    ranks: list[int] = []
    try:
        ranks, workdir = _joined(launcher, tmp_path)
        deadline = time.monotonic() + 90
        while not all(any(ppid == r for _, ppid, _ in _processes()) for r in ranks):  # each rank has its workers
            assert time.monotonic() < deadline, "the ranks started no DataLoader worker within 90 s"
            time.sleep(0.2)
        family = _in_groups(ranks)
        assert len(family) > len(ranks)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        assert _gone(family, within=15), f"still running after the launcher was killed: {_in_groups(ranks)}"
    finally:
        _end(launcher, ranks)
    assert (workdir / "rank-0.log").exists()  # the killed launcher could not remove it ...
    proc = selftest("--cpu", "1", "--steps", "20", "--json", env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert report(proc)["ok"]
    assert not workdir.exists()  # ... the next run did
    assert list(tmp_path.glob("torchrig-selftest-*")) == []


def _can_mount_private_tmpfs() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", "/dev/shm"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


@pytest.mark.slow
def test_a_dev_shm_too_small_for_the_workers_is_named_shm_too_small() -> None:
    if not _can_mount_private_tmpfs():
        pytest.skip("needs root and unshare to give the run its own small /dev/shm")
    # A private mount namespace: this run alone sees a 256 KiB /dev/shm, like a container's default 64 MB
    # does for a real dataset; the machine's /dev/shm is untouched.
    script = 'mount -t tmpfs -o size=256k tmpfs /dev/shm && exec "$0" "$@"'  # argv passed through, not spliced
    proc = subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            sys.executable,
            "-m",
            "torchrig",
            "selftest",
            "--cpu",
            "2",
            "--steps",
            "20",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    data = report(proc)
    assert proc.returncode == 1
    training = stages(data)["training"]
    assert (training["verdict"], training["code"]) == ("fail", "shm.too-small")
    assert "unable to allocate shared memory(shm)" in training["problem"]
    assert "--shm-size" in training["cause"]


@pytest.mark.slow
def test_the_whole_run_has_a_deadline() -> None:
    begin = time.monotonic()
    # a hung rank and a collective timeout far beyond the run's: only the run's own deadline can end it
    proc = selftest("--cpu", "2", "--json", "--timeout", "4", "--inject", "rank-hangs", "--collective-timeout", "600")
    data = report(proc)
    assert proc.returncode == 1
    timed_out = [s for s in data["stages"] if s["code"] == "selftest.timeout"]
    assert len(timed_out) == 1 and "passed its 4 s limit during this stage" in timed_out[0]["problem"]
    assert time.monotonic() - begin < 60
