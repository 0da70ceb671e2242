"""cuda.visible-devices: CUDA_VISIBLE_DEVICES hides every GPU, or holds an entry CUDA cannot use.

CUDA reads the variable as a comma-separated list of device indices, GPU UUIDs (``GPU-8932f937-...``,
a unique prefix suffices) or MIG instances (``MIG-<uuid>``, or ``MIG-GPU-<uuid>/<gi>/<ci>`` on drivers
before R470). At the first entry it cannot use it stops: that device and every one after it are hidden
(CUDA C Programming Guide, "CUDA Environment Variables"). ``-1``, ``""`` and Slurm's ``NoDevFiles``
therefore hide everything.

Two readings of a report follow from the same section of the guide. Indices count from 0 over the GPUs CUDA
sees, so where torch answered that CUDA is unavailable while the variable names only indices from 1 up, a
one-GPU machine has nothing left to show. And CUDA numbers the GPUs by CUDA_DEVICE_ORDER, FASTEST_FIRST by
default, while nvidia-smi and NVML tools (nvtop) number them by PCI bus ID: on a machine with different GPU
models an index taken from nvidia-smi can select another GPU, which inside the process is then cuda:0 (the
mask renumbers from 0). CUDA_DEVICE_ORDER=PCI_BUS_ID makes both numberings agree.
"""

from __future__ import annotations

import dataclasses
import re

from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "cuda.visible-devices"
_UUID = r"GPU-[0-9a-fA-F-]+"
_MIG = rf"MIG-(?:{_UUID}/\d+/\d+|[0-9a-fA-F-]+)"


def _why_unusable(entry: str, count: int | None, uuids: list[str]) -> str | None:
    """Why CUDA cannot use one entry, or None if it can."""
    if re.fullmatch(r"\d+", entry):
        if count is not None and int(entry) >= count:
            return f"there is no GPU {entry} (this machine has {count})"
        return None
    if re.fullmatch(_UUID, entry):
        if uuids and not any(u.lower().startswith(entry.lower()) for u in uuids):
            return f"no GPU here has the UUID {entry}"
        return None
    if re.fullmatch(_MIG, entry):
        return None
    if entry == "":
        return "it is empty"
    return f"{entry!r} is neither a device index, a GPU UUID nor a MIG instance"


