"""The node dimension of a report as words: table rows and lines for the terminal, and the whole report as
Markdown. Pure (no rich, no torch): the command puts the rows in its tables, tests read the words.

Marks repeat what the words say: a cell that differs from the other nodes ends in ``*``, and every
difference is also spelled out in :func:`difference_lines`.
"""

from __future__ import annotations

from typing import Any

from torchrig.selftest.nodes import COMPARED, node_values
from torchrig.selftest.report import Report

DIFFERS = "*"
DIFFERENCES = f"Nodes differ (a value that differs is marked {DIFFERS} in the table):"
FACT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ranks", "ranks"),
    ("GPU count", "GPUs"),
    ("GPU model", "GPU model"),
    ("torch", "torch"),
    ("CUDA", "CUDA"),
    ("NCCL", "NCCL"),
    ("driver", "driver"),
    ("Python", "Python"),
)
assert {label for label, _ in FACT_COLUMNS} <= {label for _, label in COMPARED}


def processes(world_size: int, device: str) -> str:
    """ "1 CUDA process", "2 CPU processes": how many ranks ran, and on what."""
    return f"{world_size} {device.upper()} process" + ("" if world_size == 1 else "es")


def node_label(node: dict[str, Any], nodes: list[dict[str, Any]]) -> str:
    """The node's name, with its group rank when another node has the same name (two agents on one host)."""
    host = str(node.get("host") or f"node {node['node']}")
    if sum(1 for n in nodes if n.get("host") == node.get("host")) > 1:
        return f"{host} [{node.get('group') if node.get('group') is not None else node['node']}]"
    return host


def _ranks(ranks: list[int]) -> str:
    if ranks and ranks == list(range(ranks[0], ranks[-1] + 1)) and len(ranks) > 1:
        return f"{ranks[0]}-{ranks[-1]}"
    return ",".join(map(str, ranks))


