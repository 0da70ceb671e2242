"""A distributed job's shape, from what NCCL and the launchers printed: the network interfaces NCCL uses, the
NCCL_* variables the job was given, and whether it spans several machines.

- NCCL's interface lines (NCCL_DEBUG=INFO): "NET/Socket : Using [0]eth0:10.0.0.1<0> [1]ib0:..." (its socket transport,
  src/transport/net_socket.cc), "Bootstrap : Using [0]eth0:..." (2.4-2.18) or "Bootstrap: Using eth0:..." (2.19+,
  src/bootstrap.cc), and NCCL 2.3's "NET : Using interface eth0:10.0.0.1<0>" (src/include/socket.h): each interface as
  name:address<port>, recorded as ``name:address``. A paste may wrap the list, one interface a line.
- NCCL_* variables set on a command line or in a script ("export NCCL_SOCKET_IFNAME=eno1", "-x NCCL_IB_DISABLE=1",
  "NCCL_DEBUG=INFO torchrun ...", os.environ["NCCL_P2P_DISABLE"] = "1"), where NCCL's own "set by environment" line
  (report/logs.py) did not already say.
- A container's network and IPC namespace, from a `docker run` (or nvidia-docker, compose) line: --network/--net
  (Docker's default is the "bridge" network: "If you don't specify a network, the container is connected to the
  default bridge network", Docker docs, "Networking"), --ipc=host, --shm-size, and compose's network_mode, ipc and
  shm_size.
- Several machines: a launcher's node count above 1 (torchrun/torch.distributed.launch --nnodes, deepspeed
  --num_nodes, accelerate --num_machines, Slurm --nodes / SLURM_NNODES, mpirun's -H host list), NCCL's "nNodes N" (src/init.cc, 2.19+), NCCL
  lines from two hosts (each line starts "host:pid:tid [dev] NCCL ...", src/debug.cc), or the reporter's words ("two
  nodes", "multi-node"), the last with the source ``stated``.
"""

from __future__ import annotations

import re

from torchrig._core.prefilter import Haystack
from torchrig.doctor.facts import Facts

SOURCE = "report"
STATED = "stated"

# One interface of NCCL's list: " [3]br-d5d80d7dbbad:172.21.0.1<0>" or, NCCL 2.3 and the 2.19+ bootstrap, without the
# index. The name stops at the first ":": an alias label getifaddrs reports for a secondary address ("eth0:1") reads
# as its interface.
_INTERFACE = r"(?:\[\d{1,2}\])?(?P<name>[A-Za-z][\w.@-]{0,31}):(?P<address>[0-9A-Fa-f.:]+(?:%[\w.@-]+)?)<\d+>"
_USING = re.compile(
    r"(?:NET/Socket|Bootstrap) ?: Using(?P<list>(?:\s*\[\d{1,2}\][^\s\[<]+<\d+>)+|[ \t]+[^\s\[<]+<\d+>)"
)
_USING_23 = re.compile(r"NET : Using interface (?P<list>[^\s<]+<\d+>)")
_ONE = re.compile(_INTERFACE)

# NCCL_* assignments outside NCCL's own INFO lines: a shell (export, env, a variable before a command), mpirun's -x,
# docker's -e, Python's os.environ, and a line of a YAML mapping or list ("NCCL_SOCKET_IFNAME: eth0"). The value stops
# at a quote, a space or ";".
_ASSIGNED = re.compile(
    r"""(?:^|[\s;`(\[{,'"])(?:export\s+|-x\s+|env\s+|-e\s+)?['"]?(?P<name>NCCL_[A-Z0-9_]{2,40})['"]?\]?\s*=\s*"""
    r"""['"]?(?P<value>[^\s'"`;)\]]+)"""
    r"""|^[ \t]*-?[ \t]*(?P<yname>NCCL_[A-Z0-9_]{2,40}):[ \t]+['"]?(?P<yvalue>[^\s'"`;]+)['"]?[ \t]*$""",
    re.MULTILINE,
)

# A command that starts a container: docker/nvidia-docker run or create, docker compose / docker-compose.
_DOCKER_RUN = re.compile(
    r"\b(?:nvidia-)?docker[ \t]+(?:container[ \t]+)?(?:run|create)\b|\bdocker[- ]compose\b|^\s*services:\s*$",
    re.MULTILINE,
)
_NETWORK = re.compile(
    r"(?<![\w-])--net(?:work)?(?:[ \t]*=[ \t]*|[ \t]+)['\"]?(?P<run>[\w.-]+)|^[ \t]*network_mode:[ \t]*['\"]?(?P<compose>[\w.-]+)",
    re.MULTILINE,
)
_IPC = re.compile(r"(?<![\w-])--ipc(?:[ \t]*=[ \t]*|[ \t]+)['\"]?host\b|^[ \t]*ipc:[ \t]*['\"]?host\b", re.MULTILINE)
_SHM_SIZE = re.compile(
    r"(?:(?<![\w-])--shm-size(?:[ \t]*=[ \t]*|[ \t]+)|^[ \t]*shm_size:[ \t]*)['\"]?(?P<number>\d+(?:\.\d+)?)(?P<unit>[bkmgBKMG]?)",
    re.MULTILINE,
)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}

