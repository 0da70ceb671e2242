"""``torchrig cache``: list, inspect and clear the shared sample caches of ``torchrig.data``.

The logic lives in :mod:`torchrig.data.store` (which needs no torch); this module parses and renders.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from torchrig._core.errors import UserError
from torchrig._core.units import size_text
from torchrig.cli import console

if TYPE_CHECKING:
    from torchrig.data.inspection import CacheInfo

app = typer.Typer(
    cls=console.Group, help="List, inspect and clear the shared sample caches of torchrig.data.", no_args_is_help=True
)

CLEAR_SCHEMA = "torchrig.cache-clear/1"
_DIR_HELP = "Also look in this cache directory (as given to CachedDataset(directory=...)); repeatable."


def _directories(extra: list[Path] | None) -> list[Path]:
    from torchrig.data.inspection import cache_directories  # numpy: loaded only when a cache command runs

    return cache_directories(extra)


def _size(n: float) -> str:
    return size_text(n)


def list_(
    directory: list[Path] = typer.Option(None, "--dir", metavar="DIR", help=_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the caches as JSON (schema torchrig.cache/1)."),
) -> None:
    """Show every cache: name, state (in use, idle, stale), size, items cached, the fraction that fits, hits, misses."""
    from torchrig.data import inspection  # numpy: loaded only when a cache command runs

    caches = inspection.list_caches(_directories(directory))
    if as_json:
        console.emit_json({"schema": inspection.SCHEMA, "caches": [c.to_json() for c in caches]})
        return
    out = console.out()
    if not caches:
        out.print("no caches (looked in " + ", ".join(str(d) for d in _directories(directory)) + ")")
        return
    shown = []
    for c in caches:
        s = c.stats or {}
        state = c.state if not c.problem else f"{c.state} ({c.problem})"
        shown.append(
            (
                s.get("name", c.path.name),
                state,
                _size(c.size),
                f"{s['items']}/{s['n_items']}" if s else "-",
                _fraction(s.get("fits_fraction")) if s else "-",
                str(s.get("hits", "-")),
                str(s.get("misses", "-")),
                str(c.path.parent),
            )
        )
    headers = ("name", "state", "size", "items", "fits", "hits", "misses", "directory")
    console.rows(out, headers, shown, right=("size", "items", "fits", "hits", "misses"), whole=("directory",))


def _fraction(f: float | None) -> str:
    return "?" if f is None else f"{f:.0%}" if f >= 0.01 or f == 0 else f"{f:.1%}"


def _fits(s: dict) -> str:
    """How much of the dataset the cache can hold: the hit rate to expect once it is filled (MinIO)."""
    if s["fits"] is None:
        return "not known until items are cached"
    about = "about " if s["mode"] == "variable" and s["fits"] < s["n_items"] else ""
    return (
        f"{about}{s['fits']} of {s['n_items']} items ({about}{_fraction(s['fits_fraction'])}; "
        "the hit rate to expect once filled)"
    )


def _find(name: str, directory: list[Path] | None) -> CacheInfo:
    from torchrig.data.inspection import find_cache  # numpy: loaded only when a cache command runs

    return find_cache(name, _directories(directory))


def stats(
    name: str = typer.Argument(..., metavar="NAME", help="A cache's name, its label, or a unique prefix of its name."),
    directory: list[Path] = typer.Option(None, "--dir", metavar="DIR", help=_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Show one cache's statistics: hits and misses across every process, items, bytes, capacity."""
    from torchrig.data.inspection import SCHEMA

    info = _find(name, directory)
    if as_json:
        console.emit_json({"schema": SCHEMA, "cache": info.to_json()})
        return
    out = console.out()
    if info.stats is None:
        out.print(f"{info.path}: {info.state}" + (f" ({info.problem})" if info.problem else ""), markup=False)
        return
    s = info.stats
    reads = s["hits"] + s["misses"]
    rows = [
        ("name", s["name"]),
        ("state", info.state),
        ("location", str(info.path)),
        ("mode", s["mode"] + (" (persistent)" if s["persist"] else "")),
        ("items", f"{s['items']} of {s['n_items']} ({s['items'] / max(1, s['n_items']):.0%})"),
        ("fits", _fits(s)),
        ("bytes", f"{_size(s['bytes'])} of {_size(s['capacity'])} capacity"),
        ("hits", f"{s['hits']}" + (f" ({s['hits'] / reads:.1%} of {reads} reads)" if reads else "")),
        ("misses", str(s["misses"])),
        ("not cached (full)", str(s["refused"])),
        ("created", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s["created"]))),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        out.print(f"{k:<{width}}  {v}", markup=False)


