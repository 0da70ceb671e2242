"""NCCL between machines: the interfaces NCCL's NET/Socket and Bootstrap lines name, the job's machine count, the
NCCL_* variables a job was given, and what they make of a failed collective (NCCL's src/misc/socket.cc,
src/transport/net_socket.cc, src/bootstrap.cc; Docker's bridge network driver).

Texts are short excerpts in the wording of public reports other than the corpus's (each named above its text), or
written from NCCL's own format strings."""

from __future__ import annotations

from torchrig.doctor import checks
from torchrig.doctor.report import parse_report
from torchrig.knowledge import signatures as known

# horovod/horovod#584 ("Horovod hangs on multi-machine"), NCCL 2.3's "NET : Using interface" lines: lo among them.
_LO_AMONG_INTERFACES = """\
Horovod hangs on multi-machine
gpu-b-1011:4289:4343 [0] NCCL INFO comm 0x7fc8e824c640 rank 0 nranks 4
gpu-b-1012:4152:4206 [0] NCCL INFO NET : Using interface lo:127.0.0.1<0>
gpu-b-1012:4152:4206 [0] NCCL INFO NET : Using interface eth0:10.151.40.240<0>
gpu-b-1012:4152:4206 [0] NCCL INFO NET/Socket : 3 interfaces found
gpu-b-1012:4153:4209 [1] include/socket.h:361 NCCL WARN Call to connect timeout : Connection refused
"""

# NVIDIA/nccl#1105 ("Multi node training exited with socket timeout"): a connect the network answered with no route.
_NO_ROUTE = """\
I am using Accelerate for multi-node training. Within docker, env uses the host network.
RuntimeError: Socket Timeout
ps-8:796:796 [1] NCCL INFO Bootstrap : Using enp67s0:192.168.1.8<0>
ps-8:796:796 [1] NCCL INFO NET/Socket : Using [0]enp67s0:192.168.1.8<0>
ps-8:795:822 [0] include/socket.h:409 NCCL WARN Net : Connect to 192.168.1.9<54263> failed : No route to host
"""

# NVIDIA/nccl-tests#219: two servers whose interfaces are named differently, one NCCL_SOCKET_IFNAME for both.
_IFNAME_ON_TWO_SERVERS = """\
I have two servers, one names its NIC enp4s0 and the other enp6s0.
mpirun -np 2 -H node-a,node-b -x NCCL_SOCKET_IFNAME=enp4s0 ./build/all_reduce_perf -b 8 -e 128M -f 2 -g 1
node-a: Test NCCL failure common.cu:959 'internal error - please report this issue to the NCCL developers / '
"""

# Written from NCCL's and Docker's sources: on a Docker host NCCL's socket list holds the default bridge and a
# container's veth besides the NIC, and torchrun starts two nodes.
_DOCKER_HOST = """\
torchrun --nnodes=2 --nproc_per_node=8 --rdzv_endpoint=10.0.0.1:29500 train.py
node1:2100:2100 [0] NCCL INFO Bootstrap : Using eth0:10.0.0.1<0>
node1:2100:2100 [0] NCCL INFO NET/Socket : Using [0]eth0:10.0.0.1<0> [1]docker0:172.17.0.1<0> [2]veth3c1a2b9:fe80::a8c1:abff:fe12:3456%veth3c1a2b9<0>
torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970, remote process exited or there was a network error, NCCL version 2.20.5
"""


def _first(text: str) -> tuple[str, str]:
    first = checks.run_checks(parse_report(text))[0]
    return first.code, first.severity.value


def test_the_interfaces_nccl_lists_are_read_in_every_format() -> None:
    assert parse_report(_LO_AMONG_INTERFACES).system.nccl_interfaces == ["lo:127.0.0.1", "eth0:10.151.40.240"]
    assert parse_report(_DOCKER_HOST).system.nccl_interfaces == [
        "eth0:10.0.0.1",
        "docker0:172.17.0.1",
        "veth3c1a2b9:fe80::a8c1:abff:fe12:3456%veth3c1a2b9",
    ]
    wrapped = "INFO NET/Socket : Using\n[0]bond0:192.168.7.20<0>\n[1]br-0123456789ab:172.18.0.1<0>\n"
    assert parse_report(wrapped).system.nccl_interfaces == ["bond0:192.168.7.20", "br-0123456789ab:172.18.0.1"]


