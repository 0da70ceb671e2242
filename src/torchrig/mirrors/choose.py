"""Which mirrors a command is about: the pairs to probe, the mirror ``use`` sets per target, and whether
anything overrides the change once it is written.

``torchrig mirror probe`` and ``use`` parse their arguments and render; every decision is here:

- :func:`probe_pairs`: the (mirror, service) pairs to probe for some targets, leaving plain-http
  mirrors out unless allowed;
- :func:`choose`: for ``use NAME|fastest|URL``, the mirror each target gets, and notes about targets
  left alone (a scope a tool has no setting for, a flat PyTorch page that is no index);
- :func:`overrides`: after (or before, from a plan's bytes) writing, the layers that still win over it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from torchrig._core.errors import UserError
from torchrig.mirrors.catalog import SERVICE_OF, TARGETS, Catalog, Mirror, adhoc_mirror, load_catalog
from torchrig.mirrors.locations import SCOPES_OF
from torchrig.mirrors.probe import ProbeResult, probe

Pair = tuple[Mirror, str]  # a mirror and one service it serves ("pypi", "conda", "pytorch", "hf")


def targets(value: str | None) -> tuple[str, ...] | None:
    """``--for pip,torch`` as a tuple of known targets; None when not given."""
    if value is None:
        return None
    wanted = tuple(dict.fromkeys(t.strip().lower() for t in value.split(",") if t.strip()))
    unknown = [t for t in wanted if t not in TARGETS]
    if unknown or not wanted:
        raise UserError(
            f"unknown target {', '.join(unknown) or repr(value)} for --for; choose from {', '.join(TARGETS)}."
        )
    return wanted


@dataclass(frozen=True)
class ProbeSet:
    catalog: Catalog
    pairs: tuple[Pair, ...]
    skipped_insecure: tuple[str, ...]  # plain-http mirrors left out (no --allow-insecure)


def probe_pairs(wanted: tuple[str, ...] | None, names: Sequence[str] | None, *, allow_insecure: bool) -> ProbeSet:
    """The (mirror, service) pairs to probe for ``wanted`` targets (default: pip, conda, torch, hf)."""
    catalog = load_catalog()
    services = list(dict.fromkeys(SERVICE_OF[t] for t in (wanted or ("pip", "conda", "torch", "hf"))))
    mirrors = [catalog.get(n) for n in names] if names else list(catalog.mirrors)
    skipped = tuple(m.name for m in mirrors if m.insecure and not allow_insecure)
    pairs = tuple((m, s) for m in mirrors if not (m.insecure and not allow_insecure) for s in services if s in m.urls)
    return ProbeSet(catalog, pairs, skipped)


@dataclass(frozen=True)
class Choice:
    mirrors: dict[str, Mirror]  # target -> the mirror it is set to
    notes: tuple[str, ...]  # targets left alone and why, and what `fastest` measured


ProbeRunner = Callable[[Catalog, Sequence[Pair]], list[ProbeResult]]


def choose(
    name: str,
    wanted: tuple[str, ...] | None,
    scope: str,
    *,
    allow_insecure: bool,
    timeout: float,
    among: Sequence[str] | None = None,
    run_probe: ProbeRunner | None = None,
) -> Choice:
    """The mirror each target gets for ``torchrig mirror use NAME`` (a catalog name, ``fastest`` or a URL).

    ``run_probe`` measures the candidates for ``fastest`` (the CLI passes one that shows progress).
    """
    notes: list[str] = []
    if "://" in name:
        if wanted is None or len(wanted) != 1:
            raise UserError("a mirror given as a URL needs exactly one target, e.g. --for pip.")
        return Choice({wanted[0]: adhoc_mirror(name, wanted[0], allow_insecure=allow_insecure)}, ())
    catalog = load_catalog()
    if name.lower() == "fastest":
        return _fastest(
            catalog,
            wanted,
            scope,
            allow_insecure=allow_insecure,
            timeout=timeout,
            among=among,
            run_probe=run_probe or (lambda cat, pairs: probe(cat, pairs, timeout=timeout)),
        )
    mirror = catalog.get(name)
    if mirror.insecure and not allow_insecure:
        raise UserError(
            f"{mirror.name} uses plain http, which lets anyone on the path swap packages; "
            "pass --allow-insecure if you accept that."
        )
    if wanted is not None:
        missing = [t for t in wanted if not mirror.serves(t)]
        if missing:
            others = ", ".join(m.name for m in catalog.serving(missing[0]))
            raise UserError(f"{mirror.name} does not serve {missing[0]}; mirrors that do: {others}.")
        return Choice(dict.fromkeys(wanted, mirror), ())
    chosen = {}
    for t in mirror.targets:
        if scope not in SCOPES_OF[t]:
            notes.append(f"left {t} alone: it has no {scope}-scope setting (use --scope {' or '.join(SCOPES_OF[t])}).")
        elif t == "torch" and mirror.pytorch_format != "simple":
            notes.append(f"left torch alone: {mirror.name}'s PyTorch wheels are a flat page (pip -f), not an index.")
        else:
            chosen[t] = mirror
    if not chosen:
        raise UserError(f"nothing to set for {mirror.name} with --scope {scope}; " + " ".join(notes))
    return Choice(chosen, tuple(notes))


def _fastest(
    catalog: Catalog,
    wanted: tuple[str, ...] | None,
    scope: str,
    *,
    allow_insecure: bool,
    timeout: float,
    among: Sequence[str] | None,
    run_probe: ProbeRunner,
) -> Choice:
    """Probe every candidate and take, per target, the fastest that answered cleanly (fresh, no redirect off it)."""
    asked = wanted or ("pip", "uv", "conda", "torch", "hf")
    asked = tuple(t for t in asked if scope in SCOPES_OF[t] or wanted is not None)
    services = list(dict.fromkeys(SERVICE_OF[t] for t in asked))
    candidates = [catalog.get(n) for n in among] if among else list(catalog.mirrors)
    pairs = [
        (m, s)
        for m in candidates
        if not (m.insecure and not allow_insecure)
        for s in services
        if s in m.urls and not (s == "pytorch" and m.pytorch_format != "simple")
    ]
    results = run_probe(catalog, pairs)
    chosen = {}
    notes = []
    for t in asked:
        best = next((r for r in results if r.service == SERVICE_OF[t] and r.ok and not r.flagged), None)
        if best is None:
            raise UserError(
                f"no mirror for {t} answered cleanly within {timeout:g} s; try `torchrig mirror probe --for {t}`."
            )
        chosen[t] = catalog.get(best.mirror)
        notes.append(f"fastest for {t}: {best.mirror} ({best.latency_ms:.0f} ms)")
    return Choice(chosen, tuple(notes))


def overrides(
    chosen: Mapping[str, Mirror], written: Mapping[str, Path], overlay: Mapping[Path, bytes | None] | None = None
) -> list[str]:
    """What still wins over the files ``written`` per target (an environment variable, a later file, this shell).

    ``overlay`` answers for files a dry run has not written yet (real path -> the bytes it would write).
    """
    from torchrig.mirrors.show import resolve

    return [w for view in resolve(tuple(chosen), overlay=overlay, ours=written) for w in view.overridden]