def clear(
    name: str = typer.Argument(None, metavar="NAME", help="The cache to remove (name, label or unique prefix)."),
    all_: bool = typer.Option(False, "--all", help="Remove every cache of yours that no process is using."),
    directory: list[Path] = typer.Option(None, "--dir", metavar="DIR", help=_DIR_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be removed, remove nothing."),
    as_json: bool = typer.Option(
        False, "--json", help="Print each cache's outcome and the bytes freed as JSON (schema torchrig.cache-clear/1)."
    ),
) -> None:
    """Remove caches no process is using (stale ones left by crashed jobs, persistent ones, ...).

    A cache in use is left alone: its users would simply re-create it. With --all, also the work
    directories that killed `torchrig selftest` runs left in the temporary directory."""
    from torchrig.data import inspection  # numpy: loaded only when a cache command runs

    if name is not None and not name.strip():
        # an unset shell variable ("$CACHE") must not mean every cache
        raise UserError(
            "the cache name is empty; give a name from `torchrig cache list`, or --all to clear every cache."
        )
    if (name is None) == (not all_):
        raise UserError("give a cache name or --all (not both).")
    targets = [_find(name, directory)] if name is not None else inspection.list_caches(_directories(directory))
    out = console.out()
    results: list[dict[str, object]] = []
    freed = 0
    for info in targets:
        outcome, said = _clear_one(info, dry_run)
        if outcome == "removed":
            freed += info.size
        results.append({"name": info.name, "location": str(info.path), "size": info.size, "outcome": outcome})
        if not as_json:
            out.print(said, markup=False)
    leftovers = _selftest_leftovers(dry_run) if all_ else []
    for path, size in leftovers:
        verb = "would remove" if dry_run else "removed"
        results.append({"name": path.name, "location": str(path), "size": size, "outcome": verb, "kind": "selftest"})
        if not as_json:
            out.print(f"{verb} {path} ({_size(size)}, left by a killed torchrig selftest)", markup=False)
        freed += 0 if dry_run else size
    if as_json:
        console.emit_json({"schema": CLEAR_SCHEMA, "dry_run": dry_run, "caches": results, "freed": freed})
    elif not targets and not leftovers:
        out.print("no caches to clear")
    elif freed and not dry_run:
        out.print(f"freed {_size(freed)}", markup=False)


def _selftest_leftovers(dry_run: bool) -> list[tuple[Path, int]]:
    """The self-test work directories of this user whose run is gone (a SIGKILLed launcher leaves its
    own), with their sizes: removed, or only named with ``dry_run``. Live runs' and kept ones stay."""
    from torchrig.selftest import workdirs  # the standard library only

    found = workdirs.remove_abandoned(dry_run=True)
    sizes = {path: workdirs.disk_usage(path) for path in found}
    if dry_run:
        return list(sizes.items())
    return [(path, sizes.get(path, 0)) for path in workdirs.remove_abandoned()]


def _clear_one(info: CacheInfo, dry_run: bool) -> tuple[str, str]:
    """Remove one cache unless it is in use or not ours: (outcome for --json, the line that says so)."""
    from torchrig.data import inspection

    if info.state == "foreign":
        return "foreign", f"skipped {info.path}: {info.problem}, not yours to remove"
    if info.state == "in use":
        return "in use", f"skipped {info.name}: in use by a running process"
    if info.state == "not a cache":
        return "not a cache", (
            f"skipped {info.path}: {info.problem}, not a cache file; remove it yourself if it is not needed"
        )
    if dry_run:
        return "would remove", f"would remove {info.name} ({_size(info.size)}, {info.state})"
    outcome = inspection.remove_cache(info.path)
    if outcome == "removed":
        return outcome, f"removed {info.name} ({_size(info.size)})"
    return outcome, f"skipped {info.name}: {outcome}"


def register(root: typer.Typer) -> None:
    app.command("list", cls=console.Command)(list_)
    app.command("stats", cls=console.Command)(stats)
    app.command("clear", cls=console.Command)(clear)
    root.add_typer(app, name="cache")