def test_a_job_over_machines_is_read_from_the_launch_nccl_or_the_reporter() -> None:
    assert parse_report(_DOCKER_HOST).system.multi_node is True  # torchrun --nnodes=2
    assert parse_report(_LO_AMONG_INTERFACES).system.multi_node is True  # NCCL lines of two hosts
    one = "node1:1:1 [0] NCCL INFO comm 0x1 rank 0 nRanks 2 nNodes 1 localRanks 2 localRank 0 MNNVL 0\n"
    assert parse_report(one + "unhandled system error").system.multi_node is False
    assert parse_report(_IFNAME_ON_TWO_SERVERS).system.multi_node is True  # mpirun -H node-a,node-b
    said = parse_report("Training on two nodes stops with ncclSystemError.").system
    assert (said.multi_node, said.sources["multi_node"]) == (True, "stated")


def test_nccl_variables_set_on_a_command_line_are_read() -> None:
    assert parse_report(_IFNAME_ON_TWO_SERVERS).system.env["NCCL_SOCKET_IFNAME"] == "enp4s0"
    text = 'os.environ["NCCL_P2P_DISABLE"] = "1"\nexport NCCL_SOCKET_IFNAME=^docker,lo\nncclSystemError'
    env = parse_report(text).system.env
    assert (env["NCCL_P2P_DISABLE"], env["NCCL_SOCKET_IFNAME"]) == ("1", "^docker,lo")


def test_loopback_among_the_interfaces_of_a_job_over_machines_is_the_transport() -> None:
    facts = parse_report(_LO_AMONG_INTERFACES)
    [first, *_] = checks.run_checks(facts)
    assert (first.code, first.severity.value) == ("nccl.transport-failed", "error")
    assert "lo:127.0.0.1" in str(first.evidence)
    assert any("NCCL_SOCKET_IFNAME=eth0" in step for step in first.fix)


def test_docker_bridges_and_veths_in_a_job_over_machines_are_the_transport() -> None:
    [first, *_] = checks.run_checks(parse_report(_DOCKER_HOST))
    assert (first.code, first.severity.value) == ("nccl.transport-failed", "error")
    assert "docker0" in first.title and "veth3c1a2b9" in first.title
    assert any("NCCL_SOCKET_IFNAME=eth0" in step for step in first.fix)


def test_a_connect_without_a_route_is_the_transport() -> None:
    assert _first(_NO_ROUTE) == ("nccl.transport-failed", "error")


def test_a_socket_ifname_over_two_machines_that_failed_is_a_suspicion() -> None:
    findings = checks.run_checks(parse_report(_IFNAME_ON_TWO_SERVERS))
    assert (findings[0].code, findings[0].severity.value) == ("nccl.transport-failed", "warning")
    assert findings[0].evidence["NCCL_SOCKET_IFNAME"] == "enp4s0"


def test_host_local_interfaces_on_one_machine_are_no_evidence() -> None:
    # One node: NCCL's sockets carry no data between GPUs of one machine, and lo serves the bootstrap there.
    text = _DOCKER_HOST.replace("--nnodes=2", "--nnodes=1")
    assert "nccl.transport-failed" not in [f.code for f in checks.run_checks(parse_report(text))]


def test_an_nccl_system_error_alone_names_the_lines_that_would_tell() -> None:
    # NVIDIA/nccl#286's words: two computers and NCCL's system error, nothing else NCCL printed.
    text = (
        "I have two computers, one gives eno1 and lo, the other eth0 and lo.\n"
        "RuntimeError: NCCL error in: /pytorch/torch/lib/c10d/ProcessGroupNCCL.cpp:410, unhandled system error, "
        "NCCL version 2.4.8\n"
    )
    [first] = checks.run_checks(parse_report(text))
    assert (first.code, first.severity.value) == ("doctor.unexplained", "warning")
    assert any("NET/Socket : Using" in step for step in first.fix)
    assert any("/dev/shm/nccl-" in step for step in first.fix)