def visible_devices_usable(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """CUDA_VISIBLE_DEVICES, where set on a machine with an NVIDIA GPU, must name at least one usable device."""
    return [_in_program(f, queries.set_in_program(facts, "CUDA_VISIBLE_DEVICES")) for f in _findings(facts)]


def _findings(facts: Facts) -> list[Finding]:
    value = queries.env(facts, "CUDA_VISIBLE_DEVICES")
    hits = hits_for(facts, CODE)
    if value is None:
        return [_no_gpu_visible(hits, queries.has_nvidia_gpu(facts))] if hits else []
    if not queries.has_nvidia_gpu(facts):
        # A report that shows the variable and CUDA finding no GPU: the variable hid them.
        if hits:
            return [_hidden_by(value, hits)]
        if _answered_unavailable(facts) and _from_one_up(value) and queries.build_kind(facts) != "CPU build":
            return [_may_hide_the_only_gpu(value, facts)]
        return _another_gpu_than_meant(facts, value)
    count = len(facts.gpus.devices) or None
    uuids = [g.uuid for g in facts.gpus.devices if g.uuid]
    entries = [e.strip() for e in value.split(",")]
    usable: list[str] = []
    problem = None
    for entry in entries:
        problem = _why_unusable(entry, count, uuids)
        if problem:
            break
        usable.append(entry)
    if problem is None:
        return _another_gpu_than_meant(facts, value)
    everything = "0" if count is None else ",".join(str(i) for i in range(count))
    evidence = {"CUDA_VISIBLE_DEVICES": value, "GPUs on this machine": count if count is not None else "unknown"}
    if not usable:
        return [
            Finding(
                code=CODE,
                severity=Severity.ERROR,
                title=f"CUDA_VISIBLE_DEVICES={value!r} hides every GPU",
                detail=f"CUDA stops at the first entry it cannot use ({problem}), so it sees no device and "
                "torch.cuda.is_available() is False.",
                evidence=evidence,
                fix=(
                    "unset CUDA_VISIBLE_DEVICES",
                    f"# or name the GPUs to use: export CUDA_VISIBLE_DEVICES={everything}",
                ),
            )
        ]
    return [
        Finding(
            code=CODE,
            severity=Severity.WARNING,
            title=f"CUDA_VISIBLE_DEVICES={value!r} hides GPUs after {usable[-1]}",
            detail=f"CUDA stops at the first entry it cannot use ({problem}): only {','.join(usable)} are visible.",
            evidence=evidence,
            fix=(f"export CUDA_VISIBLE_DEVICES={','.join(usable)}", "# or unset CUDA_VISIBLE_DEVICES to use every GPU"),
        )
    ]


_AVAILABLE_FALSE = "torch.cuda-available-false"  # signatures.toml: torch answered that CUDA is unavailable
# torch's out-of-memory message names the device the process used and its size: "(GPU 0; 23.70 GiB total
# capacity; ..." (torch 1.x-2.0), "GPU 0 has a total capacity of 23.69 GiB of which ..." (2.1+).
_OOM = re.compile(
    r"CUDA out of memory.*?(?:\(GPU (?P<old>\d+); (?P<old_size>[\d.]+ [GM]iB) total capacity"
    r"|GPU (?P<new>\d+) has a total capac\w* of (?P<new_size>[\d.]+ [GM]iB))"
)


def _answered_unavailable(facts: Facts) -> bool:
    return facts.torch.cuda_available is False or any(hit.id == _AVAILABLE_FALSE for hit in facts.signatures)


def _from_one_up(value: str) -> bool:
    """Every entry is a device index and none is 0: on a machine with one GPU, nothing is left."""
    entries = [e.strip() for e in value.split(",")]
    return all(re.fullmatch(r"\d+", e) for e in entries) and "0" not in {str(int(e)) for e in entries}


def _may_hide_the_only_gpu(value: str, facts: Facts) -> Finding:
    first = min(int(e) for e in value.split(","))
    # the answer quoted is the failure this finding explains (torch's "answered False", as the report gives it)
    answer = [hit for hit in facts.signatures if hit.id == _AVAILABLE_FALSE]
    return Finding(
        code=CODE,
        severity=Severity.WARNING,
        title=f"CUDA_VISIBLE_DEVICES={value!r} hides the GPU unless the machine has more than {first}",
        detail=f"torch found CUDA unavailable while CUDA_VISIBLE_DEVICES named only GPU {value}. CUDA counts GPUs "
        f"from 0, so GPU {first} exists only on a machine with {first + 1} or more; on a one-GPU machine the "
        "variable leaves CUDA no device at all.",
        evidence={
            "CUDA_VISIBLE_DEVICES": value,
            "torch": "CUDA unavailable",
            **({"failure": "torch.cuda.is_available() answered False"} if answer else {}),
            **evidence_of(answer),
        },
        fix=(
            "nvidia-smi -L   # how many GPUs there are: indices count from 0",
            "export CUDA_VISIBLE_DEVICES=0   # on a one-GPU machine (or unset it)",
        ),
    )


def _another_gpu_than_meant(facts: Facts, value: str) -> list[Finding]:
    """A CUDA out-of-memory error under a mask that picks GPUs by index, with CUDA's default device order."""
    order = queries.env(facts, "CUDA_DEVICE_ORDER")
    entries = [e.strip() for e in value.split(",")]
    if (order or "").upper() == "PCI_BUS_ID" or not all(re.fullmatch(r"\d+", e) for e in entries):
        return []
    if entries == ["0"] or not entries:
        return []
    names = {(g.name or "").strip().lower() for g in facts.gpus.devices}
    if len(facts.gpus.devices) >= 2 and len(names) == 1 and "" not in names:
        return []  # GPUs of one model: both orders pick the same kind of GPU, so the index is not the problem
    oom = next((m for line in facts.failures for m in [_OOM.search(line)] if m), None)
    if oom is None:
        return []
    used = oom.group("old") or oom.group("new")
    size = oom.group("old_size") or oom.group("new_size")
    evidence: dict[str, object] = {
        "CUDA_VISIBLE_DEVICES": value,
        "CUDA_DEVICE_ORDER": order or "unset (FASTEST_FIRST)",
        "out of memory on": f"cuda:{used}, {size} in all",
    }
    return [
        Finding(
            code=CODE,
            severity=Severity.WARNING,
            title=f"CUDA_VISIBLE_DEVICES={value} counts GPUs in CUDA's order, which need not be nvidia-smi's",
            detail="CUDA numbers GPUs fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID; nvidia-smi and nvtop number "
            "them by PCI bus. On a machine with different GPU models the index can select another GPU than the one "
            f"nvidia-smi shows under it, and inside the process the selected GPU is cuda:0. The program ran out of "
            f"memory on a GPU of {size}: if that is not the GPU meant, the index picked the wrong one.",
            evidence=evidence,
            fix=(
                f"export CUDA_DEVICE_ORDER=PCI_BUS_ID   # then CUDA_VISIBLE_DEVICES={value} means nvidia-smi's GPU {value}",
                "nvidia-smi -L   # or select by UUID: CUDA_VISIBLE_DEVICES=GPU-<uuid> names one GPU whatever the order",
            ),
        )
    ]


def _in_program(finding: Finding, line: str | None) -> Finding:
    """Where the program's own code sets the variable, the fix is in that code: a shell `unset` would not undo it."""
    if line is None:
        return finding
    shell = [step for step in finding.fix if re.search(r"\b(?:unset|export) CUDA_VISIBLE_DEVICES\b", step)]
    values = [m.group(1) for step in shell for m in [re.search(r"export CUDA_VISIBLE_DEVICES=(\S+)", step)] if m]
    instead = f', or make it name GPUs that exist: os.environ["CUDA_VISIBLE_DEVICES"] = "{values[0]}"' if values else ""
    return dataclasses.replace(
        finding,
        evidence={**finding.evidence, "set by the program": line},
        fix=(
            f"The program sets it itself ({line.strip()}): remove that line to use every GPU{instead}. "
            "A shell `unset` or `export` would not change what the program sets.",
            *(step for step in finding.fix if step not in shell),
        ),
    )


def _hidden_by(value: str, hits: list[SignatureHit]) -> Finding:
    """A log says CUDA saw no GPU while CUDA_VISIBLE_DEVICES was set: the variable named no GPU that exists."""
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=f"CUDA_VISIBLE_DEVICES={value!r} hides every GPU",
        detail="CUDA found no device while CUDA_VISIBLE_DEVICES was set, so the value names no GPU that exists "
        "(indices count from 0: on a one-GPU machine only 0 is valid).",
        evidence={"CUDA_VISIBLE_DEVICES": value, **evidence_of(hits)},
        fix=("unset CUDA_VISIBLE_DEVICES", "# or name a GPU that exists: export CUDA_VISIBLE_DEVICES=0"),
    )


