"""nccl.transport-failed: NCCL cannot connect the ranks (network interface, InfiniBand, sockets).

Read from what NCCL printed (NCCL_DEBUG=WARN/INFO lines, torch's ncclSystemError / ncclRemoteError
messages): no usable interface, InfiniBand that cannot register memory, connections refused between nodes,
a container without the host's network.
"""

from __future__ import annotations

import re

from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

TRANSPORT = "nccl.transport-failed"
# NCCL's own words when it has no interface (bootstrap.cc, net_socket.cc, socket.cc): see signatures.toml
_NO_INTERFACE = (
    "no socket interface",
    "no usable listening interface",
    "no interface found",
    "neither af_inet",
    "socket_ifname",
    "no such device",
)


# signatures.toml: NCCL's WARN "Call to <name> failed" for an InfiniBand verbs or socket call (its ncclSystemError)
_CALL_FAILED = "nccl.network-call-failed"
# signatures.toml: an NCCL_SOCKET_IFNAME exclusion list that leaves the loopback interface in
_ADMITS_LOOPBACK = "nccl.socket-ifname-admits-loopback"
_CALL = re.compile(r"Call to (?P<call>[\w ]+?)(?:\(\))? failed")


def nccl_transport_works(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """NCCL's network and shared-memory transports connect every rank."""
    hits = hits_for(facts, TRANSPORT)
    if not hits:
        return []
    text = " ".join(h.excerpt for h in hits).lower()
    fix: list[str] = []
    ifname = facts.system.env.get("NCCL_SOCKET_IFNAME")
    evidence: dict[str, object] = {}
    if ifname is not None:
        evidence["NCCL_SOCKET_IFNAME"] = ifname
    if any(marker in text for marker in _NO_INTERFACE) or ifname is not None:
        named = f" (it is {ifname!r}: does every node have that interface, up, with an address?)" if ifname else ""
        fix += [
            "ip -br addr   # the interface that connects the nodes (e.g. eth0, ib0, bond0)",
            f"export NCCL_SOCKET_IFNAME=<that interface>   # a name that does not exist on a node makes NCCL fail there{named}",
        ]
    if any(h.id == _ADMITS_LOOPBACK for h in hits):
        fix.append(
            "export NCCL_SOCKET_IFNAME=^docker,lo   # exclude lo too, as NCCL's own default does (also in /etc/nccl.conf)"
        )
    if "ibv_reg_" in text or "memlock" in text or "cannot allocate memory" in text:
        fix.append("ulimit -l unlimited   # InfiniBand registers pinned memory; containers: --ulimit memlock=-1")
    if "ibv_reg_" in text:
        # NCCL registers its buffers with the NIC (ibv_reg_mr, ibv_reg_dmabuf_mr); their size follows NCCL_BUFFSIZE
        # (default 4 MiB per channel and peer, NCCL environment variables), so an enlarged one can exhaust it
        buffsize = facts.system.env.get("NCCL_BUFFSIZE")
        fix.append(
            "unset NCCL_BUFFSIZE   # registered buffers grow with it (default 4 MiB)"
            + (f"; it is {buffsize} here" if buffsize else ": a large value can exhaust what the NIC can register")
        )
    if "net/ib" in text or "ibv_" in text or "ib_" in text:
        fix.append(
            "export NCCL_IB_DISABLE=1   # a test: if the job then runs, InfiniBand (driver, fabric, limits) is the fault"
        )
    if facts.system.container in ("docker", "podman"):
        fix.append("# in a container: --network=host --ipc=host (NCCL needs the host's interfaces and shared memory)")
    fix += [
        "export NCCL_DEBUG=INFO   # run again: the NET/ and Bootstrap lines name the interface and transport that fail",
        "# between nodes: the ports torch and NCCL use must be open (firewall, security groups)",
    ]
    evidence.update(evidence_of(hits))
    call = next((m for h in hits if h.id == _CALL_FAILED for m in [_CALL.search(h.excerpt)] if m), None)
    return [
        Finding(
            code=TRANSPORT,
            severity=Severity.ERROR,
            title=f"NCCL's network transport failed a call ({call.group('call')}): its system error"
            if call
            else "NCCL could not connect the ranks (network or transport failure)",
            detail=(
                "The collectives failed in NCCL's transport, not in the model: a wrong or missing network interface, "
                "InfiniBand that cannot register memory, or connections refused between nodes."
            ),
            evidence=evidence,
            fix=tuple(dict.fromkeys(fix)),
        )
    ]


register(
    Check(
        name="nccl-transport-failed",
        codes=(TRANSPORT,),
        summary="NCCL cannot connect ranks: network interface, InfiniBand, sockets between nodes",
        layer=Layer.RUNTIME,
        run=nccl_transport_works,
    )
)
