"""shm.too-small: /dev/shm is too small for DataLoader worker processes."""

from __future__ import annotations

from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "shm.too-small"
# DataLoader workers pass every batch through /dev/shm. Docker's default is 64 MiB; DeepSpeed's
# ds_report warns below 512 MB, which one batch of images at fp32 can already exceed.
MINIMUM_BYTES = 512 << 20
SUGGESTED = "16g"


# signatures.toml: NCCL's own shared-memory failure (proof), and ncclSystemError in a container (a suspicion)
_NCCL_SHM = "nccl.shm-segment-failed"
_NCCL_IN_CONTAINER = "nccl.system-error-in-container"
_NCCL_TRANSPORT = "nccl.transport-failed"  # the code of NCCL's network-transport signatures


def _is_failure(hit: SignatureHit) -> bool:
    """A worker that died, or NCCL failing its /dev/shm segment, proves shm too small; NGC's "SHMEM allocation
    limit" banner only warns, and so does an NCCL system error that only happened in a container."""
    return "allocation limit" not in hit.excerpt.lower() and hit.id != _NCCL_IN_CONTAINER


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def _network_call_named(facts: Facts) -> bool:
    """NCCL's WARN lines name a failing call of its network transports (ibv_*, socket calls): that call, not
    /dev/shm, is what its ncclSystemError stands for (src/misc/ibvwrap.cc, src/include/checks.h SYSCHECK)."""
    return bool(hits_for(facts, _NCCL_TRANSPORT))


def _shm_suspect(facts: Facts) -> bool:
    """NCCL's system error in a container still points at /dev/shm: NCCL names no failing network call (or a shm one,
    nccl.shm-segment-failed), the container has its own /dev/shm (no --ipc=host) not shown to be large enough, and the
    job is not one over several machines in containers off the host's network, whose ranks cannot connect at all
    before NCCL sets up shared memory (its bootstrap comes first: nccl_transport_failed.py reads that)."""
    system = facts.system
    if _network_call_named(facts) or system.container_ipc == "host":
        return False
    if system.shm_total_bytes is not None and system.shm_total_bytes >= MINIMUM_BYTES:
        return False
    return not (system.multi_node and system.container_network != "host")


def shm_fits_dataloader_workers(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """On Linux, /dev/shm must hold at least 512 MiB (a "Bus error" in a worker proves it too small)."""
    hits = hits_for(facts, CODE)
    if any(h.id == _NCCL_IN_CONTAINER for h in hits) and not _shm_suspect(facts):
        hits = [h for h in hits if h.id != _NCCL_IN_CONTAINER]
    total = facts.system.shm_total_bytes
    if (facts.system.os or "linux").lower() != "linux":
        return []
    small = total is not None and total < MINIMUM_BYTES
    if not small and not hits:
        return []
    runtime = facts.system.container
    if runtime in ("docker", "podman") or (runtime is None and hits and facts.origin == "report"):
        tool = runtime or "docker"
        fix: tuple[str, ...] = (
            f"{tool} run --shm-size={SUGGESTED} <image> ...   # or --ipc=host to share the host's /dev/shm",
        )
    elif runtime == "kubernetes":
        fix = ("Mount an emptyDir with medium: Memory (sizeLimit: 16Gi) at /dev/shm in the pod spec",)
    elif runtime:
        fix = (f"Give the {runtime} container a larger /dev/shm (e.g. {SUGGESTED})",)
    else:
        fix = (f"sudo mount -o remount,size={SUGGESTED.upper()} /dev/shm",)
    evidence: dict[str, object] = {}
    if total is not None:
        evidence["/dev/shm size"] = _mib(total)
        evidence["needs at least"] = _mib(MINIMUM_BYTES)
    if runtime:
        evidence["container"] = runtime
    evidence.update(evidence_of(hits))
    nccl = {h.id for h in hits} & {_NCCL_SHM, _NCCL_IN_CONTAINER}
    if nccl:
        fix = (*fix, "export NCCL_DEBUG=INFO   # run again: NCCL names the system call that failed (shm, socket)")
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR if any(_is_failure(h) for h in hits) else Severity.WARNING,
            title=_title(total, nccl),
            detail="NCCL's shared-memory transport puts its buffers for the GPUs of one machine in /dev/shm; a "
            'container\'s default 64 MiB is too small for them and NCCL fails with "unhandled system error".'
            if nccl
            else "DataLoader workers hand batches to the main process through shared memory; when it fills, "
            'workers die with "Bus error" or "unable to write to file </torch_...>".',
            evidence=evidence,
            fix=fix,
        )
    ]


def _title(total: int | None, nccl: set[str]) -> str:
    if total is not None:
        return f"/dev/shm is only {_mib(total)}"
    if _NCCL_SHM in nccl:
        return "/dev/shm ran out: NCCL could not create its shared-memory buffers"
    if nccl:
        return "NCCL failed a system call inside a container: its /dev/shm is the usual cause"
    return "/dev/shm ran out (Bus error in a DataLoader worker)"


register(
    Check(
        name="shm-too-small",
        codes=(CODE,),
        summary="/dev/shm smaller than 512 MiB (Docker's default 64 MiB) for DataLoader workers",
        layer=Layer.RUNTIME,
        run=shm_fits_dataloader_workers,
    )
)