def test_a_refused_connect_nccl_retried_counts_only_where_the_job_then_failed() -> None:
    line = "node2:4120:4188 [0] NCCL INFO Call to connect returned Connection refused, retrying\n"
    assert "nccl.connect-refused-retrying" not in [m.signature.id for m in known.find(line)]
    failed = known.find(line + "RuntimeError: NCCL error: unhandled system error\n")
    assert "nccl.connect-refused-retrying" in [m.signature.id for m in failed]


# pytorch/pytorch#23363 ("error in multi node"): two Docker containers on two machines, NCCL's system error; the
# maintainer: Docker's network isolation, try --network=host.
_TWO_CONTAINERS = """\
error in multi node
fail to new train...e= NCCL error in: /pytorch/torch/lib/c10d/ProcessGroupNCCL.cpp:272, unhandled system error
I run in two docker container, the program report error.
# node 0: 10.30.112.212   init_method="tcp://10.30.112.212:10087" rank=0 world_size=2
# node 1: 10.30.112.224   init_method="tcp://10.30.112.212:10087" rank=1 world_size=2
"""

# Written from Docker's and torch's documentation: the run line gives no --network, so the containers are on the
# default bridge network, and torchrun starts two nodes.
_BRIDGE_RUN = """\
$ docker run --gpus all --shm-size=8g -v /data:/data trainer:latest torchrun --nnodes=2 --node_rank=0 \\
    --master_addr=10.1.0.5 --master_port=29500 train.py
torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970, unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.19.3
"""


def test_a_docker_run_line_gives_the_container_network_ipc_and_shm() -> None:
    system = parse_report(_BRIDGE_RUN).system
    assert (system.container_network, system.container_ipc, system.shm_total_bytes) == ("bridge", None, 8 << 30)
    host = parse_report("docker run --net=host --ipc=host img python x.py\nncclSystemError").system
    assert (host.container_network, host.container_ipc) == ("host", "host")


def test_containers_over_machines_off_the_host_network_are_a_transport_suspicion() -> None:
    for text in (_TWO_CONTAINERS, _BRIDGE_RUN):
        findings = checks.run_checks(parse_report(text))
        assert (findings[0].code, findings[0].severity.value) == ("nccl.transport-failed", "warning"), text
        assert "shm.too-small" not in [f.code for f in findings]
        assert any("--network=host" in step for step in findings[0].fix)


def test_containers_over_machines_on_the_host_network_are_not_this_suspicion() -> None:
    text = _BRIDGE_RUN.replace("--gpus all", "--gpus all --network=host")
    assert "nccl.transport-failed" not in [f.code for f in checks.run_checks(parse_report(text))]


def test_an_nccl_system_error_in_a_container_sharing_the_host_ipc_is_no_shm_suspicion() -> None:
    # One machine; the run line gives the container the host's /dev/shm (--ipc=host) or a large one (--shm-size).
    for flag in ("--ipc=host", "--shm-size=16g"):
        text = f"docker run --gpus all {flag} img python train.py\nRuntimeError: NCCL Error 2: unhandled system error\n"
        assert "shm.too-small" not in [f.code for f in checks.run_checks(parse_report(text))], flag
    small = "docker run --gpus all img python train.py\nRuntimeError: NCCL Error 2: unhandled system error\n"
    assert checks.run_checks(parse_report(small))[0].code == "shm.too-small"


def test_a_library_path_naming_nccl_is_no_nccl_failure_of_the_job() -> None:
    text = (
        "torchrun --nnodes=2 train.py   # NCCL_SOCKET_IFNAME=eth0 exported on both nodes\n"
        "OSError: /venv/lib/python3.10/site-packages/nvidia/nccl/lib/libnccl.so.2: cannot open shared object file\n"
    )
    assert "nccl.transport-failed" not in [f.code for f in checks.run_checks(parse_report(text))]


def test_an_exclusion_list_in_nccl_socket_ifname_gets_no_ping_over_it() -> None:
    text = _IFNAME_ON_TWO_SERVERS.replace("NCCL_SOCKET_IFNAME=enp4s0", "NCCL_SOCKET_IFNAME=^docker,lo")
    [first, *_] = checks.run_checks(parse_report(text))
    assert first.code == "nccl.transport-failed"
    assert not any(step.startswith("ping") for step in first.fix)
