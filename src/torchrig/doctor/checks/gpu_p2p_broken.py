"""gpu.p2p-broken: peer-to-peer between GPUs is reported or proven broken.

The evidence, strongest first (NCCL User Guide, "Troubleshooting": GPU Direct and "PCI Access Control
Services (ACS)"; ROCm's multi-GPU system settings for RCCL):

1. a pair whose direct copy came back wrong while the copy through the host was right (``torchrig selftest``);
2. the report says the job works once NCCL stops using P2P (``NCCL_P2P_DISABLE=1``, NCCL's documented
   diagnostic), or the kernel log shows the IOMMU refusing device DMA during the job;
3. ``lspci`` showing ACS on a bridge (SrcValid+) next to NCCL/RCCL; or an NCCL/RCCL test that drives several
   GPUs from one process (or several ranks on one host) hangs. The test has no application code, and
   the GPUs one process drives share a machine, so NCCL's intra-node transports are the suspects (with the
   network too, where the test spans several machines); IOMMU/ACS redirecting P2P traffic
   ("a significant performance reduction or even a hang") is the documented cause. This alone is a suspicion,
   a warning whose first fix is the diagnostic.
"""

from __future__ import annotations

from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "gpu.p2p-broken"
# signatures.toml: a hang with nothing yet showing that P2P is what hangs (case 3 above)
# and ACS enabled on a bridge (it slows P2P down "or even" hangs it: a cause shown, not yet the failure)
# and RCCL's warning that the kernel runs without iommu=pt (it checks /proc/cmdline at init, failure or not)
_SUSPICION_ONLY = frozenset({"p2p.collective-test-hangs", "p2p.acs-enabled", "p2p.rccl-iommu-not-passthrough"})


def peer_to_peer_works(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """No GPU pair may have peer-to-peer that is enabled but broken (wrong data or hangs)."""
    broken = [link for link in facts.gpus.p2p if link.status == "broken"]
    hits = hits_for(facts, CODE)
    if not broken and not hits:
        return []
    proven = bool(broken) or any(hit.id not in _SUSPICION_ONLY for hit in hits)
    evidence: dict[str, object] = {
        (f"GPU{link.a} <-> GPU{link.b}" if link.a >= 0 else "a GPU pair"): f"broken ({link.source or 'test'})"
        for link in broken
    }
    evidence.update(evidence_of(hits))
    if not proven:
        return [_suspected(facts, hits, evidence)]
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title="Peer-to-peer transfers between GPUs are broken",
            detail="Copies between GPUs over P2P return wrong data or hang, so multi-GPU training corrupts "
            "gradients or NCCL stalls. IOMMU or PCIe ACS settings are the usual cause.",
            evidence=evidence,
            fix=(
                "export NCCL_P2P_DISABLE=1   # works around it now: NCCL goes through host memory",
                *_root_fixes(facts),
            ),
        )
    ]


def _suspected(facts: Facts, hits: list[SignatureHit], evidence: dict[str, object]) -> Finding:
    """A collective test hangs inside one machine, or ACS is on: P2P is the documented suspect, not yet shown to be it."""
    guide = (
        "NCCL's troubleshooting guide names IO virtualization (VT-d/IOMMU) and PCIe ACS, which redirect "
        "peer-to-peer traffic through the CPU, as the cause of such hangs."
    )
    if any(hit.id == "p2p.collective-test-hangs" for hit in hits):
        title = "A collective between GPUs of one machine hangs: GPU peer-to-peer is the likely cause"
        detail = (
            "An NCCL/RCCL test driving several GPUs of one machine (from one process, or ranks on the same host) makes "
            "no progress. The test runs no application code, and those GPUs share a machine, so the transfers between "
            f"them stall (where several machines take part, the network between them is the other suspect). {guide}"
        )
    elif not any(hit.id == "p2p.acs-enabled" for hit in hits):
        title = "RCCL warns that the kernel runs without iommu=pt: peer traffic between the GPUs is IOMMU-translated"
        detail = (
            "RCCL found no iommu=pt on the kernel command line. ROCm's install FAQ ties it to multi-GPU jobs that "
            "hang with the GPUs at 100%: with the IOMMU translating, transfers between the GPUs stall or fail."
        )
    else:
        title = "PCIe ACS is enabled on a bridge: GPU peer-to-peer traffic is redirected through the CPU"
        detail = (
            "lspci shows Access Control Services on (SrcValid+), which sends P2P transfers up to the root complex: "
            "NCCL's guide says it must be disabled for GPU Direct, as it costs bandwidth or hangs collectives."
        )
    return Finding(
        code=CODE,
        severity=Severity.WARNING,
        title=title,
        detail=detail + " Run the job once with P2P disabled: if it then completes, P2P is broken.",
        evidence=evidence,
        fix=(
            "NCCL_P2P_DISABLE=1 <the same command>   # the diagnostic: completes now -> P2P is the fault",
            "nvidia-smi topo -m   # PIX/PXB/PHB links go over PCIe (P2P); SYS crosses CPU sockets",
            *_root_fixes(facts),
        ),
    )


def _root_fixes(facts: Facts) -> list[str]:
    fix: list[str] = []
    if queries.is_ubuntu(facts) or queries.is_debian_like(facts) or any(queries.is_amd(g) for g in facts.gpus.devices):
        fix.append(
            "sudo sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT=\"/&iommu=pt /' /etc/default/grub && sudo update-grub && sudo reboot"
            "   # the usual cause: IOMMU translation of peer traffic (ROCm's required setting for RCCL too)"
        )
    else:
        fix.append(
            "# the usual cause, IOMMU translation of peer traffic: add iommu=pt to the kernel command line "
            "(GRUB_CMDLINE_LINUX_DEFAULT) and reboot, or turn VT-d / AMD-Vi off in the BIOS"
        )
    fix.append(
        "sudo lspci -vvv | grep -i acsctl   # PCIe ACS enabled on a bridge (SrcValid+) also breaks P2P: disable it in the BIOS"
    )
    return fix


register(
    Check(
        name="gpu-p2p-broken",
        codes=(CODE,),
        summary="peer-to-peer between a GPU pair is reported or proven broken, or a collective test inside one machine hangs",
        layer=Layer.RUNTIME,
        run=peer_to_peer_works,
    )
)
