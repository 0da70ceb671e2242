"""env.mixed-installs: several torch installations are visible (conda and pip, or several copies on sys.path)."""

from __future__ import annotations

import shlex
from dataclasses import replace

from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "env.mixed-installs"


def one_torch_installation(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """Exactly one torch may be installed: the first copy on sys.path wins and the others confuse installers."""
    # a torch folder that only shadows the installed one (a source checkout on PYTHONPATH, torch/ in the
    # working directory) is not an installation: env.module-shadowed explains it, and pip cannot remove it
    shadows = {s.path.rstrip("/") for s in facts.system.shadowed_modules if s.name == "torch"}
    copies = [c for c in dict.fromkeys(facts.torch.copies) if c.rstrip("/") not in shadows]
    both = (facts.torch.installer or "").lower() == "conda+pip"  # conda's metadata and pip's INSTALLER both claim it
    hits = hits_for(facts, CODE)
    if len(copies) < 2 and not both and not hits:
        return []
    py = queries.python_command(facts)
    fix = [shlex.join([py, "-m", "pip", "uninstall", "-y", "torch"])] * max(1, len(copies))  # one removes one copy
    if both or facts.system.conda_prefix:
        where = ["-p", facts.system.conda_prefix] if facts.system.conda_prefix and facts.origin == "live" else []
        fix.append(shlex.join(["conda", "remove", "-y", *where, "--force", "pytorch"]) + "   # conda's copy")
    build = fixes.current_build(facts)
    if build:
        fix.append("# then install exactly one, with pip:")
        pip_only = replace(facts, torch=replace(facts.torch, installer="pip"))
        fix += fixes.torch_install(pip_only, build, ctx, reinstall=False)
    evidence: dict[str, object] = {"copies on sys.path": copies} if copies else {}
    if both:
        evidence["installed by"] = "conda and pip (both record owning torch)"
    if facts.torch.location:
        evidence["the one imported"] = facts.torch.location
    evidence.update(evidence_of(hits))
    what = (
        "conda and pip both installed torch"
        if both and len(copies) < 2
        else f"{len(copies) or 'Several'} torch installations are visible to this Python"
    )
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR if facts.torch.import_ok is False else Severity.WARNING,
            title=what[0].upper() + what[1:],
            detail="The first copy on sys.path is imported while pip or conda may update another; mixed files from "
            "two installs cause undefined symbols and wrong CUDA variants. Remove all and install one.",
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="env-mixed-installs",
        codes=(CODE,),
        summary="torch installed by both conda and pip, or several torch copies on sys.path",
        layer=Layer.TORCH_INSTALL,
        run=one_torch_installation,
    )
)
