"""torch.python-unsupported: the installed torch release was not published for this Python."""

from __future__ import annotations

import shlex

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "torch.python-unsupported"


def torch_supports_this_python(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """The Python version must be one the installed torch release publishes wheels for."""
    python = queries.python_version(facts)
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


register(
    Check(
        name="torch-python-unsupported",
        codes=(CODE,),
        summary="the Python version is outside the range the installed torch release publishes wheels for",
        layer=Layer.TORCH_INSTALL,
        run=torch_supports_this_python,
    )
)
