"""driver.forward-compat-unsupported: forward-compatibility libraries on a GPU that does not support them (Error 804)."""

from __future__ import annotations

import os

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks import fixes
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "driver.forward-compat-unsupported"
_MARKERS = (
    "forward compatibility was attempted on non supported hw",
    "error 804",
    "cudaerrorcompatnotsupportedondevice",
)
# Forward compatibility is for data-centre GPUs; consumer and workstation boards reject it.
_CONSUMER = ("geforce", "titan", "quadro", "rtx a", "rtx pro")
_COMPAT_803 = "driver.compat-libcuda-803"  # error 803 in a report that names cuda-compat (signatures.toml)


def _said_804(facts: Facts) -> list[str]:
    texts = [facts.torch.cuda_init_error or "", facts.torch.import_error or "", *facts.torch.warnings]
    return [t for t in texts if any(m in t.lower() for m in _MARKERS)]


def compat_libraries_on_unsupported_gpu(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """Error 804 seen, or libcuda loaded from a cuda-compat directory on a consumer GPU."""
    hits = hits_for(facts, CODE)
    said = _said_804(facts)
    compat = [lib.path for lib in facts.torch.loaded_libs if lib.name.startswith("libcuda.so") and "compat" in lib.path]
    consumer = [g.label for g in queries.gpus(facts) if any(word in (g.name or "").lower() for word in _CONSUMER)]
    if not (said or hits or (compat and consumer)):
        return []
    evidence: dict[str, object] = {}
    if said:
        evidence["CUDA"] = said[0].strip()
    if compat:
        evidence["libcuda loaded from"] = compat[0]
    if consumer:
        evidence["GPU"] = ", ".join(consumer)
    evidence.update(evidence_of(hits))
    fix: list[str] = []
    without_compat = queries.library_path_without(facts, lambda p: "compat" in p)
    if without_compat:
        fix.append(without_compat)
    for path in compat:
        parent = os.path.dirname(
            os.path.dirname(path)
        )  # /usr/local/cuda-12.4/compat/libcuda.so.1 -> /usr/local/cuda-12.4
        version = os.path.basename(parent).removeprefix("cuda-")
        if queries.is_debian_like(facts) and knowledge.minor_of(version):
            fix.append(f"sudo apt-get remove -y cuda-compat-{version.replace('.', '-')}")
    cuda = queries.torch_cuda(facts)
    need = knowledge.min_driver(cuda, windows=queries.uses_windows_driver(facts)) if cuda else None
    if cuda and need is not None:
        fix.append(f"# the lasting fix: a driver that supports CUDA {cuda} natively, no compat libraries needed:")
        fix += fixes.driver_install(facts, need, fixes.driver_branch(cuda, ccs=queries.capabilities(facts)))
    if not fix:
        fix.append(
            "Remove the cuda-compat libraries from the library path (LD_LIBRARY_PATH, /etc/ld.so.conf.d) and upgrade the driver"
        )
    detail = (
        "The cuda-compat package lets a data-centre GPU run a newer CUDA than its driver; consumer GPUs "
        'reject it with "forward compatibility was attempted on non supported HW" and CUDA cannot '
        "initialise. Use the system driver's own libcuda, upgraded far enough for torch's CUDA."
    )
    if not (said or compat) and hits and all(hit.id == _COMPAT_803 for hit in hits):
        # error 803: the compat libcuda and the loaded kernel module come from different driver releases
        detail = (
            "The cuda-compat package is libcuda from another driver release (cuda-compat-12-8 is driver 570's): "
            "with it on the loader's path, CUDA's driver and the display driver differ, which CUDA reports as error "
            "803. Forward compatibility is supported only on data-centre GPUs, select NGC Server Ready RTX boards "
            "and Jetson; elsewhere use the system driver's own libcuda."
        )
        title = (
            "CUDA forward-compatibility libraries (cuda-compat) are in use on a GPU that does not support them (error 803)"
            if consumer
            else "CUDA's forward-compatibility libcuda (cuda-compat) does not fit the installed driver (error 803)"
        )
    else:
        title = "CUDA forward-compatibility libraries are in use on a GPU that does not support them (Error 804)"
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=title,
            detail=detail,
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="driver-forward-compat",
        codes=(CODE,),
        summary="Error 804: cuda-compat forward-compatibility libraries used on a GPU that does not support them",
        layer=Layer.DRIVER,
        run=compat_libraries_on_unsupported_gpu,
        explains=("cuda.init-failed",),
    )
)
