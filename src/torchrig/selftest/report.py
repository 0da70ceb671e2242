"""What a self-test concludes: one result per stage, and the report that holds them.

The JSON form is versioned (``"schema": "torchrig.selftest/1"``) and is what ``--json`` prints and what
rank processes send to the launcher, so it must stay plain data (no torch objects). ``from_dict`` reads
it back (a report saved on another machine, a rank's verdict): readers ignore fields they do not know, so
a field may be added without a new schema version; renaming or removing one needs ``torchrig.selftest/2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA = "torchrig.selftest/1"

PASS = "pass"  # noqa: S105 - a verdict, not a password
FAIL = "fail"
SKIP = "skip"

STAGES: tuple[tuple[str, str], ...] = (
    ("rendezvous", "rendezvous"),
    ("smoke", "device smoke"),
    ("p2p", "peer-to-peer"),
    ("collectives", "collectives"),
    ("training", "DDP training"),
    ("checkpoint", "checkpoint round trip"),
)
TITLES = dict(STAGES)


@dataclass(frozen=True)
class StageResult:
    name: str  # "smoke"
    verdict: str  # pass, fail, skip
    summary: str  # one line with the figures that matter
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # what went wrong, one sentence (fail/skip)
    cause: str | None = None  # the likely cause and what to try
    code: str | None = None  # stable code of the cause: "gpu.p2p-broken"

    @property
    def title(self) -> str:
        return TITLES.get(self.name, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "verdict": self.verdict,
            "summary": self.summary,
            "seconds": round(self.seconds, 3),
            "figures": self.figures,
            "problem": self.problem,
            "cause": self.cause,
            "code": self.code,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageResult:
        return cls(
            name=str(data["name"]),
            verdict=str(data["verdict"]),
            summary=str(data.get("summary", "")),
            seconds=float(data.get("seconds", 0.0)),
            figures=dict(data.get("figures") or {}),
            problem=data.get("problem"),
            cause=data.get("cause"),
            code=data.get("code"),
        )


@dataclass(frozen=True)
class Plan:
    """Which processes run the stages, decided before any of them starts."""

    device: str  # "cuda" or "cpu"
    backend: str  # "nccl" or "gloo"
    world_size: int  # processes in the whole run (all nodes)
    gpus: tuple[int, ...] = ()  # indices into the GPUs this launcher sees (launcher mode)
    launcher: str = "torchrig"  # "torchrig" (we start the ranks) or "torchrun" (this process is a rank)
    reason: str = ""  # why: "no GPU found, so 2 CPU processes with gloo"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            device=str(data["device"]),
            backend=str(data["backend"]),
            world_size=int(data["world_size"]),
            gpus=tuple(int(g) for g in data.get("gpus") or ()),
            launcher=str(data.get("launcher", "torchrig")),
            reason=str(data.get("reason", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "backend": self.backend,
            "world_size": self.world_size,
            "gpus": list(self.gpus),
            "launcher": self.launcher,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Report:
    plan: Plan
    stages: tuple[StageResult, ...]
    seconds: float
    environment: dict[str, Any] = field(default_factory=dict)  # torch, CUDA, NCCL versions, device names
    workdir: str | None = None  # kept with --keep: rank logs, checkpoints
    cluster: dict[str, Any] | None = None  # the node dimension of a run on several nodes (selftest/nodes.py)

    @property
    def ok(self) -> bool:
        return all(s.verdict != FAIL for s in self.stages)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "plan": self.plan.to_dict(),
            "environment": self.environment,
            "stages": [s.to_dict() for s in self.stages],
            "workdir": self.workdir,
            # only a run across nodes has one: a one-node report stays as it was (older readers, recorded runs)
            **({"cluster": self.cluster} if self.cluster else {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Report:
        """The report that :meth:`to_dict` wrote (``--json``), or a ``ValueError`` saying why this is not one.

        ``ok`` and ``exit_code`` are not read: they follow from the stages' verdicts."""
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema != SCHEMA:
            found = f"schema {schema!r}" if schema is not None else "no schema"
            raise ValueError(f"not a torchrig self-test report ({found}; expected {SCHEMA!r})")
        try:
            return cls(
                plan=Plan.from_dict(data["plan"]),
                stages=tuple(StageResult.from_dict(s) for s in data["stages"]),
                seconds=float(data.get("seconds", 0.0)),
                environment=dict(data.get("environment") or {}),
                workdir=data.get("workdir"),
                cluster=dict(data["cluster"]) if data.get("cluster") else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"a {SCHEMA} report with a missing or malformed field: {exc!r}") from None


def not_run(name: str, why: str) -> StageResult:
    return StageResult(name, SKIP, f"not run: {why}", problem=f"not run: {why}")
