"""libs.shadowed: a CUDA library was loaded from outside the copy torch ships with (LD_LIBRARY_PATH, system cuDNN)."""

from __future__ import annotations

import os
import re

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, LoadedLib
from torchrig.doctor.findings import Finding, Severity

CODE = "libs.shadowed"
# The CUDA libraries torch's wheels and conda packages carry (libcuda is the driver's: never torch's).
_CUDA_LIB = re.compile(
    r"lib(cudart|cublas|cublasLt|cudnn\w*|nccl|nvJitLink|cusparse|cusparseLt|cufft|curand|cusolver|nvrtc|cupti"
    r"|nvToolsExt|cufile)\.so"
)


def _own_roots(facts: Facts) -> list[str]:
    """Where torch's own CUDA libraries live: torch/lib, site-packages/nvidia (pip), $CONDA_PREFIX/lib (conda)."""
    location = (facts.torch.location or "").rstrip("/")
    roots = [location + "/", os.path.dirname(location) + "/nvidia/"] if location else []
    if (facts.torch.installer or "").lower() == "conda" and facts.system.conda_prefix:
        roots.append(facts.system.conda_prefix.rstrip("/") + "/lib/")
    return roots


def _bundles_libraries(facts: Facts, own: list[LoadedLib]) -> bool:
    """Whether this torch ships its own CUDA libraries (a PyPI/download.pytorch.org wheel or a conda build).

    A torch built into an image (NGC containers) uses the system's libraries by design.
    """
    v = knowledge.parse_version(facts.torch.version)
    tagged = v is not None and v.local is not None and v.local.startswith("cu")
    return bool(own) or tagged or (facts.torch.installer or "").lower() == "conda"


def torch_loads_its_own_libraries(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """Every CUDA library torch loaded must come from torch's own copy, not from LD_LIBRARY_PATH or the system."""
    hits = hits_for(facts, CODE)
    roots = _own_roots(facts)
    cuda_libs = [lib for lib in facts.torch.loaded_libs if lib.path and _CUDA_LIB.match(lib.name)]
    own = [lib for lib in cuda_libs if any(lib.path.startswith(r) for r in roots)]
    foreign = [lib for lib in cuda_libs if roots and lib not in own]
    if not (foreign and _bundles_libraries(facts, own)) and not hits:
        return []
    ld_path = queries.env(facts, "LD_LIBRARY_PATH") or ""
    preload = queries.env(facts, "LD_PRELOAD") or ""
    dirs = {os.path.dirname(lib.path) for lib in foreign}
    fix: list[str] = []
    if any(os.path.basename(lib.path) in preload for lib in foreign):
        fix.append("unset LD_PRELOAD")
    entries = [p for p in ld_path.split(":") if p]
    shadowing = [p for p in entries if p.rstrip("/") in dirs]  # the entries that hold a foreign copy
    if not shadowing and hits:  # a log does not say which entry: drop the CUDA ones
        shadowing = [p for p in entries if re.search(r"cuda|cudnn|nvidia", p, re.IGNORECASE)]
    unshadow = queries.library_path_without(facts, lambda p: p in shadowing)
    if unshadow:
        fix.append(unshadow)
    if not fix and dirs:
        where = ", ".join(sorted(dirs))
        fix.append(
            f"Remove {where} from the loader path (/etc/ld.so.conf.d, then `sudo ldconfig`) or uninstall that copy"
        )
    if not fix:
        fix.append("Make sure no other cuDNN/CUDA copy is on LD_LIBRARY_PATH or LD_PRELOAD, so torch loads its own")
    evidence: dict[str, object] = {f"{lib.name} loaded from": lib.path for lib in foreign}
    if roots:
        evidence["torch's own copies under"] = ", ".join(roots)
    if ld_path:
        evidence["LD_LIBRARY_PATH"] = ld_path
    evidence.update(evidence_of(hits))
    names = ", ".join(dict.fromkeys(lib.name for lib in foreign)) or "a CUDA library (cuDNN)"
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR if hits else Severity.WARNING,
            title=f"torch loads {names} from outside its own copy",
            detail="A different cuDNN/cuBLAS/NCCL than the one torch was built and tested with causes "
            '"cuDNN version incompatibility" errors, undefined symbols, wrong results or slow kernels.',
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="libs-shadowed",
        codes=(CODE,),
        summary="a CUDA library (cuDNN, cuBLAS, NCCL, ...) loaded from outside torch's own copy (LD_LIBRARY_PATH, system)",
        layer=Layer.LIBRARIES,
        run=torch_loads_its_own_libraries,
    )
)
