"""torch.python-unsupported: the installed (or asked-for) torch release has no wheel for this Python here.

Which Pythons a release has wheels for depends on the platform: PyPI's torch 2.5 wheels reach Python 3.13
on Linux x86_64 but stop at 3.12 on macOS, Windows and Linux aarch64 (``knowledge.TorchRelease.python_range``).
The check judges by the platform the facts show; where they show none, by the Linux x86_64 range, and the
finding says that is the range it used.
"""

from __future__ import annotations

import re
import shlex

from packaging.version import Version

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks import torch_no_wheel
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for, signature_codes
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "torch.python-unsupported"
# signatures.toml: a launcher's own check that the interpreter is one it supports, made before it installs torch
_LAUNCHER = "launcher.python-untested"
# the codes of what an install says (a torch that never got installed), as opposed to what running torch says
_INSTALLING = frozenset({CODE, torch_no_wheel.CODE, "torch.missing"})
_TESTED = re.compile(r"tested with (?P<tested>3\.\d+(?:\.\d+)?) Python")


def torch_supports_this_python(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """The Python version must be one the installed (or, for pip, the asked-for) torch release publishes wheels
    for, on this platform."""
    python = queries.python_version(facts)
    label = torch_no_wheel.python_label(facts)
    if label and torch_no_wheel.python_rules_out_every_wheel(facts):
        return [_no_wheel_for_python(facts, label)]
    if torch_no_wheel.empty_list_blames_python(facts):
        return [_nothing_listed(facts)]
    rel = knowledge.release(facts.torch.version) if facts.torch.version else None
    platform = torch_no_wheel.platform_of(facts)
    if not python or (rel is not None and rel.supports_python(python, platform)):
        return []
    if rel is None:
        # the launcher warns for every Python but the one it was tested with and goes on: a torch that then
        # answered (its version, an import) or failed at work (an error torchrig knows from running torch, not
        # from installing it) was installed for this Python, and the warning explains nothing
        launcher = [hit for hit in hits_for(facts, CODE) if hit.id == _LAUNCHER]
        codes = signature_codes()
        ran = (
            facts.torch.version
            or facts.torch.import_ok
            or any(codes.get(h.id) not in _INSTALLING for h in facts.signatures)
        )
        if launcher and ran and not hits_for(facts, torch_no_wheel.CODE):
            return []
        return [_launcher_refuses(facts, python, launcher[0])] if launcher else []
    span = _range(rel, platform)
    if facts.system.conda_prefix:
        fix = shlex.join(["conda", "create", "-y", "-n", f"torch{rel.minor}", f"python={span.high}"])
    else:
        fix = shlex.join(["uv", "venv", "--python", span.high, f".venv-torch{rel.minor}"])
    evidence: dict[str, object] = {"torch": facts.torch.version, "python": facts.system.python_version}
    if platform is not None:
        evidence["platform"] = _platform_evidence(facts)
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR if facts.torch.import_ok is False else Severity.WARNING,
            title=f"torch {rel.minor} supports Python {span.span} {_on(span, platform)}, not {python}",
            detail="No official wheel of this release exists for this Python: the install came from somewhere else "
            "or a source build, and compiled extensions may not match it.",
            evidence=evidence,
            fix=(fix, "# then install torch in the new environment"),
        )
    ]


def _range(rel: knowledge.TorchRelease, platform: str | None) -> knowledge.PythonRange:
    """The release's Python range on ``platform``; where PyPI has none for it, Linux x86_64's."""
    found = rel.python_range(platform) or rel.python_range()
    assert found is not None
    return found


def _on(span: knowledge.PythonRange, platform: str | None) -> str:
    """ "on macOS", or, where the platform is unknown, "(its Linux x86_64 wheels)"."""
    if platform is not None and span.platform != "linux-x86_64":
        return f"on {span.where}"
    if platform is not None:
        return f"on {knowledge.platform_name(platform)}"
    return f"(its {span.where} wheels; the report does not show the platform)"


def _platform_evidence(facts: Facts) -> str:
    return " ".join(p for p in (facts.system.distro or facts.system.os, facts.system.machine) if p)


def _first_fit(python: str, platform: str | None, after: knowledge.TorchRelease) -> knowledge.TorchRelease | None:
    """The oldest release newer than ``after`` with a wheel for ``python`` here, else the newest older one."""
    fits = [r for r in knowledge.releases() if r.supports_python(python, platform)]  # newest first
    newer = [r for r in fits if Version(r.minor) > Version(after.minor)]
    return newer[-1] if newer else (fits[0] if fits else None)


