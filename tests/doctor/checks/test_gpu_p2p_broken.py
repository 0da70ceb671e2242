"""gpu.p2p-broken: peer-to-peer between GPUs must not be enabled and broken."""

from __future__ import annotations

from check_facts import H100, RTX4090, linux_gpu_box, report

from torchrig.doctor.checks import CheckContext, gpu_p2p_broken, run_checks
from torchrig.doctor.facts import Gpu, P2PLink
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def _findings(text: str) -> list[Finding]:
    return run_checks(parse_report(text))


def _first(text: str) -> Finding:
    findings = _findings(text)
    assert findings, "no findings"
    return findings[0]


def test_a_pair_whose_copies_came_back_wrong_disables_p2p_and_names_the_iommu() -> None:
    facts = linux_gpu_box(H100, H100)
    facts.gpus.p2p = [P2PLink(0, 1, "broken", source="selftest")]
    [finding] = gpu_p2p_broken.peer_to_peer_works(facts, CTX)
    assert finding.evidence == {"GPU0 <-> GPU1": "broken (selftest)"}
    assert finding.fix[0].startswith("export NCCL_P2P_DISABLE=1")
    assert "iommu=pt" in finding.fix[1]


def test_a_failed_p2p_test_in_a_log_yields_the_finding() -> None:
    facts = report(("gpu.p2p-test-failed", "Peer-to-peer copy GPU0 -> GPU1: FAILED (max error 1.0e+00)"))
    assert len(gpu_p2p_broken.peer_to_peer_works(facts, CTX)) == 1


def test_consumer_cards_without_p2p_support_are_normal() -> None:
    facts = linux_gpu_box(RTX4090, RTX4090)
    facts.gpus.p2p = [P2PLink(0, 1, "not-supported", source="nvml"), P2PLink(1, 0, "not-supported", source="nvml")]
    assert gpu_p2p_broken.peer_to_peer_works(facts, CTX) == []


def test_working_p2p_is_fine() -> None:
    facts = linux_gpu_box(H100, H100)
    facts.gpus.p2p = [P2PLink(0, 1, "ok", source="nvml")]
    assert gpu_p2p_broken.peer_to_peer_works(facts, CTX) == []


def test_the_job_working_with_p2p_disabled_is_proof_and_an_error() -> None:
    facts = report(("p2p.disable-avoids-failure", "Exporting NCCL_P2P_DISABLE=1 fixes the hang on our 8-GPU box."))
    [finding] = gpu_p2p_broken.peer_to_peer_works(facts, CTX)
    assert finding.severity.value == "error"
    assert finding.evidence == {"report line 3": "Exporting NCCL_P2P_DISABLE=1 fixes the hang on our 8-GPU box."}


def test_a_collective_test_hanging_alone_is_a_suspicion_whose_first_step_is_the_diagnostic() -> None:
    facts = report(("p2p.collective-test-hangs", "all_reduce_perf -g 2 hangs after the first size"))
    [finding] = gpu_p2p_broken.peer_to_peer_works(facts, CTX)
    assert finding.severity.value == "warning"
    assert finding.fix[0].startswith("NCCL_P2P_DISABLE=1 ")
    assert "likely" in finding.title


def test_amd_gpus_get_iommu_pt_whatever_the_distribution() -> None:
    facts = report(("p2p.collective-test-hangs", "rccl-tests all_reduce_perf -g 2 hangs"))
    facts.gpus.devices = [Gpu(index=i, name="AMD Instinct MI210", source="report") for i in range(2)]
    [finding] = gpu_p2p_broken.peer_to_peer_works(facts, CTX)
    assert any("iommu=pt" in step for step in finding.fix)


# --- nccl-tests ranks on one host (src/common.cu "Using devices")

NCCL_TESTS_TWO_RANKS = (
    "mpirun -np 2 -H node7:2 ./build/all_reduce_perf -b 8 -e 128M -f 2 -g 1\n"
    "# nThread 1 nGpus 1 minBytes 8 maxBytes 134217728 step: 2(factor) warmup iters: 5 iters: 20\n"
    "# Using devices\n"
    "#  Rank  0 Group  0 Pid  4100 on      node7 device  0 [0x17] NVIDIA L40S\n"
    "#  Rank  1 Group  0 Pid  4101 on      node7 device  1 [0x65] NVIDIA L40S\n"
    "It hangs after the first size, both GPUs at 100%.\n"
)


def test_an_nccl_test_with_two_ranks_on_one_host_that_hangs_suspects_p2p() -> None:
    first = _first(NCCL_TESTS_TWO_RANKS)
    assert first.code == "gpu.p2p-broken" and first.severity is Severity.WARNING


def test_ranks_on_two_hosts_are_not_one_machine() -> None:
    text = NCCL_TESTS_TWO_RANKS.replace("on      node7 device  1", "on      node8 device  0")
    assert "gpu.p2p-broken" not in [f.code for f in _findings(text)]
