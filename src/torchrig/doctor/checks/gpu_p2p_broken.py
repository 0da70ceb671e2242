"""gpu.p2p-broken: peer-to-peer between GPUs is reported or proven broken."""

from __future__ import annotations

from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "gpu.p2p-broken"


def peer_to_peer_works(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """No GPU pair may have peer-to-peer that is enabled but broken (wrong data or hangs)."""
    broken = [link for link in facts.gpus.p2p if link.status == "broken"]
    hits = hits_for(facts, CODE)
    if not broken and not hits:
        return []
    evidence: dict[str, object] = {
        (f"GPU{link.a} <-> GPU{link.b}" if link.a >= 0 else "a GPU pair"): f"broken ({link.source or 'test'})"
        for link in broken
    }
    evidence.update(evidence_of(hits))
    fix: list[str] = ["export NCCL_P2P_DISABLE=1   # works around it now: NCCL goes through host memory"]
    if queries.is_ubuntu(facts) or queries.is_debian_like(facts):
        fix.append(
            "sudo sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT=\"/&iommu=pt /' /etc/default/grub && sudo update-grub && sudo reboot"
            "   # the usual cause: IOMMU translation of peer traffic"
        )
    fix.append(
        "sudo lspci -vvv | grep -i acsctl   # PCIe ACS enabled on a bridge (SrcValid+) also breaks P2P: disable it in the BIOS"
    )
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title="Peer-to-peer transfers between GPUs are broken",
            detail="Copies between GPUs over P2P return wrong data or hang, so multi-GPU training corrupts "
            "gradients or NCCL stalls. IOMMU or PCIe ACS settings are the usual cause.",
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="gpu-p2p-broken",
        codes=(CODE,),
        summary="peer-to-peer between a GPU pair is reported or proven broken",
        layer=Layer.RUNTIME,
        run=peer_to_peer_works,
    )
)
