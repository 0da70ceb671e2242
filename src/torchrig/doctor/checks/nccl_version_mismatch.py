"""nccl.version-mismatch: processes (or nodes) load different NCCL libraries.

A system libnccl found before the one torch ships (LD_LIBRARY_PATH, LD_PRELOAD), two nvidia-nccl wheels
in one environment, or nodes with different NCCL builds: told apart by what NCCL and torch printed.
"""

from __future__ import annotations

from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

VERSION = "nccl.version-mismatch"


def nccl_is_one_version(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """Every process (and every node) loads the same NCCL, the one torch was built with."""
    hits = hits_for(facts, VERSION)
    if not hits:
        return []
    evidence: dict[str, object] = {}
    if facts.torch.nccl_version:
        evidence["torch's NCCL"] = facts.torch.nccl_version
    foreign = [
        lib.path
        for lib in facts.torch.loaded_libs
        if lib.name.startswith("libnccl") and "site-packages" not in lib.path
    ]
    if foreign:
        evidence["libnccl loaded from"] = foreign[0]
    evidence.update(evidence_of(hits))
    py = queries.python_command(facts)
    fix = [
        f"{py} -m pip list 2>/dev/null | grep -i nccl   # more than one nvidia-nccl-cu* wheel: uninstall the one torch does not need",
    ]
    if facts.torch.import_ok is not False:  # a torch that cannot be imported cannot say its NCCL
        fix.append(
            f"{py} -c 'import torch; print(torch.cuda.nccl.version())'   # on every node: the numbers must be equal"
        )
    unset = queries.library_path_without(facts, lambda p: "nccl" in p.lower())
    fix.append(unset or "unset LD_PRELOAD   # and drop any system NCCL from LD_LIBRARY_PATH: torch ships its own")
    return [
        Finding(
            code=VERSION,
            severity=Severity.ERROR,
            title="Processes load different NCCL libraries",
            detail=(
                "NCCL's ranks must run the same NCCL build: a system libnccl found before the one torch ships "
                "(LD_LIBRARY_PATH, LD_PRELOAD), two NCCL wheels in one environment, or nodes set up differently "
                "make collectives fail or hang."
            ),
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="nccl-version-mismatch",
        codes=(VERSION,),
        summary="ranks load different NCCL builds (a system libnccl, two nccl wheels, nodes set up differently)",
        layer=Layer.LIBRARIES,
        run=nccl_is_one_version,
        # torch's libtorch_cuda needing an NCCL symbol the libnccl loaded lacks fails `import torch` itself
        explains=("nccl.transport-failed", "torch.import-failed"),
    )
)
