"""libs.shadowed: a CUDA library was loaded from outside the copy torch ships with (LD_LIBRARY_PATH, system cuDNN)."""

from __future__ import annotations

import os
import re

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, LoadedLib, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "libs.shadowed"
_STUB = "libs.stub-libcuda"  # CUDA's error 34: the toolkit's link-time libcuda.so was loaded, not the driver's
# glibc's "<object>: undefined symbol: <name>" where a log names the CUDA library's file: the copy that was loaded
_LOADED_AT = re.compile(r"(?P<dir>/[^\s:'\"]+)/(?P<name>lib\w+\.so[\d.]*): undefined symbol")
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
    stub = [hit for hit in hits if hit.id == _STUB]
    if stub:
        return [_stub_libcuda(facts, stub)]
    roots = _own_roots(facts)
    cuda_libs = [lib for lib in facts.torch.loaded_libs if lib.path and _CUDA_LIB.match(lib.name)]
    own = [lib for lib in cuda_libs if any(lib.path.startswith(r) for r in roots)]
    foreign = [lib for lib in cuda_libs if roots and lib not in own]
    if not (foreign and _bundles_libraries(facts, own)) and not hits:
        return []
    named = _named_in_hits(hits, roots)
    foreign += [lib for lib in named if lib.path not in {f.path for f in foreign}]
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
            f"Remove {where} from the loader path (LD_LIBRARY_PATH, e.g. `module unload` the module that set it, or "
            "/etc/ld.so.conf.d, then `sudo ldconfig`), or put the program's own library directory first"
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
    # a log from a program that bundles libtorch or its own CUDA libraries (no torch shown) is not about torch
    program = "torch" if roots or facts.torch.version or facts.origin == "live" else "The program"
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR if hits else Severity.WARNING,
            title=f"{program} loads {names} from outside its own copy",
            detail=f"A different cuDNN/cuBLAS/NCCL than the one {program.lower()} was built and tested with causes "
            '"cuDNN version incompatibility" errors, undefined symbols, wrong results or slow kernels.',
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


def _named_in_hits(hits: list[SignatureHit], roots: list[str]) -> list[LoadedLib]:
    """The CUDA library files a log's "undefined symbol" lines name, outside torch's own copies."""
    named: list[LoadedLib] = []
    for hit in hits:
        for match in _LOADED_AT.finditer(hit.excerpt):
            path = f"{match.group('dir')}/{match.group('name')}"
            if _CUDA_LIB.match(match.group("name")) and not any(path.startswith(r) for r in roots):
                named.append(LoadedLib(name=match.group("name"), path=path))
    return named


def _stub_libcuda(facts: Facts, hits: list[SignatureHit]) -> Finding:
    """The CUDA toolkit's stub libcuda.so (lib64/stubs, for linking only) was found before the driver's libcuda.so.1.

    The stub answers every call with cudaErrorStubLibrary (34) (CUDA Runtime API reference), so CUDA sees no
    driver. It comes first where LD_LIBRARY_PATH (or /etc/ld.so.conf.d) names the stubs directory, or where no
    driver is installed and the stub is the only libcuda there is.
    """
    ld_path = queries.env(facts, "LD_LIBRARY_PATH") or ""
    fix: list[str] = []
    unstub = queries.library_path_without(facts, lambda p: p.rstrip("/").endswith("/stubs"))
    if unstub:
        fix.append(unstub)
    else:
        fix += [
            "echo $LD_LIBRARY_PATH; grep -r stubs /etc/ld.so.conf.d/   # find the entry that names .../lib64/stubs",
            "# remove it (from LD_LIBRARY_PATH, or from /etc/ld.so.conf.d followed by `sudo ldconfig`)",
        ]
    fix.append("# if `nvidia-smi` fails too, no NVIDIA driver is installed here: install it (the stub is no driver)")
    evidence: dict[str, object] = {"LD_LIBRARY_PATH": ld_path} if ld_path else {}
    evidence.update(evidence_of(hits))
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title="CUDA loaded the toolkit's stub libcuda.so instead of the NVIDIA driver's",
        detail="The CUDA toolkit ships a libcuda.so in lib64/stubs for linking only: every call into it fails with "
        '"CUDA driver is a stub library" (error 34), so CUDA finds no driver and torch.cuda.is_available() is '
        "False. It is loaded when its directory comes before the driver's libcuda.so.1 on the loader's path.",
        evidence=evidence,
        fix=tuple(fix),
    )


register(
    Check(
        name="libs-shadowed",
        codes=(CODE,),
        summary="a CUDA library (cuDNN, cuBLAS, NCCL, ...) loaded from outside torch's own copy (LD_LIBRARY_PATH, system)",
        layer=Layer.LIBRARIES,
        run=torch_loads_its_own_libraries,
        explains=("cuda.init-failed",),
    )
)