def _no_wheel_for_python(facts: Facts, python: str) -> Finding:
    asked, releases = torch_no_wheel.asked_for(facts)
    on_index = torch_no_wheel.candidate_releases(facts)
    by_index = bool(on_index) and on_index != releases  # the indexes searched carry only some of the releases
    releases = on_index or releases
    platform = torch_no_wheel.platform_of(facts)
    newest = releases[0]
    span = _range(newest, platform)
    stated = queries.python_version(facts)
    spec = f" {asked.specifier}" if asked is not None and asked.specifier else ""
    one_release = asked is not None and len({r.minor for r in releases}) == 1
    where = span.where if platform is not None else None
    if one_release:
        title = f"torch {newest.minor} has no {where + ' ' if where else ''}wheel for Python {python}"
        title += f" ({where or span.where} wheels: Python {span.span})"
    elif by_index:
        title = (
            f"No torch{spec} wheel for Python {python} on the indexes searched: their newest release, torch "
            f"{newest.minor}, has {span.where} wheels for Python {span.span}"
        )
    else:
        title = f"No torch{spec} wheel exists for Python {python}" + (f" on {where}" if where else "")
    fix = [
        f"uv venv --python {span.high} .venv   # torch {newest.minor} has {span.where} wheels for Python {span.span}",
        "# then install torch in the new environment",
    ]
    fit = _first_fit(stated, platform, newest) if stated else None
    if fit is not None:
        newer = Version(fit.minor) > Version(newest.minor)
        which = f"torch >= {fit.minor}" if newer else f"torch {fit.minor}"
        fix.append(f"# or keep Python {stated} and install {which}, which has wheels for it")
    evidence: dict[str, object] = {"python": facts.system.python_version or python}
    if not facts.system.python_version:
        evidence["python"] = (
            f"{python} (not stated: the only Pythons every torch release pip listed as installable here supports)"
        )
    if platform is not None:
        evidence["platform"] = _platform_evidence(facts)
    if asked is not None:
        evidence["asked for"] = str(asked)
    evidence.update(evidence_of(hits_for(facts, torch_no_wheel.CODE) + hits_for(facts, CODE)))
    if hits_for(facts, torch_no_wheel.CODE):
        detail = (
            "The installer found no torch wheel at all: no release asked for publishes wheels for this "
            "Python version" + (" on this platform." if platform else ".")
            if facts.system.python_version
            else "pip lists only the torch versions this interpreter can install; the one asked for is missing "
            "although the index carries it, and the Python versions the listed ones leave possible are all outside "
            "its range."
        )
    else:
        detail = (
            f"The report says {asked or 'torch'} could not be installed, and PyPI has no wheel "
            f"of it for this Python{' on this platform' if platform else ''}."
        )
    if by_index:
        detail += (
            " PyTorch's per-variant indexes (download.pytorch.org/whl/cu118, ...) carry only the releases built "
            f"for that variant: the newest on those searched is {newest.minor}."
        )
    if where is None:
        detail += " The report does not show the platform: the ranges used are those of the Linux x86_64 wheels."
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=title,
        detail=detail + " Use a Python the release supports, or a release that supports this Python.",
        evidence=evidence,
        fix=tuple(fix),
    )


