"""rocm.device-access: a ROCm process cannot open the AMD GPU (/dev/kfd, /dev/dri).

The device nodes belong to the ``render`` and ``video`` groups, and a container sees them only when they
are passed in. Sources: the ROCm install guide (usermod -a -G render,video) and "Running ROCm Docker
containers" (--device=/dev/kfd --device=/dev/dri --group-add video).
"""

from __future__ import annotations

from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

ACCESS = "rocm.device-access"
_ROOT_ONLY_MODE = "rocm.kfd-root-only-mode"  # signatures.toml: `ls -l` shows crw------- for /dev/kfd


def rocm_device_is_reachable(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """The process can open /dev/kfd and /dev/dri (render/video groups; passed into a container)."""
    hits = hits_for(facts, ACCESS)
    if not hits:
        return []
    fix: tuple[str, ...]
    if facts.system.container in ("docker", "podman") or "docker" in " ".join(h.excerpt for h in hits).lower():
        fix = (
            "docker run --device=/dev/kfd --device=/dev/dri --group-add video --group-add render <image> ...",
            "# Kubernetes: request amd.com/gpu from the AMD device plugin",
        )
    elif any(h.id == _ROOT_ONLY_MODE for h in hits):
        # no group may open the node: joining one does not help until udev gives it a group (ROCT README)
        fix = (
            'echo \'KERNEL=="kfd", MODE="0660", GROUP="render"\' | sudo tee /etc/udev/rules.d/70-kfd.rules',
            "sudo udevadm control --reload-rules && sudo udevadm trigger   # or reboot",
            "sudo usermod -a -G render,video $USER   # then log out and in again",
        )
    else:
        fix = (
            "sudo usermod -a -G render,video $USER",
            "# then log out and in again (or reboot): group membership is read at login",
        )
    return [
        Finding(
            code=ACCESS,
            severity=Severity.ERROR,
            title="The process cannot open the AMD GPU (/dev/kfd, /dev/dri)",
            detail="ROCm needs read-write access to /dev/kfd and the GPU's /dev/dri/renderD node.",
            evidence=evidence_of(hits),
            fix=fix,
        )
    ]


register(
    Check(
        name="rocm-device-access",
        codes=(ACCESS,),
        summary="a ROCm process cannot open /dev/kfd or /dev/dri (render/video groups, container devices)",
        layer=Layer.ACCESS,
        run=rocm_device_is_reachable,
        explains=("cuda.init-failed", "cuda.visible-devices"),
    )
)
