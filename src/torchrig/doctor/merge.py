"""Several nodes' doctor reports as one: which nodes differ, and which findings only some nodes have.

``torchrig doctor --merge node-*.json`` and ``torchrig doctor --cluster`` both end here, with one
:class:`NodeReport` per node (its name, its Facts, the findings the checks drew from them). Pure: the
facts arrive already parsed or gathered, and :mod:`torchrig.doctor.render.cluster` shows the result.

The rules:

- Every node is described by the same key facts (:data:`KEY_FACTS`: GPUs, driver, torch and what it was
  built for, Python, OS), plus every environment variable any node's doctor recorded (``NCCL_*``,
  ``LD_LIBRARY_PATH``, ...) but those that differ between processes by design (``RANK``, ``LOCAL_RANK``). A fact *differs* when two nodes give it different values; its *majority*
  is the value more than half the nodes have (none when no value does: with two nodes that disagree,
  neither is "the odd one"), and the *odd* nodes are those without the majority value (all of them
  when there is no majority).
- A finding is the same on two nodes when its code is. Findings that only some nodes have come first,
  since on a cluster the node that differs is usually the answer; each group is ordered by severity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from torchrig.doctor import queries
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

UNKNOWN = "?"
UNSET = "(unset)"
PER_PROCESS = frozenset({"RANK", "LOCAL_RANK"})  # variables that differ between processes by design
_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class NodeReport:
    """One node: what the merged report calls it, its facts, and its findings (root cause first)."""

    name: str
    facts: Facts
    findings: list[Finding]


def _gpus(f: Facts) -> str:
    names = [g.name or "unknown GPU" for g in f.gpus.devices]
    if not names:
        if f.system.pci_gpus:
            return f"{len(f.system.pci_gpus)} on the PCI bus, none usable"
        return "none"
    common = Counter(names).most_common()
    return ", ".join(f"{n}x {name}" for name, n in common)


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else "yes" if value else "no"


def _built_for(f: Facts) -> str | None:
    """What torch was built for ("CUDA 13.0", "ROCm 6.2", "CPU"), by the verdict's rule (None: not shown)."""
    kind = queries.build_kind(f)
    return kind.removesuffix(" build") if kind else None


def _findings(node: NodeReport) -> str:
    c = Counter(f.severity for f in node.findings)
    parts = [f"{c[sev]} {sev.value}{'s' if c[sev] != 1 else ''}" for sev in Severity if c[sev]]
    return ", ".join(parts) or "none"


# label -> how to read it from a node; None reads as unknown
KEY_FACTS: tuple[tuple[str, Callable[[NodeReport], str | None]], ...] = (
    ("GPUs", lambda n: _gpus(n.facts)),
    ("driver", lambda n: n.facts.driver.kernel_module or n.facts.driver.userspace),
    ("torch", lambda n: n.facts.torch.version),
    ("built for", lambda n: _built_for(n.facts)),
    ("torch sees GPUs", lambda n: _yes_no(n.facts.torch.cuda_available)),
    ("NCCL", lambda n: n.facts.torch.nccl_version),
    ("cuDNN", lambda n: n.facts.torch.cudnn_version),
    ("Python", lambda n: n.facts.system.python_version),
    ("OS", lambda n: n.facts.system.distro or n.facts.system.os),
    ("kernel", lambda n: n.facts.system.kernel),
    ("container", lambda n: n.facts.system.container or "none"),
    ("CUDA toolkit", lambda n: n.facts.toolkit.version),
    ("findings", _findings),
)


@dataclass(frozen=True)
class KeyFact:
    """One fact across the nodes: its value on each (in node order), and who differs."""

    label: str
    values: dict[str, str]  # node name -> value ("?" unknown, "(unset)" for a variable a node does not set)
    majority: str | None  # the value more than half the nodes have
    odd: list[str]  # the nodes without the majority value; all of them when there is none
    is_env: bool = False

    @property
    def differs(self) -> bool:
        return len(set(self.values.values())) > 1


