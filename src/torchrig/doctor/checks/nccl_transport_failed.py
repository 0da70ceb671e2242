"""nccl.transport-failed: NCCL cannot connect the ranks (network interface, InfiniBand, sockets).

Read from what NCCL printed (NCCL_DEBUG=WARN/INFO lines, torch's ncclSystemError / ncclRemoteError
messages): no usable interface, InfiniBand that cannot register memory, connections refused between nodes,
a container without the host's network. And from the job's shape (report/distributed.py) where NCCL named no failing
call: a job over several machines whose NCCL sockets use interfaces that exist only inside one machine, or whose
NCCL_SOCKET_IFNAME picks the interface by name on every node while the connection between the nodes failed.
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


# Interfaces that reach no other machine. lo (and any 127.0.0.0/8 or ::1 address) is loopback. Docker's bridge driver
# makes a Linux bridge per bridge network, docker0 for the default one and br-<first 12 hex digits of the network id>
# for each user-defined one, and joins every container to it through a veth pair whose host end is named veth<hex>;
# a bridge network's scope is "local", it "applies to containers running on the same Docker daemon host" (Docker
# docs, "Bridge network driver"; moby libnetwork/drivers/bridge), and every Docker host holds the same private
# subnets (172.17.0.1 on docker0). libvirt's virbr<n> is the same for VMs. NCCL leaves out only docker* and lo by
# default (^docker,lo, with virbr since 2.28: ncclFindInterfaces, src/misc/socket.cc), so br-* and veth* are used
# like any NIC, and an NCCL_SOCKET_IFNAME set by the user replaces even that exclusion.
_HOST_LOCAL_NAME = re.compile(r"^(?:lo|docker\w*|br-[0-9a-f]{12}|veth\w+|virbr\d+)$")
_LOOPBACK = re.compile(r"^(?:127\.|::1$)")
# NCCL's results and torch's words for a collective that failed (nccl.h: ncclSystemError "unhandled system error",
# ncclRemoteError "remote process exited or there was a network error"; ProcessGroupNCCL's "NCCL error in:" and its
# watchdog's timeout; nccl-tests' "Test NCCL failure"; NCCL's own WARN lines). A library path naming libnccl is none.
_NCCL_FAILED = re.compile(
    r"\bNCCL (?:error|Error \d|failure|WARN)\b|\bnccl(?:System|Remote|Internal|UnhandledCuda)Error\b"
    r"|unhandled system error|remote process exited|Watchdog caught collective operation timeout",
    re.IGNORECASE,
)


def _host_local(entry: str) -> bool:
    """``entry`` ("br-05ab815fa14e:172.19.0.1") is an interface that exists only inside one machine."""
    name, _, address = entry.partition(":")
    return bool(_HOST_LOCAL_NAME.match(name) or _LOOPBACK.match(address))


def _nccl_failure(facts: Facts) -> str | None:
    """The NCCL failure the report shows: a failure line, else a hit that names NCCL's error."""
    lines = [*facts.failures, *(hit.excerpt for hit in facts.signatures)]
    return next((line for line in lines if _NCCL_FAILED.search(line)), None)