def _nothing_listed(facts: Facts) -> Finding:
    """pip listed no torch version at all ("from versions: none"), and nothing the report shows but the Python
    explains it: say which Pythons the asked-for release (or the first with wheels for the stated one) has, and that
    what the report does not show is inferred."""
    asked, releases = torch_no_wheel.asked_for(facts)
    platform = torch_no_wheel.platform_of(facts)
    stated = queries.python_version(facts)
    searched = torch_no_wheel.searched_releases(facts) or releases
    newest = next((r for r in releases if r in searched), releases[0])
    span = _range(newest, platform)
    where = span.where if platform is not None else None
    pinned = asked is not None and any(s.operator in ("==", "===") for s in asked.specifier)
    first = torch_no_wheel.first_with_wheels(facts, stated) if stated else None
    evidence: dict[str, object] = {}
    if stated:
        evidence["python"] = facts.system.python_version
    else:
        evidence["python"] = (
            f"not shown; inferred: outside {span.span}, the Pythons torch {newest.minor} has wheels for"
        )
    if platform is not None:
        evidence["platform"] = _platform_evidence(facts)
    if asked is not None:
        evidence["asked for"] = str(asked)
    evidence.update(evidence_of(hits_for(facts, torch_no_wheel.CODE)))
    new_python = stated is not None and first is not None and not pinned
    if new_python and stated and first is not None:
        title = (
            f"pip found no torch for Python {facts.system.python_version or stated}: torch has {where + ' ' if where else ''}wheels for Python "
            f"{knowledge.minor_of(stated)} from {first.minor} on"
        )
        because = (
            f"The first torch release with wheels for Python {knowledge.minor_of(stated)} is {first.minor}"
            + (f" ({first.released})" if first.released else "")
            + ": an install before it finds none, as here."
        )
    elif stated:
        title = f"No torch{' ' + str(asked.specifier) if pinned and asked else ''} wheel exists for Python {stated}"
        because = f"torch {newest.minor} has wheels for Python {span.span}, not {knowledge.minor_of(stated)}."
    elif pinned:
        title = (
            f"torch {newest.minor} has no wheel for this Python: pip found no torch release at all for it "
            f"(torch {newest.minor}'s {span.where} wheels: Python {span.span})"
        )
        because = (
            f"So the interpreter is outside Python {span.span}, most likely newer than every release of the day; "
            "the report does not show its version: this is inferred."
        )
    else:
        title = "pip found no torch release at all for this Python: it is outside every release's wheels"
        because = (
            f"So the interpreter is newer (or older) than every torch release of the day supports; torch {newest.minor} "
            f"has wheels for Python {span.span}. The report does not show its version: this is inferred."
        )
    detail = (
        'pip lists every torch version whose wheels fit this interpreter on the indexes it searched; "from versions: '
        'none" means not one release does, and the report shows no cause of that but the Python version (no other '
        "index, no network failure). "
        + because
        + " A 32-bit Python, or a CPU PyPI has no torch wheels for (Windows on ARM, ppc64le), also finds none"
        + (": the report does not rule those out." if not facts.system.machine else ".")
    )
    fix = [
        f"uv venv --python {span.high} .venv   # torch {newest.minor} has {span.where} wheels for Python {span.span}",
        "# then install torch in the new environment",
    ]
    if new_python and stated and first is not None:
        before = next((r for r in knowledge.releases() if Version(r.minor) < Version(first.minor)), None)
        fix = [
            f"pip install 'torch>={first.minor}'   # the first release with wheels for Python {knowledge.minor_of(stated)}"
        ]
        if before is not None:
            older = _range(before, platform)
            fix.append(
                f"# or, where it is not out yet: uv venv --python {older.high} .venv   # torch {before.minor} has "
                f"{older.where} wheels for Python {older.span}"
            )
    if not facts.system.machine:
        fix.insert(
            0,
            'python -c "import sys, platform; print(sys.version, platform.machine())"   # the Python and CPU pip chose for',
        )
    return Finding(code=CODE, severity=Severity.ERROR, title=title, detail=detail, evidence=evidence, fix=tuple(fix))


def _launcher_refuses(facts: Facts, python: str, hit: SignatureHit) -> Finding:
    """The launcher says this Python is not one it was tested with; the report does not name the torch it pins.

    An error where the report also shows the torch install failing (no wheel found), a warning otherwise:
    the launcher's pinned torch may still have a wheel for this Python.
    """
    tested = _TESTED.search(hit.excerpt)
    want = knowledge.minor_of(tested.group("tested")) if tested else None
    failed = hits_for(facts, torch_no_wheel.CODE)
    evidence: dict[str, object] = {"python": facts.system.python_version or python}
    evidence.update(evidence_of([hit, *failed]))
    fix = (
        f"# install Python {want or 'the version the launcher names'}, delete the launcher's venv folder, and run it again",
        "# (or start the launcher with that Python: it creates its venv from the interpreter that runs it)",
    )
    return Finding(
        code=CODE,
        severity=Severity.ERROR if failed else Severity.WARNING,
        title=f"The launcher is tested with Python {want or 'another version'}, not {python}: the torch it installs may "
        "have no wheel for this Python",
        detail="The launcher checks the interpreter before it installs its pinned torch release, and says this one "
        "is outside the versions it supports; a torch release publishes wheels for a fixed range of Pythons, so "
        "installing torch (and other compiled packages) can fail. The report does not name the torch release the "
        "launcher pins.",
        evidence=evidence,
        fix=fix,
    )


register(
    Check(
        name="torch-python-unsupported",
        codes=(CODE,),
        summary="the Python version is outside the range the installed torch release publishes wheels for on "
        "this platform",
        layer=Layer.TORCH_INSTALL,
        run=torch_supports_this_python,
        explains=("torch.no-wheel", "torch.missing"),
    )
)
