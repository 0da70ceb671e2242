"""Multi-GPU evidence in a pasted report: what makes GPU peer-to-peer the cause of a hang (NCCL User Guide,
"Troubleshooting"), and the GPUs an nccl-tests run lists. Texts written from NCCL's documentation and output formats."""

from __future__ import annotations

import pytest

from torchrig.doctor import checks
from torchrig.doctor.report import parse_report
from torchrig.knowledge import signatures as known


def _ids(text: str) -> list[str]:
    return [m.signature.id for m in known.find(text)]


@pytest.mark.parametrize(
    "line",
    [
        "Training across 8 GPUs freezes at the first step; with NCCL_P2P_DISABLE=1 it runs.",
        "NCCL_P2P_DISABLE=1 resolves the hang, but bandwidth drops.",
        "Setting NCCL_P2P_LEVEL=LOC avoids the deadlock.",
        "It works after exporting NCCL_P2P_DISABLE=1 in the job script.",
    ],
)
def test_disabling_p2p_making_the_job_work_is_p2p_evidence(line: str) -> None:
    assert _ids(line) == ["p2p.disable-avoids-failure"]


@pytest.mark.parametrize(
    "line",
    [
        "NCCL_P2P_DISABLE=1 does not help, it still hangs.",
        "It doesn't work even with NCCL_P2P_DISABLE=1 set.",
        "Should I set NCCL_P2P_DISABLE=1 to fix it?",
        "I tried NCCL_P2P_DISABLE=1 but the job still hangs.",
    ],
)
def test_disabling_p2p_that_did_not_help_or_a_question_is_not(line: str) -> None:
    assert _ids(line) == []


_TEST_RUN = """\
# nThread 1 nGpus 2 minBytes 8 maxBytes 134217728 step: 2(factor) warmup iters: 5 iters: 20 validation: 1
#
# Using devices
#  Rank  0 Group  0 Pid  40112 on     node07 device  0 [0000:1b:00] NVIDIA L40S
#  Rank  1 Group  0 Pid  40112 on     node07 device  1 [0000:3d:00] NVIDIA L40S
"""


def test_a_collective_test_on_several_gpus_of_one_process_that_hangs_suspects_p2p() -> None:
    facts = parse_report(_TEST_RUN + "\nThe run hangs here, both GPUs stay at 100%.\n")
    assert [(g.index, g.name) for g in facts.gpus.devices] == [(0, "NVIDIA L40S"), (1, "NVIDIA L40S")]
    [first, *_] = checks.run_checks(facts)
    assert (first.code, first.severity.value) == ("gpu.p2p-broken", "warning")


def test_a_collective_test_with_one_gpu_per_process_that_hangs_is_not_p2p_evidence() -> None:
    text = _TEST_RUN.replace("nGpus 2", "nGpus 1") + "\nThe run hangs here.\n"
    assert "p2p.collective-test-hangs" not in [hit.id for hit in parse_report(text).signatures]


def test_gpus_of_a_collective_test_on_several_hosts_are_the_first_hosts() -> None:
    text = _TEST_RUN.replace("on     node07 device  1", "on     node08 device  1")
    assert [g.index for g in parse_report(text).gpus.devices if g.source == "report"] == [0]


def test_an_iommu_fault_next_to_an_rccl_job_is_p2p_evidence() -> None:
    text = "RCCL all_reduce_perf -g 2 stopped.\nAMD-Vi: Event logged [IO_PAGE_FAULT domain=0x0012 address=0x1000 flags=0x0020]"
    assert "p2p.iommu-fault" in _ids(text)


def test_torchs_answers_a_program_printed_under_its_own_labels_are_read() -> None:
    text = (
        "import torch\n"
        'print(f"visible: {torch.cuda.device_count()}")\n'
        'print("ok?", torch.cuda.is_available())\n'
        "```\n"
        "visible: 4\n"
        "ok? True\n"
    )
    facts = parse_report(text)
    assert (facts.torch.device_count, facts.torch.cuda_available) == (4, True)


def test_a_label_without_its_output_line_says_nothing() -> None:
    facts = parse_report(
        'print(f"visible: {torch.cuda.device_count()}")\nTraceback (most recent call last):\nValueError: x\n'
    )
    assert facts.torch.device_count is None


def test_cuda_device_order_set_on_a_command_line_is_read() -> None:
    facts = parse_report("CUDA_DEVICE_ORDER=PCI_BUS_ID CUDA_VISIBLE_DEVICES=2 python train.py\nRuntimeError: boom\n")
    assert facts.system.env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"


def test_a_user_site_torchrun_counts_only_where_the_report_uses_an_environment() -> None:
    frame = 'Traceback (most recent call last):\n  File "/home/ada/.local/bin/torchrun", line 8, in <module>\n'
    assert "env.user-site-launcher" not in _ids(frame)
    assert "env.user-site-launcher" in _ids("$ source .venv/bin/activate && torchrun t.py\n" + frame)


def test_the_python_a_failed_elastic_worker_ran_is_read() -> None:
    text = "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:\n  exitcode  : 1 (pid: 77) of binary: /opt/py/bin/python3.11\n"
    assert parse_report(text).system.python_version == "3.11"


def test_an_nccl_system_error_counts_for_shared_memory_only_in_a_container() -> None:
    error = "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:825, unhandled system error, NCCL version 2.7.8\n"
    assert "nccl.system-error-in-container" not in _ids(error)
    assert "nccl.system-error-in-container" in _ids("$ docker run --gpus all img python train.py\n" + error)


def test_acs_on_a_bridge_next_to_nccl_is_a_p2p_suspicion() -> None:
    text = "NCCL all_reduce_perf is slow\n\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+\n"
    facts = parse_report(text)
    [first, *_] = checks.run_checks(facts)
    assert (first.code, first.severity.value) == ("gpu.p2p-broken", "warning")
    assert "ACS" in first.title
