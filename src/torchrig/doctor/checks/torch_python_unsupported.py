"""torch.python-unsupported: the installed torch release was not published for this Python."""

from __future__ import annotations

import shlex

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks import torch_no_wheel
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "torch.python-unsupported"


def torch_supports_this_python(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """The Python version must be one the installed (or, for pip, the asked-for) torch release publishes wheels for."""
    python = queries.python_version(facts)
    label = torch_no_wheel.python_label(facts)
    if label and torch_no_wheel.python_rules_out_every_wheel(facts):
        return [_no_wheel_for_python(facts, label)]
    rel = knowledge.release(facts.torch.version) if facts.torch.version else None
    if not python or rel is None or rel.supports_python(python):
        return []
    if facts.system.conda_prefix:
        fix = shlex.join(["conda", "create", "-y", "-n", f"torch{rel.minor}", f"python={rel.python_max}"])
    else:
        fix = shlex.join(["uv", "venv", "--python", rel.python_max, f".venv-torch{rel.minor}"])
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR if facts.torch.import_ok is False else Severity.WARNING,
            title=f"torch {rel.minor} supports Python {rel.python_min}-{rel.python_max}, not {python}",
            detail="No official wheel of this release exists for this Python: the install came from somewhere else "
            "or a source build, and compiled extensions may not match it.",
            evidence={"torch": facts.torch.version, "python": facts.system.python_version},
            fix=(fix, "# then install torch in the new environment"),
        )
    ]


def _no_wheel_for_python(facts: Facts, python: str) -> Finding:
    asked, releases = torch_no_wheel.asked_for(facts)
    newest = releases[0]
    fits = [r for r in knowledge.releases() if r.supports_python(python)]
    fix = [
        f"uv venv --python {newest.python_max} .venv   # torch {newest.minor} supports Python "
        f"{newest.python_min}-{newest.python_max}",
        "# then install torch in the new environment",
    ]
    if fits:
        fix.append(f"# or keep Python {python} and install torch {fits[0].minor}, which supports it")
    spec = f" {asked.specifier}" if asked is not None and asked.specifier else ""
    evidence: dict[str, object] = {"python": facts.system.python_version or python}
    if not facts.system.python_version:
        evidence["python"] = (
            f"{python} (not stated: the only Pythons every torch release pip listed as installable here supports)"
        )
    if asked is not None:
        evidence["asked for"] = str(asked)
    evidence.update(evidence_of(hits_for(facts, torch_no_wheel.CODE)))
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=f"No torch{spec} wheel exists for Python {python}",
        detail=(
            'pip found no torch at all ("from versions: none"): no release asked for publishes wheels for this '
            "Python version."
            if facts.system.python_version
            else "pip lists only the torch versions this interpreter can install; the one asked for is missing "
            "although the index carries it, and the Python versions the listed ones leave possible are all outside "
            "its range."
        )
        + " Use a Python the release supports, or a release that supports this Python.",
        evidence=evidence,
        fix=tuple(fix),
    )


register(
    Check(
        name="torch-python-unsupported",
        codes=(CODE,),
        summary="the Python version is outside the range the installed torch release publishes wheels for",
        layer=Layer.TORCH_INSTALL,
        run=torch_supports_this_python,
        explains=("torch.no-wheel",),
    )
)
