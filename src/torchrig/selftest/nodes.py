"""The node dimension of a self-test run across several nodes (``torchrun`` or ``srun``).

How it works (the launcher's protocol, :mod:`torchrig.selftest.launcher`, is unchanged; these steps ride on
its agreement (4)):

(N1) At the rendezvous every rank describes itself (:func:`rank_facts`: its node's name and group rank,
     torch/CUDA/NCCL/Python versions, the driver, the GPUs it sees, the NCCL and gloo variables set), and
     the ranks all-gather these over the control group. Every rank then knows which ranks share a node
     (:func:`node_of`): the same group rank (torchrun's agent, Slurm's node id) or, when no launcher says,
     the same node name.
(N2) With more than one node, the collectives stage also times all-reduce within each node and across
     nodes, separately (:mod:`torchrig.selftest.stages.collectives`).
(N3) After the last stage :func:`summarize` (pure) turns the facts and every stage's per-rank figures into
     the report's ``cluster`` section: per node its ranks, versions, GPUs, each stage's verdict and
     figures; the bus bandwidth within and across nodes; the slowest rank and node with their ratio to the
     median of the other ranks (nodes); and the facts in which nodes differ from the majority.

A node's verdict for a stage is the stage's verdict, except when the stage failed and names the ranks to
blame (``failed_ranks`` in its figures, or the ranks whose measurement raised): then the nodes without
such a rank pass it. A failure that names no rank (the loss did not fall, the ranks lost contact) is every
node's.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any

from torchrig._core.distributed import node_name
from torchrig.selftest.report import FAIL, PASS, StageResult

ENV_PREFIXES = ("NCCL_", "TORCH_NCCL_", "GLOO_")  # variables that change how ranks talk; they should agree
UNSET = "(unset)"


# -- (N1) what a rank knows about its node ---------------------------------------------------------


def rank_facts(env: Mapping[str, str], device: Any) -> dict[str, Any]:
    """This rank's node, versions and devices (plain JSON), gathered at the rendezvous."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    facts: dict[str, Any] = {
        "host": node_name(env),
        "group": _int(env.get("GROUP_RANK")),
        "local_rank": _int(env.get("LOCAL_RANK")) or 0,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "nccl": _nccl_version() if gpus else None,
        "python": sys.version.split()[0],
        "driver": _driver_version() if gpus else None,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "gpus": gpus,
        "gpu_models": sorted({torch.cuda.get_device_name(i) for i in range(gpus)}),
        "env": {k: v for k, v in sorted(env.items()) if k.startswith(ENV_PREFIXES)},
    }
    return facts


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


def _nccl_version() -> str | None:
    import torch

    try:
        return ".".join(map(str, torch.cuda.nccl.version()))
    except Exception:  # a build without NCCL
        return None


def _driver_version() -> str | None:
    from torchrig._core.seams.nvml import NvmlError, PynvmlNvml

    nvml = PynvmlNvml()
    try:
        nvml.init()
    except (NvmlError, OSError):
        return None
    try:
        return nvml.driver_version()
    except NvmlError:
        return None
    finally:
        with contextlib.suppress(NvmlError):
            nvml.shutdown()


def node_of(every: list[dict[str, Any]]) -> tuple[int, ...]:
    """The node (0, 1, ...) of every rank, from every rank's :func:`rank_facts`.

    Ranks share a node when they have the same group rank, or (no group rank) the same node name.
    Nodes are numbered by group rank, else by their lowest rank."""
    keys = [(0, f["group"], "") if f.get("group") is not None else (1, 0, str(f.get("host"))) for f in every]
    first: dict[tuple[int, int, str], int] = {}
    for rank, key in enumerate(keys):
        first.setdefault(key, rank)
    order = sorted(first, key=lambda k: (k[0], k[1], first[k]))
    index = {key: i for i, key in enumerate(order)}
    return tuple(index[key] for key in keys)


# -- (N3) the cluster section ----------------------------------------------------------------------


