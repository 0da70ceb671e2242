"""env.module-shadowed: a local file or folder is imported instead of an installed module."""

from __future__ import annotations

import os
import shlex

from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "env.module-shadowed"
# Shadowing these breaks training outright; other names may be harmless helpers.
_CRITICAL = {"torch", "torchvision", "torchaudio", "numpy", "triton", "typing_extensions", "sympy"}


def _on_pythonpath(facts: Facts, path: str) -> str | None:
    """The PYTHONPATH entry that puts ``path`` on sys.path, if one does."""
    folder = os.path.dirname(path.rstrip("/").removesuffix("/__init__.py"))
    entries = [e.rstrip("/") for e in (facts.system.env.get("PYTHONPATH") or "").split(":") if e]
    return next((e for e in entries if e == folder), None)


def _fix(facts: Facts, name: str, path: str) -> tuple[str, ...]:
    stripped = path.rstrip("/")
    entry = _on_pythonpath(facts, stripped)
    if entry is not None:
        # changing directory does not help: PYTHONPATH puts the folder first wherever Python starts
        kept = [e for e in (facts.system.env.get("PYTHONPATH") or "").split(":") if e and e.rstrip("/") != entry]
        line = f"export PYTHONPATH={shlex.quote(':'.join(kept))}" if kept else "unset PYTHONPATH"
        return (
            f"{line}   # {entry} puts its {name} ahead of the installed one",
            "# if a script, ~/.bashrc or a module file sets PYTHONPATH, remove the entry there too",
        )
    if os.path.basename(stripped) == name or stripped.endswith("/__init__.py"):
        folder = os.path.dirname(stripped.removesuffix("/__init__.py"))
        if not folder:  # a relative path: the working directory itself, sys.path[0] for the REPL and `python -c`
            return (
                f"cd ..   # start Python outside the folder holding this {name}/ (a source checkout?), which wins the import",
            )
        return (
            f"cd {shlex.quote(os.path.dirname(folder) or '/')}"
            f"   # run Python from outside {folder}, whose {name}/ folder wins the import",
        )
    base, ext = os.path.splitext(stripped)
    # the directory is quoted, the glob left outside the quotes so the shell still expands it
    cache = f"{shlex.quote(os.path.join(os.path.dirname(stripped), '__pycache__'))}/{shlex.quote(name)}.*.pyc"
    return (f"mv {shlex.quote(stripped)} {shlex.quote(base + '_local' + ext)}", f"rm -f {cache}")


def no_local_module_shadows(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """No file or folder on sys.path ahead of site-packages may carry an installed module's name."""
    findings = []
    for shadow in facts.system.shadowed_modules:
        findings.append(
            Finding(
                code=CODE,
                severity=Severity.ERROR if shadow.name in _CRITICAL else Severity.WARNING,
                title=f"{shadow.path} shadows the installed {shadow.name} module",
                detail=f"`import {shadow.name}` loads this local file instead of the installed package, which breaks "
                f'with errors like "module \'{shadow.name}\' has no attribute ..." or "partially initialized module".',
                evidence={"module": shadow.name, "shadowed by": shadow.path},
                fix=_fix(facts, shadow.name, shadow.path),
            )
        )
    hits = hits_for(facts, CODE)
    if hits and not findings:
        findings.append(
            Finding(
                code=CODE,
                severity=Severity.ERROR,
                title="A local file shadows an installed module",
                detail="The error shows a module imported from the working directory instead of site-packages.",
                evidence=evidence_of(hits),
                fix=(
                    "Rename the local file named like the module (e.g. torch.py, numpy.py) and delete its __pycache__",
                ),
            )
        )
    return findings


register(
    Check(
        name="env-module-shadowed",
        codes=(CODE,),
        summary="a local file or folder (torch.py in the working directory) shadows an installed module",
        layer=Layer.TORCH_INSTALL,
        run=no_local_module_shadows,
        explains=("torch.import-failed",),
    )
)