def nccl_transport_works(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """NCCL's network and shared-memory transports connect every rank."""
    hits = hits_for(facts, TRANSPORT)
    if not hits:
        return _across_machines(facts)
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
    local = [entry for entry in facts.system.nccl_interfaces if _host_local(entry)]
    if local and facts.system.multi_node:
        evidence["interfaces NCCL uses that reach no other machine"] = _first_of(local, 6)
        shared = _network_interface(facts) or "<that interface>"
        fix.append(f"export NCCL_SOCKET_IFNAME={shared}   # not {_name(local[0])}: it reaches no other machine")
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


def _name(entry: str) -> str:
    return entry.partition(":")[0]


def _first_of(entries: list[str], n: int) -> list[str]:
    """The first ``n`` entries, and how many more there are."""
    return entries[:n] + ([f"{len(entries) - n} more"] if len(entries) > n else [])


def _network_interface(facts: Facts) -> str | None:
    """The first interface NCCL listed that is not host-local: the one the nodes likely share."""
    return next((_name(e) for e in facts.system.nccl_interfaces if not _host_local(e)), None)


def _across_machines(facts: Facts) -> list[Finding]:
    """A job over several machines whose NCCL collective failed, where NCCL named no failing call.

    (1) NCCL's socket lines show interfaces that exist only inside one machine: its connections to another node go
    over an address that node cannot reach (or holds itself), an error. (2) NCCL printed no interface, and the job set
    NCCL_SOCKET_IFNAME: NCCL then uses exactly the interfaces that match it on each node, "find or fail"
    (ncclFindInterfaces), so a name that is missing, down or not the link between the nodes on one of them breaks the
    connection; a suspicion, since a rank that died first makes the same error. Neither: the doctor's unexplained
    finding says which NCCL_DEBUG lines would tell.
    """
    system = facts.system
    failure = _nccl_failure(facts)
    if not (system.multi_node and failure):
        return []
    said = "the reporter says so" if system.sources.get("multi_node") == "stated" else "the launch or NCCL's own lines"
    evidence: dict[str, object] = {"failure": failure, "machines": f"several ({said})"}
    local = [entry for entry in system.nccl_interfaces if _host_local(entry)]
    shared = _network_interface(facts)
    check = (
        "ip -br addr   # on every node: the interface whose addresses reach the other nodes (eth0, ens*, bond0, ib0)"
    )
    if local:
        evidence["NCCL uses"] = _first_of(system.nccl_interfaces, 8)
        names = ", ".join(_name(e) for e in local[:4]) + (f" and {len(local) - 4} more" if len(local) > 4 else "")
        return [
            Finding(
                code=TRANSPORT,
                severity=Severity.ERROR,
                title=f"NCCL's sockets use interfaces that reach no other machine ({names}) in a job over several machines",
                detail=(
                    "NCCL spreads its connections between nodes over every interface it lists. Loopback, Docker's bridges "
                    "(docker0, br-<network id>), the host ends of container links (veth*) and libvirt's virbr* exist "
                    "only inside one machine, and every Docker host has the same private addresses on them, so a "
                    "connection over them fails or reaches the wrong host. NCCL leaves out only lo and docker* by "
                    "itself; NCCL_SOCKET_IFNAME must name the interface that connects the nodes."
                ),
                evidence=evidence,
                fix=(
                    check,
                    f"export NCCL_SOCKET_IFNAME={shared or '<that interface>'}   # on every node (=={shared or 'name'} for "
                    "that exact name); a list such as eno1,eth0 where the nodes name it differently",
                    "# or leave out what is host-local: NCCL_SOCKET_IFNAME=^lo,docker,br-,veth,virbr",
                    "export NCCL_DEBUG=INFO   # run again: 'NET/Socket : Using' lists only that interface now",
                ),
            )
        ]
    if _in_container(facts) and system.container_network != "host":
        return [_container_network(facts, evidence)]
    ifname = system.env.get("NCCL_SOCKET_IFNAME")
    if ifname is None or system.nccl_interfaces:
        return []
    evidence["NCCL_SOCKET_IFNAME"] = ifname
    return [
        Finding(
            code=TRANSPORT,
            severity=Severity.WARNING,
            title=f"A job over several machines failed in NCCL with NCCL_SOCKET_IFNAME={ifname}: is that interface the "
            "one that connects the nodes, on every node?",
            detail=(
                "With NCCL_SOCKET_IFNAME set, NCCL uses only interfaces that match it, on each node, and fails where none "
                "does; an interface that exists but does not reach the other nodes (down, another subnet, a bridge "
                "without the link) breaks the connection as surely. The error alone cannot rule out a rank that died "
                "first: NCCL's INFO lines from every node would show which interface each one used."
            ),
            evidence=evidence,
            fix=(
                check,
                *(
                    (f"ping -I {name} <other node's address>   # on each node: the link between the nodes over {name}",)
                    if (name := ifname.lstrip("=")) and re.fullmatch(r"[\w.@-]+", name)
                    else ()
                ),
                "export NCCL_SOCKET_IFNAME=<that interface>   # or a list such as eno1,eth0 where the nodes name it differently",
                "export NCCL_DEBUG=INFO   # run again on every node: 'NET/Socket : Using' and 'Bootstrap : Using' name "
                "the interface each node picked",
            ),
        )
    ]


def _in_container(facts: Facts) -> bool:
    """The job ran in a container: a runtime the report shows, a docker run/compose line, or NCCL's system error
    in a report that names containers (signatures.toml nccl.system-error-in-container)."""
    system = facts.system
    named = any(hit.id == "nccl.system-error-in-container" for hit in facts.signatures)
    return system.container in ("docker", "podman") or system.container_network is not None or named


def _container_network(facts: Facts, evidence: dict[str, object]) -> Finding:
    """Containers on several machines whose network is not shown to be the host's.

    Docker connects a container to its default bridge network unless told otherwise, and "bridge networks apply to
    containers running on the same Docker daemon host" (Docker docs, "Bridge network driver"): another machine reaches
    such a container only through ports published one by one, while NCCL's ranks listen on ports they pick at run
    time and advertise the container's private address. Host networking (--network=host) or a network that spans
    hosts (an overlay, macvlan) lets the ranks connect; NCCL's own Docker advice (User Guide, "Troubleshooting")
    runs its containers so. A suspicion where the run line is not shown.
    """
    network = facts.system.container_network
    if network is not None:
        evidence["container network"] = network + (
            " (Docker's default: no --network given)" if network == "bridge" else ""
        )
    shown = f"on the {network!r} network" if network else "whose network the report does not show"
    return Finding(
        code=TRANSPORT,
        severity=Severity.WARNING,
        title=f"NCCL failed between containers on several machines, {shown}: the ranks can only connect over the "
        "host's network",
        detail=(
            "A container on Docker's bridge network has a private address that other machines cannot reach, and NCCL's "
            "ranks connect to each other on ports chosen at run time, which no -p publishes. Run the containers with "
            "--network=host (or on a network that spans the hosts) so that NCCL sees and advertises the host's "
            "interfaces."
        ),
        evidence=evidence,
        fix=(
            "docker run --network=host --ipc=host --gpus all ...   # on every node (compose: network_mode: host, ipc: host)",
            "export NCCL_SOCKET_IFNAME=<the interface between the nodes>   # then, on the host's network, name it",
            "export NCCL_DEBUG=INFO   # run again: 'Bootstrap : Using' shows the host's interface, not eth0:172.17.x.x",
        ),
    )


register(
    Check(
        name="nccl-transport-failed",
        codes=(TRANSPORT,),
        summary="NCCL cannot connect ranks: network interface, InfiniBand, sockets between nodes",
        layer=Layer.RUNTIME,
        run=nccl_transport_works,
    )
)