def _no_gpu_visible(hits: list[SignatureHit], gpu_shown: bool) -> Finding:
    """A log says CUDA saw no GPU ("No CUDA GPUs are available") and the facts do not say why.

    An error where the report shows an NVIDIA GPU (something hides it); otherwise a warning that first asks whether
    there is one: torch says the same on every machine without an NVIDIA GPU, where nothing is broken.
    """
    detail = (
        "torch found no CUDA device. Where the machine has GPUs, CUDA_VISIBLE_DEVICES set to '', '-1' or a wrong index "
        "or UUID hides them; inside a container, the GPU may not be passed in."
    )
    fix = (
        'echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"   # see what it hides',
        "unset CUDA_VISIBLE_DEVICES",
        "nvidia-smi -L   # the GPUs and UUIDs the driver sees",
    )
    if gpu_shown:
        return Finding(
            code=CODE,
            severity=Severity.ERROR,
            title="CUDA sees no GPU (CUDA_VISIBLE_DEVICES may hide them)",
            detail=detail,
            evidence=evidence_of(hits),
            fix=fix,
        )
    return Finding(
        code=CODE,
        severity=Severity.WARNING,
        title="CUDA sees no GPU, and the report shows none: expected without one; with one, CUDA_VISIBLE_DEVICES may hide it",
        detail=detail + " The report shows no NVIDIA GPU: on a machine without one this message is expected, and the "
        "program must run on the CPU (device='cpu').",
        evidence=evidence_of(hits),
        fix=("nvidia-smi -L   # the GPUs and UUIDs the driver sees (none: run on the CPU)", *fix[:2]),
    )


register(
    Check(
        name="cuda-visible-devices",
        codes=(CODE,),
        summary="CUDA_VISIBLE_DEVICES hides every GPU or holds a malformed or out-of-range entry (UUIDs and MIG are valid)",
        layer=Layer.CUDA_INIT,
        run=visible_devices_usable,
        explains=("cuda.init-failed",),
    )
)