@dataclass(frozen=True)
class SharedFinding:
    """A finding (by code) and the nodes that have it; ``finding`` is the first such node's."""

    finding: Finding
    nodes: list[str]
    everywhere: bool


@dataclass(frozen=True)
class Merged:
    nodes: list[NodeReport]
    facts: list[KeyFact]  # KEY_FACTS in order, then the environment variables that differ
    findings: list[SharedFinding] = field(default_factory=list)  # those on some nodes first

    @property
    def differences(self) -> list[KeyFact]:
        return [f for f in self.facts if f.differs and f.label != "findings"]

    @property
    def partial(self) -> list[SharedFinding]:
        return [s for s in self.findings if not s.everywhere]

    @property
    def exit_problem(self) -> bool:
        return any(f.severity is Severity.ERROR for n in self.nodes for f in n.findings)

    def has(self, severities: set[str]) -> bool:
        return any(f.severity.value in severities for n in self.nodes for f in n.findings)

    def verdict(self) -> str:
        """One sentence: how many nodes, what differs between them, what is wrong where."""
        n = len(self.nodes)
        parts = [f"{n} node{'s' if n != 1 else ''}"]
        diff = self.differences
        if diff:
            shown = ", ".join(f.label for f in diff[:4]) + (f" and {len(diff) - 4} more" if len(diff) > 4 else "")
            parts.append(f"they differ in {shown}")
        elif n > 1:
            parts.append("their key facts agree")
        partial = self.partial
        if partial:
            first = partial[0]
            parts.append(
                f"{len(partial)} finding{'s' if len(partial) != 1 else ''} only on some nodes, the first: "
                f"{first.finding.severity.value} {first.finding.code} on {', '.join(first.nodes)}"
            )
        everywhere = [s for s in self.findings if s.everywhere]
        if everywhere:
            parts.append(f"{len(everywhere)} on every node")
        if not self.findings:
            parts.append("no problems found on any node")
        return "; ".join(parts) + "."


def merge(nodes: list[NodeReport]) -> Merged:
    """The merged view of ``nodes`` (in the order given)."""
    facts = [_key_fact(label, {n.name: read(n) or UNKNOWN for n in nodes}) for label, read in KEY_FACTS]
    names = sorted({k for n in nodes for k in n.facts.system.env} - PER_PROCESS)
    for name in names:
        fact = _key_fact(name, {n.name: n.facts.system.env.get(name, UNSET) for n in nodes}, is_env=True)
        if fact.differs:
            facts.append(fact)
    return Merged(nodes, facts, _shared_findings(nodes))


def _key_fact(label: str, values: dict[str, str], *, is_env: bool = False) -> KeyFact:
    value, count = Counter(values.values()).most_common(1)[0]
    majority = value if count * 2 > len(values) else None
    odd = (
        [name for name, v in values.items() if majority is None or v != majority]
        if len(set(values.values())) > 1
        else []
    )
    return KeyFact(label, values, majority, odd, is_env)


def _shared_findings(nodes: list[NodeReport]) -> list[SharedFinding]:
    first: dict[str, Finding] = {}
    where: dict[str, list[str]] = {}
    for node in nodes:
        for finding in node.findings:
            first.setdefault(finding.code, finding)
            if node.name not in where.setdefault(finding.code, []):
                where[finding.code].append(node.name)
    shared = [SharedFinding(first[code], where[code], len(where[code]) == len(nodes)) for code in first]
    # only-some-nodes first; then by severity; then as the checks ordered them (root cause first)
    order = {code: i for i, code in enumerate(first)}
    return sorted(shared, key=lambda s: (s.everywhere, _SEVERITY_ORDER[s.finding.severity], order[s.finding.code]))


def unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats told apart (``node``, ``node (2)``), so every node has its own column."""
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