# Launchers' node counts (torch.distributed.run --nnodes N or MIN:MAX, deepspeed --num_nodes, accelerate
# --num_machines and its config's num_machines, Slurm's --nodes/-N and SLURM_NNODES / SLURM_JOB_NUM_NODES).
_NODE_COUNT = re.compile(
    r"(?:--nnodes|--num[_-]nodes|--num[_-]machines|\bnum_machines:|--nodes|#SBATCH\s+-N|\bSLURM_(?:JOB_NUM_)?NNODES=|\bSLURM_JOB_NUM_NODES=)"
    r"[ \t=]*['\"]?(?P<count>\d{1,4})(?::(?P<most>\d{1,4}))?\b"
)
# mpirun's and horovodrun's host lists ("-H node1:4,node2:4", "--host a,b"): two names or more, two machines.
_HOST_LIST = re.compile(r"(?:^|\s)(?:-H|--hosts?)[ \t=]+(?P<hosts>[\w.-]+(?::\d+)?(?:,[\w.-]+(?::\d+)?)+)")
# NCCL 2.19+ (src/init.cc): "comm 0x... rank 0 nRanks 16 nNodes 2 localRanks 8 localRank 0 MNNVL 0".
_NCCL_NODES = re.compile(r"\bnRanks \d+ nNodes (?P<count>\d+)\b")
# The prefix NCCL's debug lines carry (src/debug.cc: "%s:%d:%d [%d] NCCL INFO", hostname, pid, tid, cudaDev).
_NCCL_HOST = re.compile(
    r"^[ \t]*(?:\w[\w.-]*:[ \t]*)?(?P<host>[A-Za-z0-9][\w.-]{0,62}):\d+:\d+ \[\d+\] (?:NCCL|[\w./]+:\d+ NCCL)\b",
    re.MULTILINE,
)
# The reporter's own words: "two nodes", "2 remote machines", "multi-node", "across nodes".
_STATED_NODES = re.compile(
    r"\b(?:two|three|four|eight|sixteen|several|multiple|[2-9]|[1-9]\d{1,3})\s+(?:remote\s+|different\s+|separate\s+|"
    r"physical\s+|gpu\s+|compute\s+|worker\s+)?(?:nodes|machines|servers|hosts)\b"
    r"|\bmulti[- ]?(?:node|machine|host)s?\b|\binter-?node\b|\bcross-node\b|\bacross (?:the |two |several |multiple )?(?:nodes|machines)\b",
    re.IGNORECASE,
)


def scan(haystack: Haystack, facts: Facts) -> bool:
    """Record the job's interfaces, NCCL variables and machine count; True if anything was recorded."""
    found = _interfaces(haystack, facts)
    found = _nccl_variables(haystack, facts) or found
    found = _container_flags(haystack, facts) or found
    return _nodes(haystack, facts) or found


def _interfaces(haystack: Haystack, facts: Facts) -> bool:
    text = haystack.text
    if "Using" not in text:
        return False
    seen = list(facts.system.nccl_interfaces)
    for pattern in (_USING, _USING_23):
        for using in haystack.finditer(pattern):
            for one in _ONE.finditer(using.group("list")):
                entry = f"{one.group('name')}:{one.group('address')}"
                if entry not in seen:
                    seen.append(entry)
    if seen == facts.system.nccl_interfaces:
        return False
    facts.system.nccl_interfaces = seen
    facts.system.sources.setdefault("nccl_interfaces", SOURCE)
    return True


def _nccl_variables(haystack: Haystack, facts: Facts) -> bool:
    text = haystack.text
    if "NCCL_" not in text:
        return False
    env = facts.system.env
    found = False
    for assigned in _ASSIGNED.finditer(text):
        name = assigned.group("name") or assigned.group("yname")
        value = (assigned.group("value") or assigned.group("yvalue")).rstrip(".,")
        if name not in env and value:
            env[name] = value
            found = True
    if found:
        facts.system.sources.setdefault("env", SOURCE)
    return found


def _nodes(haystack: Haystack, facts: Facts) -> bool:
    system = facts.system
    if system.multi_node is not None:
        return False
    text = haystack.text
    counts = [int(m.group("most") or m.group("count")) for m in haystack.finditer(_NODE_COUNT)]
    counts += [int(m.group("count")) for m in haystack.finditer(_NCCL_NODES)]
    hosts = {m.group("host") for m in _NCCL_HOST.finditer(text)} if "NCCL" in text else set()
    for listed in haystack.finditer(_HOST_LIST):
        counts.append(len({host.partition(":")[0] for host in listed.group("hosts").split(",")}))
    if counts or len(hosts) > 1:
        system.multi_node = max(counts, default=1) > 1 or len(hosts) > 1
        system.sources["multi_node"] = SOURCE
        return True
    if haystack.search(_STATED_NODES):
        system.multi_node = True
        system.sources["multi_node"] = STATED
        return True
    return False


def _container_flags(haystack: Haystack, facts: Facts) -> bool:
    """The network, IPC namespace and /dev/shm size a docker run or compose line gives its container."""
    text = haystack.text
    if "docker" not in text.lower() and "services:" not in text:
        return False
    if not haystack.search(_DOCKER_RUN):
        return False
    system = facts.system
    network = haystack.search(_NETWORK)
    system.container_network = (network.group("run") or network.group("compose")) if network else "bridge"
    system.sources["container_network"] = SOURCE
    if haystack.search(_IPC):
        system.container_ipc = "host"
        system.sources["container_ipc"] = SOURCE
    size = haystack.search(_SHM_SIZE)
    if size and system.shm_total_bytes is None:
        system.shm_total_bytes = int(float(size.group("number")) * _UNITS[size.group("unit").lower()])
        system.sources["shm_total_bytes"] = SOURCE
    return True
