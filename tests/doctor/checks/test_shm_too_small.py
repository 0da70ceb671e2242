"""shm.too-small: /dev/shm must hold DataLoader workers' batches (at least 512 MiB)."""

from __future__ import annotations

from check_facts import RTX4090, linux_gpu_box, mac, report, this_machine

from torchrig.doctor.checks import CheckContext, run_checks, shm_too_small
from torchrig.doctor.findings import Severity
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def test_dockers_default_64_mib_gets_a_bigger_shm_size() -> None:
    facts = linux_gpu_box(RTX4090, container="docker", shm_total_bytes=64 << 20)
    [finding] = shm_too_small.shm_fits_dataloader_workers(facts, CTX)
    assert finding.severity is Severity.WARNING
    assert finding.title == "/dev/shm is only 64 MiB"
    assert finding.fix == ("docker run --shm-size=16g <image> ...   # or --ipc=host to share the host's /dev/shm",)


def test_a_kubernetes_pod_mounts_a_memory_backed_emptydir() -> None:
    facts = linux_gpu_box(RTX4090, container="kubernetes", shm_total_bytes=64 << 20)
    [finding] = shm_too_small.shm_fits_dataloader_workers(facts, CTX)
    assert "emptyDir with medium: Memory" in finding.fix[0]


def test_a_small_host_shm_is_remounted() -> None:
    facts = linux_gpu_box(RTX4090, shm_total_bytes=256 << 20)
    [finding] = shm_too_small.shm_fits_dataloader_workers(facts, CTX)
    assert finding.fix == ("sudo mount -o remount,size=16G /dev/shm",)


def test_a_dataloader_bus_error_in_a_log_is_an_error() -> None:
    facts = report(
        (
            "shm.dataloader-bus-error",
            "RuntimeError: DataLoader worker (pid 46794) is killed by signal: Bus error. "
            "It is possible that dataloader's workers are out of shared memory.",
        )
    )
    [finding] = shm_too_small.shm_fits_dataloader_workers(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert finding.fix[0].startswith("docker run --shm-size=16g")


def test_the_ngc_64mb_banner_is_a_warning() -> None:
    facts = report(
        ("shm.container-default-64mb", "NOTE: The SHMEM allocation limit is set to the default of 64MB.  This may be")
    )
    [finding] = shm_too_small.shm_fits_dataloader_workers(facts, CTX)
    assert finding.severity is Severity.WARNING


def test_this_machines_24_gib_and_a_mac_are_fine() -> None:
    assert shm_too_small.shm_fits_dataloader_workers(this_machine(), CTX) == []
    assert shm_too_small.shm_fits_dataloader_workers(mac(), CTX) == []


def test_a_bus_error_line_cut_by_the_reporters_wrapping_is_still_an_error() -> None:
    facts = report(
        (
            "shm.dataloader-bus-error",
            'it erred with: " RuntimeError: DataLoader worker (pid 47) is killed by signal: Bus',
        )
    )
    [finding] = shm_too_small.shm_fits_dataloader_workers(facts, CTX)
    assert finding.severity is Severity.ERROR


def test_nccl_failing_its_shared_memory_segment_is_proof_and_names_the_debug_step() -> None:
    facts = report(
        (
            "nccl.shm-segment-failed",
            "NCCL WARN Error while creating shared memory segment /dev/shm/nccl-x (size 9637888)",
        )
    )
    [finding] = shm_too_small.shm_fits_dataloader_workers(facts, CheckContext())
    assert finding.severity.value == "error"
    assert "NCCL could not create" in finding.title
    assert finding.fix[-1].startswith("export NCCL_DEBUG=INFO")


def test_an_nccl_system_error_in_a_container_is_only_a_suspicion() -> None:
    facts = report(("nccl.system-error-in-container", "RuntimeError: NCCL Error 2: unhandled system error"))
    facts.system.container = "docker"
    [finding] = shm_too_small.shm_fits_dataloader_workers(facts, CheckContext())
    assert finding.severity.value == "warning"
    assert "--ipc=host" in finding.fix[0]


# --- each text in its program's own wording (NCCL, Fabric Manager, cuda-python, torchaudio, the dynamic
# loader) or a reporter's, written from the source, not copied from a corpus report


def test_an_nccl_system_error_in_a_container_with_no_call_named_stays_a_shm_suspicion() -> None:
    text = "docker run --gpus all img\nRuntimeError: NCCL error in: ProcessGroupNCCL.cpp:825, unhandled system error\n"
    first = run_checks(parse_report(text))[0]
    assert (first.code, first.severity) == ("shm.too-small", Severity.WARNING)