def summarize(
    facts: list[dict[str, Any]], results: list[StageResult], everies: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """The report's ``cluster`` section (plain JSON) from every rank's facts, the stages' verdicts and their
    per-rank figures (``everies``: stage -> the figures every rank measured; a stage whose ranks lost
    contact has none)."""
    nodes_of = node_of(facts)
    members: list[list[int]] = [[] for _ in range(max(nodes_of, default=-1) + 1)]
    for rank, n in enumerate(nodes_of):
        members[n].append(rank)
    by_name = {r.name: r for r in results}
    nodes = []
    for n, ranks in enumerate(members):
        head = facts[ranks[0]]
        stages = {}
        for result in results:
            entry: dict[str, Any] = {"verdict": node_verdict(result, ranks)}
            every = everies.get(result.name)
            if every is not None and len(every) == len(facts):
                entry["figures"] = node_figures(result, [every[r] for r in ranks], n)
            stages[result.name] = entry
        nodes.append(
            {
                "node": n,
                "host": head.get("host"),
                "group": head.get("group"),
                "ranks": ranks,
                "devices": [facts[r].get("device") for r in ranks],
                "gpus": head.get("gpus"),
                "gpu_models": head.get("gpu_models", []),
                "torch": head.get("torch"),
                "cuda": head.get("cuda"),
                "nccl": head.get("nccl"),
                "driver": head.get("driver"),
                "python": head.get("python"),
                "env": head.get("env", {}),
                "stages": stages,
            }
        )
    collectives = by_name.get("collectives")
    return {
        "nodes": nodes,
        "world_size": len(facts),
        "bandwidth": _bandwidth(collectives, nodes),
        "slowest": _slowest(everies.get("training"), everies.get("smoke"), nodes_of, nodes),
        "differences": differences(nodes),
    }


def node_verdict(result: StageResult, ranks: list[int]) -> str:
    """The stage's verdict as it applies to a node holding ``ranks`` (see the module's last paragraph)."""
    if result.verdict != FAIL:
        return result.verdict
    blamed = set(result.figures.get("failed_ranks") or ())
    blamed |= {int(r) for r in (result.figures.get("errors") or {})}
    if not blamed:
        return FAIL
    return FAIL if blamed & set(ranks) else PASS


def node_figures(result: StageResult, mine: list[dict[str, Any]], node: int) -> dict[str, Any]:
    """The figures of one stage that matter for one node, from its ranks' own measurements."""
    errors = [f["error"] for f in mine if "error" in f]
    if errors:
        return {"errors": errors}
    name = result.name
    if name == "smoke":
        rates = [f["gflops"] for f in mine if f.get("gflops")]
        return {"max_rel_error": max(f["rel_error"] for f in mine), "gflops_min": min(rates) if rates else None}
    if name == "p2p":
        pairs = [p for f in mine for p in f.get("pairs", ())]
        rates = [p["direct_gbps"] for p in pairs if p.get("direct_gbps")]
        return {"pairs": len(pairs), "direct_gbps_min": min(rates) if rates else None}
    if name == "collectives":
        within = next((w for w in result.figures.get("within_nodes", ()) if w["node"] == node), None)
        return {
            "wrong": sum(f.get("wrong", 0) for f in mine),
            "busbw_within_gbps": within["busbw_gbps"] if within else None,
        }
    if name == "training":
        return {
            "step_ms_slowest": max(f["median_own_s"] for f in mine) * 1000,
            "data_stall": max(f["data_stall"] for f in mine),
        }
    if name == "checkpoint":
        return {"max_diff": max(max(f["ddp_to_plain_max_diff"], f["plain_to_ddp_max_diff"]) for f in mine)}
    return {}


def _bandwidth(collectives: StageResult | None, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Bus bandwidth within each node, across nodes (per local rank), and over the whole run."""
    if collectives is None or collectives.verdict == "skip":
        return {}
    figures = collectives.figures
    names = {n["node"]: n["host"] for n in nodes}
    within = [dict(w, host=names.get(w["node"])) for w in figures.get("within_nodes", ())]
    across = list(figures.get("across_nodes", ()))
    out: dict[str, Any] = {
        "within_nodes": within,
        "across_nodes": across,
        "whole_run_gbps": figures.get("peak_busbw_gbps"),
    }
    if len(within) > 1:
        rates = [w["busbw_gbps"] for w in within]
        low = min(within, key=lambda w: w["busbw_gbps"])
        middle = statistics.median(rates)
        out["slowest_within"] = {
            "node": low["node"],
            "host": low["host"],
            "busbw_gbps": low["busbw_gbps"],
            "median_gbps": middle,
            "ratio": low["busbw_gbps"] / middle if middle > 0 else None,
        }
    return out


def _slowest(
    training: list[dict[str, Any]] | None,
    smoke: list[dict[str, Any]] | None,
    nodes_of: tuple[int, ...],
    nodes: list[dict[str, Any]],
) -> dict[str, Any]:
    """The slowest rank and node, with their ratio to the median of the others (so that with two nodes
    the ratio is to the other one): by their own work per training step (what every all-reduce waits
    for), or by the smoke test's GFLOP/s when training did not run."""
    usable = training is not None and len(training) == len(nodes_of) and all("median_own_s" in f for f in training)
    if usable:
        assert training is not None
        per_rank = [f["median_own_s"] * 1000 for f in training]
        measure, unit, higher_is_slower = "own work per training step", "ms", True
    elif smoke is not None and len(smoke) == len(nodes_of) and all(f.get("gflops") for f in smoke):
        per_rank = [f["gflops"] for f in smoke]
        measure, unit, higher_is_slower = "float32 matrix product", "GFLOP/s", False
    else:
        return {}
    pick = max if higher_is_slower else min
    rank = pick(range(len(per_rank)), key=per_rank.__getitem__)
    # a node is as slow as its slowest rank: every collective waits for it
    per_node = [pick(per_rank[r] for r in entry["ranks"]) for entry in nodes]
    node = pick(range(len(per_node)), key=per_node.__getitem__)

    def against_others(index: int, values: list[float]) -> dict[str, Any]:
        others = values[:index] + values[index + 1 :]
        middle = statistics.median(others) if others else None
        if middle is None:
            ratio = None
        elif higher_is_slower:
            ratio = values[index] / middle if middle > 0 else None
        else:
            ratio = middle / values[index] if values[index] > 0 else None
        return {"value": values[index], "median": middle, "ratio": ratio}

    return {
        "measure": measure,
        "unit": unit,
        "rank": {"rank": rank, "node": nodes_of[rank], "host": nodes[nodes_of[rank]]["host"]}
        | against_others(rank, per_rank),
        "node": {"node": node, "host": nodes[node]["host"]} | against_others(node, per_node),
        "per_rank": per_rank,
    }


# -- nodes that differ -----------------------------------------------------------------------------

COMPARED: tuple[tuple[str, str], ...] = (
    ("torch", "torch"),
    ("cuda", "CUDA"),
    ("nccl", "NCCL"),
    ("driver", "driver"),
    ("python", "Python"),
    ("gpu_models", "GPU model"),
    ("gpus", "GPU count"),
    ("ranks", "ranks"),
)


def node_values(node: Mapping[str, Any]) -> dict[str, str]:
    """The facts of a node that should agree across nodes, as words ("unknown" when a node did not say)."""
    values: dict[str, str] = {}
    for key, label in COMPARED:
        value = node.get(key)
        if key == "gpu_models":
            value = ", ".join(value) if value else "none"
        elif key == "ranks":
            value = len(value or ())
        values[label] = "unknown" if value is None else str(value)
    for name, value in (node.get("env") or {}).items():
        values[name] = value
    return values


def differences(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each fact in which nodes differ: its value on every node, the majority value (held by more than half
    the nodes; None when no value is) and the nodes that differ from it (all of them when there is none)."""
    if len(nodes) < 2:
        return []
    values = [node_values(n) for n in nodes]
    env_names = sorted({k for n in nodes for k in (n.get("env") or {})})
    found = []
    for label in [label for _, label in COMPARED] + env_names:
        per_node = [v.get(label, UNSET) for v in values]
        if len(set(per_node)) == 1:
            continue
        value, count = Counter(per_node).most_common(1)[0]
        majority = value if count * 2 > len(nodes) else None
        odd = [n["node"] for n, v in zip(nodes, per_node, strict=True) if majority is None or v != majority]
        found.append(
            {
                "fact": label,
                "majority": majority,
                "values": {str(n["node"]): v for n, v in zip(nodes, per_node, strict=True)},
                "odd": odd,
            }
        )
    return found
