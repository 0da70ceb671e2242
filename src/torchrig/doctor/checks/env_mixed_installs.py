"""env.mixed-installs: several torch installations are visible (conda and pip, or several copies on sys.path)."""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
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
    launchers = [hit for hit in hits if hit.id == _USER_SITE_LAUNCHER]
    if launchers and len(copies) < 2 and not both:
        # torchrun's traceback passes through its script whatever failed (an NCCL error, an OOM): the other
        # interpreter is shown at fault where it lacked a package (an import error), or where the failure summary
        # names a worker's Python outside any virtual or conda environment
        binary = next((m.group("python") for f in facts.failures for m in [_BINARY.search(f)] if m), "")
        outside = bool(binary) and not _ENV_PYTHON.search(binary)
        if not (outside or any(_IMPORT_FAILED.search(line) for line in facts.failures)):
            return []
        return [_user_site_launcher(facts, launchers)]
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


_USER_SITE_LAUNCHER = "env.user-site-launcher"  # signatures.toml
_ENV_PYTHON = re.compile(
    r"venv|virtualenv|[/\\](?:envs|conda|miniconda\d*|anaconda\d*|miniforge\d*)[/\\]", re.IGNORECASE
)
_IMPORT_FAILED = re.compile(r"\bModuleNotFoundError\b|\bImportError\b|\bNo module named\b")
_BINARY = re.compile(r"of binary: (?P<python>\S+)")  # torch.distributed.elastic's failure summary


def _user_site_launcher(facts: Facts, hits: list[SignatureHit]) -> Finding:
    """A console script from the user site (PEP 370) ran, so its shebang's Python ran instead of the env's.

    `pip install --user` puts scripts in ~/.local/bin; each one's first line names the interpreter that installed
    it. Ahead of the environment's bin directory on PATH, it runs that interpreter, without the env's packages.
    """
    evidence: dict[str, object] = dict(evidence_of(hits))
    binary = next((m.group("python") for f in facts.failures for m in [_BINARY.search(f)] if m), None)
    if binary:
        evidence["the Python it ran"] = binary
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title="A torch launcher from the user site (~/.local/bin) runs instead of the environment's own",
        detail="`pip install --user torch` left console scripts such as torchrun in ~/.local/bin, and their first line "
        "names the Python that installed them. Found first on PATH, they start that Python rather than the "
        "environment's, so the processes they spawn miss the environment's packages and may import another torch.",
        evidence=evidence,
        fix=(
            "python -m pip uninstall torch   # with the Python that owns ~/.local (the user-site copy and its scripts)",
            "python -m torch.distributed.run ...   # meanwhile: the environment's own Python instead of `torchrun`",
            "export PYTHONNOUSERSITE=1   # keeps the user site off sys.path for this shell and its jobs",
        ),
    )


register(
    Check(
        name="env-mixed-installs",
        codes=(CODE,),
        summary="torch installed by both conda and pip, or several torch copies on sys.path",
        layer=Layer.TORCH_INSTALL,
        run=one_torch_installation,
    )
)
