"""``torchrig mirror``: list, probe, use, show, restore. Parsing and rendering only; the work is in torchrig.mirrors."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

from torchrig._core.errors import UserError
from torchrig.cli import console

if TYPE_CHECKING:
    from torchrig.mirrors.catalog import Catalog
    from torchrig.mirrors.choose import Pair
    from torchrig.mirrors.journal import FileChange
    from torchrig.mirrors.probe import ProbeResult

app = typer.Typer(
    cls=console.Group,
    help="Probe and switch pip, conda, uv, PyTorch-wheel and Hugging Face mirrors, keeping your config intact.",
    no_args_is_help=True,
)

_FOR_HELP = "Comma-separated targets: pip, uv, conda, torch, hf."


def _check_timeout(timeout: float) -> None:
    if not 0.5 <= timeout <= 60:
        raise UserError(f"--timeout takes 0.5 to 60 seconds (each mirror's share), not {timeout:g}.")


def _targets(value: str | None) -> tuple[str, ...] | None:
    from torchrig.mirrors.choose import targets

    return targets(value)


@app.command("list", cls=console.Command)
def list_(
    for_: str | None = typer.Option(None, "--for", metavar="TARGETS", help=_FOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the catalog as JSON."),
) -> None:
    """The mirror catalog: who serves which target, at which URL (shipped entries + your mirrors.toml)."""
    from torchrig.mirrors.catalog import SERVICE_OF, load_catalog

    catalog = load_catalog()
    targets = _targets(for_)
    mirrors = [m for m in catalog.mirrors if targets is None or any(m.serves(t) for t in targets)]
    if as_json:
        data = catalog.to_json(mirrors)
        console.emit_json(data)
        return
    table = console.table("name", "serves", "notes", title=f"Mirror catalog (as of {catalog.as_of})", show_lines=True)
    for m in mirrors:
        serves = []
        for service in dict.fromkeys(SERVICE_OF[t] for t in m.targets):
            users = "/".join(t for t in m.targets if SERVICE_OF[t] == service)
            extra = f" ({m.pytorch_format} index)" if service == "pytorch" else ""
            serves.append(f"{users}{extra}: {m.urls[service]}")
        if m.anaconda_defaults:
            serves.append(f"anaconda defaults (listed, never written): {m.anaconda_defaults}")
        name = m.name + (" (upstream)" if m.upstream else "") + ("" if m.origin == "catalog" else " (yours)")
        table.add_row(name, "\n".join(serves), "\n".join(x for x in (m.title, m.notes) if x))
    out = console.out()
    out.print(table)
    out.print(f"Add your own mirrors in {catalog.user_file} ([mirror.NAME] tables, same keys).", markup=False)


def _run_probe(catalog: Catalog, pairs: Sequence[Pair], timeout: float, quiet: bool) -> list[ProbeResult]:
    from torchrig.mirrors.probe import probe

    with console.progress(TextColumn("probing mirrors"), BarColumn(), MofNCompleteColumn(), quiet=quiet) as progress:
        task = progress.add_task("probe", total=len(pairs))
        return probe(catalog, pairs, timeout=timeout, on_done=lambda _r: progress.advance(task))


def _render_probe(results: Sequence[ProbeResult]) -> None:
    from torchrig.mirrors.catalog import SERVICE_TITLES

    out = console.out()
    for service in dict.fromkeys(r.service for r in results):
        table = console.table(
            "#",
            "mirror",
            "latency",
            "throughput",
            "newest",
            "status",
            title=f"{SERVICE_TITLES[service]}: ranked by latency + time for an 8 MiB file",
            right=("#", "latency", "throughput"),
        )
        for i, r in enumerate(x for x in results if x.service == service):
            notes = []
            if r.error:
                notes.append(f"FAILED: {r.error}")
            if r.fresh is False:
                notes.append("STALE: older than another source")
            if r.off_host:
                notes.append(("redirects by design: " if r.redirector else "LEAVES MIRROR: ") + r.off_host)
            table.add_row(
                str(i + 1),
                r.mirror,
                f"{r.latency_ms:.0f} ms" if r.latency_ms is not None else "-",
                f"{r.throughput_bps / 1e6:.1f} MB/s" if r.throughput_bps else "-",
                (r.newest or "-")[:16].replace("T", " "),
                "; ".join(notes) or "ok",  # a version, or a date to the minute
            )
        out.print(table)


@app.command("probe", cls=console.Command)
def probe_cmd(
    names: list[str] | None = typer.Argument(
        None, metavar="NAMES", help="Mirrors to probe (default: every one serving the targets)."
    ),
    for_: str | None = typer.Option(None, "--for", metavar="TARGETS", help=_FOR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    timeout: float = typer.Option(
        8.0, "--timeout", metavar="SECONDS", help="Seconds each mirror gets, at most (0.5 to 60)."
    ),
    allow_insecure: bool = typer.Option(False, "--allow-insecure", help="Also probe plain-http mirrors."),
) -> None:
    """Measure latency, throughput (a capped range read) and freshness of mirrors, concurrently; ranked.

    Exit codes: 0 at least one mirror answered, 1 none did.
    """
    from torchrig.mirrors.choose import probe_pairs

    _check_timeout(timeout)
    chosen = probe_pairs(_targets(for_), names, allow_insecure=allow_insecure)
    catalog, pairs, skipped = chosen.catalog, chosen.pairs, chosen.skipped_insecure
    if not pairs and skipped:
        raise UserError(
            f"{', '.join(skipped)} use plain http, which lets anyone on the path swap packages; "
            "pass --allow-insecure to probe them."
        )
    if not pairs:
        raise UserError("none of those mirrors serves the targets asked for; see `torchrig mirror list`.")
    results = _run_probe(catalog, pairs, timeout, as_json)
    if as_json:
        from torchrig.mirrors.probe import report_json

        console.emit_json(report_json(results, skipped))
    else:
        _render_probe(results)
        if skipped:
            console.err().print(
                f"skipped plain-http mirrors {', '.join(skipped)} (pass --allow-insecure to probe them)."
            )
    raise typer.Exit(console.Exit.OK if any(r.ok for r in results) else console.Exit.PROBLEM)


def _print_overrides(lines: list[str]) -> None:
    err = console.err()
    for warning in lines:
        err.print(f"warning: {warning}", markup=False)


def _confirm(question: str) -> bool:
    """Ask on the terminal; Enter or end of input (Ctrl-D) is no, and Ctrl-C interrupts the command (exit 130).

    click's prompt turns Ctrl-C into "Aborted!" and exit 1; rich's lets KeyboardInterrupt through.
    """
    from rich.markup import escape
    from rich.prompt import Confirm

    try:
        return Confirm.ask(escape(question), default=False, console=console.err())
    except EOFError:
        console.err().print()
        return False


@app.command("use", cls=console.Command)
def use(
    name: str = typer.Argument(
        ...,
        metavar="NAME",
        help="A mirror from `torchrig mirror list`, `fastest`, or an https:// URL (with one --for).",
    ),
    for_: str | None = typer.Option(
        None, "--for", metavar="TARGETS", help=_FOR_HELP + " Default: every target the mirror serves."
    ),
    scope: str = typer.Option(
        "user",
        "--scope",
        metavar="SCOPE",
        help="user (your home), env (the active environment) or project (this directory).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print a unified diff per file and write nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Approve writing HF_ENDPOINT into your shell startup file."),
    allow_insecure: bool = typer.Option(
        False, "--allow-insecure", help="Accept a plain-http mirror (adds pip trusted-host for it)."
    ),
    timeout: float = typer.Option(
        8.0, "--timeout", metavar="SECONDS", help="Seconds each mirror gets when choosing `fastest` (0.5 to 60)."
    ),
    among: str | None = typer.Option(
        None, "--among", metavar="NAMES", help="With `fastest`: comma-separated mirrors to choose from (default: all)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Rewrite config files you made read-only (chmod 444); they stay read-only."
    ),
) -> None:
    """Point pip, uv, conda, torchrig's PyTorch index and HF_ENDPOINT at a mirror, editing files in place.

    Every change is journaled; `torchrig mirror restore` puts the previous bytes back.
    """
    from torchrig._core.atomic import real_path
    from torchrig.mirrors import hf_endpoint
    from torchrig.mirrors.changes import plan_use, unified_diff
    from torchrig.mirrors.choose import choose, overrides
    from torchrig.mirrors.journal import Journal
    from torchrig.mirrors.locations import SCOPES

    if scope not in SCOPES:
        raise UserError(f"unknown scope {scope!r}; choose from {', '.join(SCOPES)}.")
    _check_timeout(timeout)
    if among is not None and name.lower() != "fastest":
        raise UserError("--among only goes with `fastest`; name one mirror or use `fastest --among a,b`.")
    names = [n.strip() for n in among.split(",") if n.strip()] if among else None
    choice = choose(
        name,
        _targets(for_),
        scope,
        allow_insecure=allow_insecure,
        timeout=timeout,
        among=names,
        run_probe=lambda catalog, pairs: _run_probe(catalog, pairs, timeout, False),
    )
    choices, notes = choice.mirrors, choice.notes
    plan = plan_use(choices, scope, allow_insecure=allow_insecure)
    out, err = console.out(), console.err()
    for note in notes:
        err.print(note, markup=False)
    if plan.needs_approval and not yes and not dry_run:
        approved = sys.stdin.isatty() and _confirm(f"Add a marked HF_ENDPOINT block to {plan.needs_approval[0]}?")
        if not approved:
            url = choices["hf"].url_for("hf") or ""
            err.print(
                f"left {plan.needs_approval[0]} alone (pass --yes to approve the block); for this shell run: "
                f"{hf_endpoint.export_line(url, hf_endpoint.shell_rc_file()[1])}",
                markup=False,
            )
            plan = plan.without(plan.needs_approval)
    for warning in plan.warnings:
        err.print(f"warning: {warning}", markup=False)
    paths = {c.target: c.path for c in plan.changes} | dict(plan.unchanged)
    if dry_run:
        for change in plan.changes:
            out.print(unified_diff(change), end="", markup=False, soft_wrap=True)
        for target, path in plan.unchanged:
            out.print(f"{target}: {path} already uses that mirror; nothing to change.", markup=False)
        _print_overrides(overrides(choices, paths, {real_path(c.path): c.after for c in plan.changes}))
        if not force:
            for path in plan.read_only:
                err.print(f"warning: {path} is read-only; a real run refuses it unless --force.", markup=False)
        return
    written = Journal().apply(plan.changes, force=force)
    for change, real in zip(plan.changes, written, strict=True):
        shown = f"{change.path}" + (
            f" (-> {real})" if Path(change.path).resolve() != Path(change.path).absolute() else ""
        )
        out.print(f"{change.target}: wrote {shown}", markup=False)
    for target, path in plan.unchanged:
        out.print(f"{target}: {path} already uses that mirror; nothing changed.", markup=False)
    _print_overrides(overrides(choices, paths))


@app.command("show", cls=console.Command)
def show(
    as_json: bool = typer.Option(False, "--json", help="Print every tool's layers as JSON."),
) -> None:
    """What each tool will actually use, where that comes from, and what overrides what."""
    from torchrig.mirrors.journal import Journal
    from torchrig.mirrors.show import resolve

    ours = {e.target: Path(e.path) for e in Journal().entries() if not e.restored}  # the files torchrig set
    views = resolve(ours=ours)
    if as_json:
        from torchrig.mirrors.show import report_json

        console.emit_json(report_json(views))
        return
    out = console.out()
    for view in views:
        out.print(f"[bold]{view.tool}[/bold]: {view.value}", highlight=False, soft_wrap=True)
        out.print(f"  from {view.source}", markup=False, soft_wrap=True)
        for layer in view.layers:
            if layer.source == view.source:
                continue
            value = layer.value or "(does not set it)"
            out.print(
                f"  also {layer.source}: {value}" + (f"  [{layer.note}]" if layer.note else ""),
                markup=False,
                soft_wrap=True,
            )
        for warning in view.warnings:
            out.print(f"  warning: {warning}", markup=False)


@app.command("restore", cls=console.Command)
def restore(
    for_: str | None = typer.Option(None, "--for", metavar="TARGETS", help=_FOR_HELP + " Default: all."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print a unified diff per file and write nothing."),
    force: bool = typer.Option(False, "--force", help="Restore even files edited since torchrig changed them."),
) -> None:
    """Put back the exact bytes each file had before torchrig's last change to it (or remove a file it created)."""
    from torchrig.mirrors.catalog import TARGETS
    from torchrig.mirrors.changes import unified_diff
    from torchrig.mirrors.journal import Journal

    journal = Journal()
    plan = journal.plan_restore(_targets(for_) or TARGETS, force=force)
    out = console.out()
    if not plan:
        out.print("nothing to restore: torchrig has no change of its own left to undo for those targets.")
        return
    if dry_run:
        for entry, change in plan:
            if change.changes_anything:
                out.print(unified_diff(change), end="", markup=False, soft_wrap=True)
            else:
                out.print(f"{entry.target}: {_already(change)}", markup=False)
        return
    journal.restore(plan, force=force)
    for entry, change in plan:
        if not change.changes_anything:
            out.print(f"{entry.target}: {_already(change)}", markup=False)
            continue
        verb = "restored" if change.after is not None else "removed (it did not exist before)"
        out.print(f"{entry.target}: {verb} {change.path}", markup=False)


def _already(change: FileChange) -> str:
    if change.after is None:
        return f"{change.path} is already gone, as before torchrig created it; nothing to do."
    return f"{change.path} already holds its bytes from before torchrig's change; nothing to do."


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="mirror")
