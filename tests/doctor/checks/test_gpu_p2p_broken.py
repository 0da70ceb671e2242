"""gpu.p2p-broken: peer-to-peer between GPUs must not be enabled and broken."""

from __future__ import annotations

from check_facts import H100, RTX4090, linux_gpu_box, report

from torchrig.doctor.checks import CheckContext, gpu_p2p_broken
from torchrig.doctor.facts import P2PLink

CTX = CheckContext()


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
