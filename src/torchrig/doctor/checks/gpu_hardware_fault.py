"""gpu.hardware-fault: the GPU itself failed: fallen off the bus, uncorrectable memory errors, no answer."""

from __future__ import annotations

import re

from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity
from torchrig.knowledge import xid

CODE = "gpu.hardware-fault"
_XID = "gpu.xid"  # the signature of any Xid line; which ones are faults is the catalog's call
_ECC = "gpu.ecc-uncorrectable"  # CUDA's error 214, as the program saw it
_NVLINK = "gpu.nvlink-uncorrectable"  # CUDA's error 220
# Xid 79's words (the Xid catalog: "GPU has fallen off the bus"), in the driver's tense or a reporter's
_OFF_BUS = re.compile(
    r"(?<!\bnot\s)(?<!n't\s)(?<!\bnever\s)\b(?:fallen|falls?|fell|falling)\s+off\s+the\s+(?:PCIe?\s+)?bus\b",
    re.IGNORECASE,
)


def gpu_hardware_answers(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """No Xid the catalog calls a hardware fault, no GPU off the bus, no GPU that NVML cannot reach."""
    hits = hits_for(facts, CODE)
    text = "\n".join([h.excerpt for h in hits] + facts.gpus.errors)
    # An Xid the catalog files under "application" is a program's crash on the GPU, not the GPU's fault,
    # and one it does not list is unknown: neither is evidence of a hardware fault on its own.
    events = [e for e in (xid.event(n) for n in xid.numbers_in(text)) if e is not None and e.kind != "application"]
    off_bus = bool(_OFF_BUS.search(text)) or any(e.number == 79 for e in events)
    unreachable = [e for e in facts.gpus.errors if "unknown error" in e.lower() or "gpu is lost" in e.lower()]
    hits = [h for h in hits if h.id != _XID or events]
    if not (hits or unreachable):
        return []
    evidence: dict[str, object] = {}
    for e in events:
        evidence[f"Xid {e.number}"] = f"{e.meaning} ({e.kind})"
    if unreachable:
        evidence["NVML"] = unreachable[0]
    evidence.update(evidence_of(hits))
    fix: list[str] = []
    if off_bus:
        fix += [
            "sudo reboot   # a GPU that fell off the bus comes back only after a reset of the machine (or the slot)",
            "# if it happens again: check the GPU's power cables and the power supply's headroom, reseat the card,",
            "# watch its temperature (nvidia-smi -q -d TEMPERATURE,POWER), try another slot; then have it serviced",
        ]
    for e in events:
        if e.number != 79:
            fix.append(f"# Xid {e.number}: {e.action}")
    ecc = any(h.id == _ECC for h in hits)
    nvlink = any(h.id == _NVLINK for h in hits)
    if ecc and not events:
        fix += [
            "nvidia-smi -q -d ECC,ROW_REMAPPER,PAGE_RETIREMENT   # which GPU: uncorrectable counts, pending remaps",
            "sudo reboot   # a pending row remap or page retirement takes effect at the GPU's next reset",
            "# if the error comes back after the reset, the GPU's memory is failing: have it serviced",
        ]
    if nvlink:
        fix += [
            "nvidia-smi nvlink -s   # each link's state",
            "nvidia-smi nvlink -e   # each link's error counters: the failing link and GPU",
        ]
    if any(e.number in (48, 63, 64, 92, 94, 95, 140) for e in events):
        fix.append(
            "nvidia-smi -q -d ECC,ROW_REMAPPER,PAGE_RETIREMENT   # pending remaps, uncorrectable counts, failures"
        )
    if not fix:
        fix += [
            "nvidia-smi -q   # which GPU fails, and how (ERR!, Unknown Error, lost)",
            "sudo dmesg | grep -iE 'NVRM|Xid'   # the driver's own account: Xid numbers say what failed",
            "# a GPU that stays unreachable after a reboot needs servicing",
        ]
    title = (
        "A GPU has fallen off the bus"
        if off_bus
        else f"The GPU reported a hardware fault (Xid {', '.join(str(e.number) for e in events)})"
        if events
        else "The GPU's memory had an uncorrectable ECC error"
        if ecc
        else "An NVLink between GPUs had an uncorrectable error"
        if nvlink
        else "The driver cannot reach a GPU (Unknown Error): a hardware or power fault"
    )
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=title,
            detail=(
                "No software fix applies until the GPU answers again: the driver lost it, or its memory reported "
                "errors it could not correct. Everything built on it (CUDA, torch, NCCL) fails as a consequence."
            ),
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="gpu-hardware-fault",
        codes=(CODE,),
        summary="a GPU fell off the bus, reported uncorrectable memory or NVLink errors (Xid 48/63/64/94/95, CUDA 214/220) or cannot be reached",
        layer=Layer.ACCESS,
        run=gpu_hardware_answers,
        explains=("cuda.init-failed", "driver.missing", "nccl.transport-failed", "doctor.unexplained"),
    )
)
