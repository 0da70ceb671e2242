"""driver.fabric-manager-down: an NVSwitch system whose Fabric Manager is not running (CUDA error 802)."""

from __future__ import annotations

import re
import shlex

from torchrig import knowledge
from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "driver.fabric-manager-down"
# cudaErrorSystemNotReady (802): "the system is not yet ready to start any CUDA work ... verify that all
# required driver daemons are actively running" (CUDA Runtime API, enum cudaError). On HGX/DGX machines
# that daemon is nvidia-fabricmanager, which must run, at exactly the driver's version, before CUDA can
# use GPUs connected through NVSwitch (NVIDIA Fabric Manager User Guide).
_MARKERS = ("error 802", "system not yet initialized", "cudaerrorsystemnotready", "fabric manager", "fabricmanager")
NOT_READY = "cuda.system-not-initialized"  # signatures.toml: error 802 in any of its wordings


# signatures.toml: Fabric Manager's own refusal, "... driver interface version %s don't match with driver version %s"
_VERSION_SKEW = "driver.fabric-manager-version"
_SKEW = re.compile(r"interface version (?P<fm>[\d.]+) .{0,12}?match with driver version (?P<driver>\d+(?:\.\d+)*)")


def fabric_manager_runs(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """On an NVSwitch machine, CUDA must not fail with 802: Fabric Manager runs at the driver's version."""
    hits = hits_for(facts, CODE)
    said = [
        t for t in (facts.torch.cuda_init_error or "", *facts.torch.warnings) if any(m in t.lower() for m in _MARKERS)
    ]
    if not said and any(hit.id == NOT_READY for hit in facts.signatures):
        said = [facts.torch.cuda_init_error or next(h.excerpt for h in facts.signatures if h.id == NOT_READY)]
    if not (hits or said):
        return []
    driver = queries.driver_version(facts)
    evidence: dict[str, object] = {}
    if said:
        evidence["CUDA"] = said[0].strip()
    if driver:
        evidence["driver"] = driver
    gpus = [g.label for g in queries.gpus(facts)]
    if gpus:
        evidence["GPUs"] = ", ".join(gpus[:4]) + (f" (+{len(gpus) - 4})" if len(gpus) > 4 else "")
    evidence.update(evidence_of(hits))
    fix = [
        "systemctl status nvidia-fabricmanager   # is it installed, running, and did it log a version mismatch?",
        "sudo systemctl enable --now nvidia-fabricmanager",
    ]
    version = knowledge.parse_version(driver)
    if version is not None and queries.is_debian_like(facts):
        # the package must match the driver exactly, or the service refuses to start
        package = f"nvidia-fabricmanager-{version.major}={driver}-1"
        fix.insert(1, f"sudo apt-get install -y {shlex.quote(package)}   # exactly the driver's version")
    elif version is not None:
        fix.insert(1, f"# install nvidia-fabricmanager {driver}: it must be exactly the driver's version")
    if facts.system.container == "kubernetes":
        fix.append("# under the GPU Operator, the driver pod runs Fabric Manager: check its logs on this node")
    fix.append(
        "# then run the job again; CUDA waits for the fabric to be trained (about a minute after the service starts)"
    )
    skew = next((m for h in hits if h.id == _VERSION_SKEW for m in [_SKEW.search(h.excerpt)] if m), None)
    if skew is not None:
        fm, drv = skew.group("fm"), skew.group("driver")
        fix.insert(0, f"# Fabric Manager {fm} refuses to run next to driver {drv}: install one at the other's version")
        title = f"Fabric Manager {fm} does not match driver {drv}, so it refuses to start and NVSwitch is not set up"
    else:
        title = "CUDA is not ready on this NVSwitch machine (error 802): Fabric Manager is not running"
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title=title,
            detail=(
                "On HGX/DGX machines the GPUs talk through NVSwitch, which NVIDIA Fabric Manager sets up. Until it "
                'runs, at exactly the driver\'s version, every CUDA program fails with "system not yet initialized".'
            ),
            evidence=evidence,
            fix=tuple(fix),
        )
    ]


register(
    Check(
        name="driver-fabric-manager",
        codes=(CODE,),
        summary="CUDA error 802 (system not yet initialized): NVSwitch Fabric Manager not running or at another version",
        layer=Layer.DRIVER,
        run=fabric_manager_runs,
        explains=("cuda.init-failed", "nccl.transport-failed"),
    )
)
