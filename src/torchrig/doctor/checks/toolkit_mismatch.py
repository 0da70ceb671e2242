"""toolkit.mismatch: the CUDA toolkit that would build extensions differs in major version from torch's CUDA."""

from __future__ import annotations

import re
import shlex

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
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
        return _compiler_and_headers(facts, hits)
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


CCCL_REFUSED = "toolkit.cccl-compiler-headers-mismatch"
# pip's CUDA wheels as a toolkit home: nvidia/cu13 (CUDA 13's wheels share one directory), nvidia/cuda_runtime (12.x)
_PIP_HOME = re.compile(r"site-packages[/\\]nvidia[/\\](?:cu\d{2}|cuda_runtime)\b")


def _compiler_and_headers(facts: Facts, hits: list[SignatureHit]) -> list[Finding]:
    """nvcc of one CUDA release compiling against the headers of another: CCCL refuses it.

    CCCL's cuda/std/__cccl/cuda_toolkit.h compares the compiler's major.minor with CUDART_VERSION of the headers
    ("CUDA compiler and CUDA toolkit headers are incompatible, please check your include paths"). Where CUDA_HOME is
    pip's CUDA wheels, its headers are those of torch's own CUDA runtime wheel (torch pins nvidia-cuda-runtime of its
    CUDA), so an nvcc wheel of another minor (pip resolves nvidia-cuda-nvcc on its own) is that pairing.
    """
    refused = [h for h in hits if h.id == CCCL_REFUSED]
    tk, cuda = facts.toolkit, facts.torch.cuda
    pip_home = bool(tk.cuda_home and _PIP_HOME.search(tk.cuda_home))
    skewed = bool(pip_home and cuda and tk.version and knowledge.minor_of(tk.version) != knowledge.minor_of(cuda))
    if not refused and not skewed:
        return []
    py = queries.python_command(facts)
    fix: list[str] = []
    if cuda and (minor := knowledge.minor_of(cuda)):
        wheel = "nvidia-cuda-nvcc" if (_major(minor) or 0) >= 13 else f"nvidia-cuda-nvcc-cu{_major(minor)}"
        fix.append(
            shlex.join([py, "-m", "pip", "install", f"{wheel}=={minor}.*"])
            + "   # nvcc of torch's CUDA, with the compiler wheels of the same release (crt, nvvm, cccl)"
        )
    fix.append(
        "Point CUDA_HOME at one toolkit whose nvcc and include/ are the same CUDA release, then clear the JIT cache"
    )
    evidence: dict[str, object] = {}
    if tk.version:
        evidence["nvcc"] = tk.version
    if tk.cuda_home:
        evidence["CUDA_HOME"] = tk.cuda_home
    if cuda:
        evidence["torch.version.cuda"] = cuda
    evidence.update(evidence_of(hits))
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR if refused else Severity.WARNING,
            title=f"nvcc {tk.version or ''} compiles against the headers of another CUDA release".replace("  ", " "),
            detail="CCCL's headers refuse a compiler of another CUDA release than their own (\"CUDA compiler and CUDA "
            "toolkit headers are incompatible\"), so every kernel built on first use (FlashInfer's JIT, a "
            "cpp_extension load) fails. "
            + (
                f"CUDA_HOME is pip's CUDA wheels, whose headers are torch's CUDA {cuda} runtime."
                if skewed
                else "The compiler and the include path are of different releases."
            ),
            evidence=evidence,
            fix=tuple(fix),
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