def fact_table(cluster: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Headers and one row per node: name, group rank, ranks, then the facts that should agree."""
    nodes = cluster["nodes"]
    odd = {(d["fact"], n) for d in cluster.get("differences", ()) for n in d["odd"]}
    headers = ["node", "group", "ranks", *[header for _, header in FACT_COLUMNS[1:]]]
    rows = []
    for node in nodes:
        values = node_values(node)
        cells = [
            node_label(node, nodes),
            "" if node.get("group") is None else str(node["group"]),
            _ranks(node["ranks"]),
        ]
        for label, _ in FACT_COLUMNS[1:]:
            text = values[label] if values[label] not in ("unknown", "None") else "-"
            if label == "GPU model" and text == "none":
                text = "-"
            cells.append(text + (DIFFERS if (label, node["node"]) in odd else ""))
        rows.append(cells)
    return headers, rows


def stage_cell(name: str, entry: dict[str, Any]) -> str:
    """One node's verdict for one stage, with the figure that matters: ``pass 23 ms/step``."""
    verdict = str(entry.get("verdict", "?"))
    figures = entry.get("figures") or {}
    if figures.get("errors"):
        return f"{verdict}: {figures['errors'][0]}"[:80]
    detail = ""
    if name == "smoke" and figures.get("gflops_min"):
        detail = f"{figures['gflops_min']:.1f} GFLOP/s"
    elif name == "p2p" and figures.get("pairs"):
        detail = f"{figures['pairs']} pairs" + (
            f", {figures['direct_gbps_min']:.0f} GB/s" if figures.get("direct_gbps_min") else ""
        )
    elif name == "collectives" and figures.get("busbw_within_gbps") is not None:
        detail = f"{figures['busbw_within_gbps']:.2f} GB/s"
    elif name == "training" and figures.get("step_ms_slowest") is not None:
        detail = f"{figures['step_ms_slowest']:.0f} ms/step"
    return f"{verdict} {detail}".strip()


def stage_table(cluster: dict[str, Any], stage_names: list[str]) -> tuple[list[str], list[list[str]]]:
    """Headers and one row per node: its verdict and key figure for every stage (collectives: the bus
    bandwidth within the node)."""
    nodes = cluster["nodes"]
    headers = ["node", *stage_names]
    rows = []
    for node in nodes:
        stages = node.get("stages", {})
        rows.append([node_label(node, nodes), *[stage_cell(s, stages.get(s, {})) for s in stage_names]])
    return headers, rows


def bandwidth_lines(cluster: dict[str, Any]) -> list[str]:
    """All-reduce bus bandwidth within each node, across nodes and over the whole run."""
    bw = cluster.get("bandwidth") or {}
    if not bw:
        return []
    nodes = cluster["nodes"]
    by_index = {n["node"]: n for n in nodes}
    lines = []
    for w in bw.get("within_nodes", ()):
        node = by_index.get(w["node"], {"node": w["node"]})
        lines.append(f"within {node_label(node, nodes)} ({w['ranks']} ranks): {w['busbw_gbps']:.2f} GB/s")
    for a in bw.get("across_nodes", ()):
        lines.append(f"across {a['nodes']} nodes (rank {a['position']} of each node): {a['busbw_gbps']:.2f} GB/s")
    if bw.get("whole_run_gbps") is not None:
        lines.append(f"whole run ({cluster.get('world_size', '?')} ranks): {bw['whole_run_gbps']:.2f} GB/s")
    low = bw.get("slowest_within")
    if low and low.get("ratio") is not None and len(bw.get("within_nodes", ())) > 2:
        node = by_index.get(low["node"], {"node": low["node"]})
        lines.append(
            f"slowest within a node: {node_label(node, nodes)}, {low['ratio']:.2f}x the median node "
            f"({low['median_gbps']:.2f} GB/s)"
        )
    return lines


def slowest_lines(cluster: dict[str, Any]) -> list[str]:
    """The slowest rank and node, with their ratio to the median."""
    slow = cluster.get("slowest") or {}
    if not slow:
        return []
    nodes = cluster["nodes"]
    by_index = {n["node"]: n for n in nodes}
    unit, what = slow["unit"], slow["measure"]
    rank, node = slow["rank"], slow["node"]

    def ratio(entry: dict[str, Any], others: str) -> str:
        if entry.get("ratio") is None:
            return f"no other {others} to compare with"
        return f"{entry['ratio']:.1f}x the median of the other {others} ({value(entry['median'])})"

    def value(v: float) -> str:
        return f"{v:.0f} {unit}" if unit == "ms" else f"{v:.1f} {unit}"

    return [
        f"slowest rank: rank {rank['rank']} on {node_label(by_index[rank['node']], nodes)}, "
        f"{value(rank['value'])} ({what}), {ratio(rank, 'ranks')}",
        f"slowest node: {node_label(by_index[node['node']], nodes)}, {value(node['value'])} on its slowest rank, "
        f"{ratio(node, 'nodes')}",
    ]


def difference_lines(cluster: dict[str, Any]) -> list[str]:
    """Each fact in which nodes differ, naming the odd nodes and what the majority has."""
    nodes = cluster["nodes"]
    by_index = {str(n["node"]): n for n in nodes}
    lines = []
    for d in cluster.get("differences", ()):
        values = d["values"]
        if d["majority"] is not None:
            odd = "; ".join(f"{node_label(by_index[str(n)], nodes)} has {values[str(n)]}" for n in d["odd"])
            lines.append(f"{d['fact']}: {odd}; the other {len(nodes) - len(d['odd'])} have {d['majority']}")
        else:
            each = "; ".join(f"{node_label(by_index[k], nodes)} has {v}" for k, v in values.items())
            lines.append(f"{d['fact']} differs, with no majority: {each}")
    return lines


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return out


def markdown(report: Report) -> str:
    """The whole report in Markdown, ready to paste into an issue: verdicts, failures, then the nodes."""
    plan = report.plan
    verdict = "passed" if report.ok else "failed"
    out = [
        "## torchrig selftest",
        "",
        f"**selftest {verdict}** in {report.seconds:.1f} s on {processes(plan.world_size, plan.device)} "
        f"with {plan.backend} ({plan.reason}).",
        "",
        "| stage | verdict | seconds | summary |",
        "|---|---|---|---|",
    ]
    for stage in report.stages:
        out.append(f"| {stage.title} | {stage.verdict} | {stage.seconds:.1f} | {_md_cell(stage.summary)} |")
    for stage in report.stages:
        if stage.verdict == "fail":
            out += ["", f"**{stage.title} failed**: {stage.problem or stage.summary}"]
            if stage.cause:
                out += ["", f"Likely cause `{stage.code or ''}`: {stage.cause}"]
    env = report.environment
    if env:
        out += ["", "Versions (rank 0): " + ", ".join(f"{k} `{v}`" for k, v in env.items() if v is not None)]
    cluster = report.cluster
    if cluster:
        out += ["", f"### {len(cluster['nodes'])} nodes, {cluster.get('world_size', plan.world_size)} ranks", ""]
        out += _md_table(*fact_table(cluster))
        if cluster.get("differences"):
            out += ["", DIFFERENCES.replace(DIFFERS, f"`{DIFFERS}`"), ""]
            out += [f"- {line}" for line in difference_lines(cluster)]
        out += ["", *_md_table(*stage_table(cluster, [s.name for s in report.stages]))]
        lines = bandwidth_lines(cluster)
        if lines:
            out += ["", "All-reduce bus bandwidth (nccl-tests' busbw = algbw x 2(n-1)/n):", ""]
            out += [f"- {line}" for line in lines]
        lines = slowest_lines(cluster)
        if lines:
            out += ["", "The slowest:", "", *[f"- {line}" for line in lines]]
    out.append("")
    return "\n".join(out)
