"""toolkit.mismatch: the CUDA toolkit that would build extensions differs in major version from torch's CUDA."""

from __future__ import annotations

import re
import shlex

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "toolkit.mismatch"


def _major(version: str | None) -> int | None:
    v = knowledge.parse_version(version)
    return v.major if v else None


def toolkit_matches_torch(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """The toolkit torch.utils.cpp_extension would use must have torch's CUDA major version."""
    cuda = facts.torch.cuda  # only torch's own report: a CPU build builds no CUDA extensions
    toolkit = facts.toolkit.version
    hits = hits_for(facts, CODE)
    for hit in hits:
        # "The detected CUDA version (12.1) mismatches the version that was used to compile PyTorch (11.7)"
        said = re.search(r"detected CUDA version \((\d+\.\d+)\).*compile\s+PyTorch \((\d+\.\d+)\)", hit.excerpt)
        if said:
            toolkit, cuda = toolkit or said.group(1), cuda or said.group(2)
    if not cuda or not toolkit or _major(cuda) == _major(toolkit):
        return []
    home = (
        f"The CUDA toolkit at {facts.toolkit.cuda_home}"
        if facts.toolkit.cuda_home
        else "The CUDA toolkit that builds extensions"
    )
    same = [t for t in facts.toolkit.others if _major(t.version) == _major(cuda)]
    cuda_minor = knowledge.minor_of(cuda) or cuda
    if same:
        path = same[0].path
        fix: tuple[str, ...] = (f"export CUDA_HOME={shlex.quote(path)}", f"export PATH={shlex.quote(path)}/bin:$PATH")
    elif facts.system.conda_prefix:
        fix = (
            shlex.join(["conda", "install", "-y", "-c", "nvidia", f"cuda-toolkit={cuda_minor}"]),
            'export CUDA_HOME="$CONDA_PREFIX"',
        )
    elif queries.is_debian_like(facts):
        dashed = cuda_minor.replace(".", "-")
        fix = (
            f"sudo apt-get install -y cuda-toolkit-{dashed}   # from NVIDIA's CUDA apt repository",
            f"export CUDA_HOME=/usr/local/cuda-{cuda_minor}",
        )
    else:
        fix = (
            f"Install the CUDA {cuda_minor} toolkit and point CUDA_HOME at it: export CUDA_HOME=/usr/local/cuda-{cuda_minor}",
        )
    where = f" at {facts.toolkit.cuda_home} (found by {facts.toolkit.found_by})" if facts.toolkit.cuda_home else ""
    evidence: dict[str, object] = {"toolkit": f"{toolkit}{where}", "torch.version.cuda": cuda, **evidence_of(hits)}
    title = f"{home} is {toolkit}, but torch was built with CUDA {cuda}"
    detail = (
        "Building a CUDA extension (flash-attn, apex, a custom op) with a toolkit of another major version "
        'fails in torch.utils.cpp_extension ("The detected CUDA version mismatches") or yields a module that '
        "cannot load. Running torch itself is not affected."
    )
    if facts.toolkit.sources.get("version") == "stated" and not hits:  # the reporter's words, not nvcc's output
        title = f"The report states CUDA {toolkit}, but torch was built with CUDA {cuda}"
        detail += " (A CUDA version written in a report may be the driver's, as nvidia-smi prints it; `nvcc --version` names the toolkit.)"
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR if hits else Severity.WARNING,
            title=title,
            detail=detail,
            evidence=evidence,
            fix=fix,
        )
    ]


register(
    Check(
        name="toolkit-mismatch",
        codes=(CODE,),
        summary="the CUDA toolkit found like torch's extension builder finds it differs in major version from torch's CUDA",
        layer=Layer.LIBRARIES,
        run=toolkit_matches_torch,
    )
)
