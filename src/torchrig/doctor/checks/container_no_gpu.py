"""container.no-gpu: a container that should reach a GPU was started without one."""

from __future__ import annotations

import re

from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for, signature_codes
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "container.no-gpu"

_DOCKER = (
    "sudo apt-get install -y nvidia-container-toolkit && sudo nvidia-ctk runtime configure --runtime=docker "
    "&& sudo systemctl restart docker   # once, on the host",
    "docker run --gpus all --ipc=host <image> ...   # start the container with GPU access",
)
_FIXES = {
    "docker": _DOCKER,
    "podman": (
        "sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml   # once, on the host",
        "podman run --device nvidia.com/gpu=all --ipc=host <image> ...",
    ),
    "kubernetes": (
        "Request the GPU in the pod spec: resources: {limits: {nvidia.com/gpu: 1}} "
        "(needs the NVIDIA device plugin or GPU Operator on the cluster)",
        "# where the node's default container runtime is not nvidia (k0s, k3s, containerd as installed): "
        "runtimeClassName: nvidia in the pod spec (GPU Operator docs)",
    ),
}


# The runtime unknown (a report that only says "container" or "pod"): Docker's way and Kubernetes' way, where
# the pod must request the GPU as a resource limit (NVIDIA device plugin README: `nvidia.com/gpu` under
# `resources.limits`; a pod without it gets no GPU even on a GPU node).
_UNKNOWN_RUNTIME = (*_DOCKER, *_FIXES["kubernetes"])


def _wants_gpu(facts: Facts) -> tuple[str | None, bool]:
    """Why this container looks meant for a GPU, and whether that is proof the host has one.

    A container sees the host's PCI bus (sysfs) and its kernel module (/proc/driver/nvidia) even when
    no GPU was passed in: either proves the host has an NVIDIA GPU. A CUDA image or a CUDA torch only
    says the container was built for one; on a host without a GPU that is expected.
    """
    if queries.nvidia_gpus_on_bus(facts):
        return "an NVIDIA GPU is on the host's PCI bus", True
    if facts.driver.kernel_module:
        return f"the host's NVIDIA kernel module {facts.driver.kernel_module} is loaded", True
    stated = [gpu.name for gpu in facts.gpus.devices if gpu.source == "stated" and gpu.name]
    if stated:
        return f"the report states the machine has {', '.join(dict.fromkeys(stated))}", True
    visible = queries.env(facts, "NVIDIA_VISIBLE_DEVICES")
    if visible and visible.lower() not in ("void", "none", ""):
        return f"NVIDIA_VISIBLE_DEVICES={visible} (a CUDA image)", False
    if queries.torch_cuda(facts):
        return f"torch {facts.torch.version} is a CUDA build", False
    return None, False


_WHAT = {
    "docker": "Docker container",
    "podman": "Podman container",
    "kubernetes": "Kubernetes pod",
    "lxc": "LXC container",
}


# signatures.toml: Docker named in words, torch without CUDA, no GPU request in sight; the host may have no GPU
_SAID = "container.docker-said-cuda-unavailable"
# signatures.toml: no nvidia-smi in a container or pod (the toolkit mounts it with the GPU); the host may have no GPU
_SMI_MISSING = "container.nvidia-smi-not-injected"
_HINTS = frozenset({_SAID, _SMI_MISSING})  # alone, a warning: only the host's GPU shown makes them an error
# Docker's Compose GPU support page: a service gets a GPU only through a device reservation with the gpu capability
_COMPOSE = (
    "# with Docker Compose, give the service the GPU (Docker docs, 'GPU support in Docker Compose'):",
    "#   deploy: {resources: {reservations: {devices: [{driver: nvidia, count: all, capabilities: [gpu]}]}}}",
)
_NO_COMPUTE = "driver.container-without-compute-capability"  # signatures.toml: utility without compute
_LOST = "container.nvml-unknown-error"  # signatures.toml: a running container's device access was revoked
# onnxruntime's "cudaGetDeviceCount() failed" (signatures.toml) follows CUDA_CALL's own log of the error, so a report
# may say why the count failed: the driver's own failures (error 35 "CUDA driver version is insufficient", 803, a
# driver/library mismatch, no libcuda) are not a container started without GPUs.
_ORT_COUNT = "container.ort-cuda-device-count"
_DRIVER_CODES = frozenset(
    {
        "driver.too-old",
        "driver.version-mismatch",
        "driver.missing",
        "driver.forward-compat-unsupported",
        "driver.fabric-manager-down",
    }
)


def container_without_gpu(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """Inside a container, no NVIDIA device node and no GPU, while the container is meant for one."""
    hits = hits_for(facts, CODE)
    if any(hit.id == _NO_COMPUTE for hit in facts.signatures):
        return []  # the GPU was handed in (nvidia-smi works there); libcuda was not: driver.missing says so
    if any(signature_codes().get(hit.id) in _DRIVER_CODES for hit in facts.signatures):
        hits = [hit for hit in hits if hit.id != _ORT_COUNT]
    lost = [hit for hit in hits if hit.id == _LOST]
    if lost:
        return [_lost_access(facts, lost)]
    runtime = facts.system.container
    device_nodes = [n for n in facts.system.dev_nodes if re.fullmatch(r"/dev/(nvidia\d+|dxg)", n)]
    # a GPU the reporter names is on the machine, not proof the container sees it (nvidia-smi's listing is)
    # a container the reporter mentions (kubectl output, "in Docker") is where the work runs, not proof the
    # report was taken inside it: only a failure (a signature) says its GPU is missing then
    inside = runtime is not None and facts.system.sources.get("container") != "stated"
    if queries.gpus_seen(facts) or device_nodes or not (inside or hits):
        return []
    reason, host_has_gpu = _wants_gpu(facts)
    if reason is None and not hits:
        return []
    # Docker on a Mac runs containers in a Linux VM that no NVIDIA GPU reaches (Docker's GPU support is for Linux
    # and WSL 2 hosts with NVIDIA GPUs: docs "GPU support in Docker Desktop"): nothing to hand in, nothing broken
    on_mac = (facts.system.os or "").lower() == "darwin"
    strong = not on_mac and (host_has_gpu or any(hit.id not in _HINTS for hit in hits))
    evidence: dict[str, object] = {
        "container": runtime or "(from the report)",
        "device nodes": "none of /dev/nvidia0.. or /dev/dxg",
    }
    if reason:
        evidence["meant for a GPU because"] = reason
    evidence.update(evidence_of(hits))
    detail = (
        "No NVIDIA device is passed into the container, so CUDA sees no GPU and torch.cuda.is_available() "
        "is False. The driver lives on the host; the container runtime must hand the GPU in."
    )
    if on_mac:
        detail += (
            " The host is a Mac: Docker runs containers there in a Linux VM that no GPU reaches, so --gpus cannot work; "
            "run the container without it (on the CPU), or the program natively on macOS (MPS)."
        )
    elif not strong:
        detail += " If the host has no NVIDIA GPU (a CPU-only CI runner, say), this is expected and harmless."
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR if strong else Severity.WARNING,
            title=f"This {_WHAT.get(runtime or '', 'container')} was started without GPU access",
            detail=detail,
            evidence=evidence,
            fix=_MAC if on_mac else _fix(runtime, hits),
        )
    ]


_MAC = (
    "docker run <image> ...   # without --gpus: a Mac has no NVIDIA GPU to hand in (the program runs on the CPU)",
    "# or run the program natively on macOS, where torch uses the GPU through MPS (device='mps')",
)


def _fix(runtime: str | None, hits: list[SignatureHit]) -> tuple[str, ...]:
    """The runtime's way to hand a GPU in; where only words named Docker, its `run` flag and Compose's reservation."""
    if runtime is None and any(hit.id == _SAID for hit in hits):
        return (*_DOCKER, *_COMPOSE)
    return _FIXES.get(runtime or "", _UNKNOWN_RUNTIME)


def _lost_access(facts: Facts, hits: list[SignatureHit]) -> Finding:
    """NVML in a container answers "Unknown Error": the GPUs were handed in, then their cgroup access was dropped.

    NVIDIA's notice (NVIDIA/nvidia-docker#1730): with systemd managing the container's cgroups, a
    `systemctl daemon-reload` on the host (package upgrades run one) removes the device rules runc set, and a
    running container loses its GPUs. Recreating the container restores them; NVIDIA's workarounds are the
    /dev/char symlinks (`nvidia-ctk system create-dev-char-symlinks`) or the cgroupfs cgroup driver.
    """
    runtime = facts.system.container
    evidence: dict[str, object] = {"container": runtime or "(from the report)"}
    evidence.update(evidence_of(hits))
    restart = (
        "kubectl delete pod <pod>   # its controller recreates it with the GPUs"
        if runtime == "kubernetes"
        else "docker restart <container>   # or recreate it: a new container gets the GPUs again"
    )
    return Finding(
        code=CODE,
        severity=Severity.ERROR,
        title=f"This {_WHAT.get(runtime or '', 'container')} cannot open the GPUs it was given (NVML: Unknown Error)",
        detail="The GPUs were handed in, but the container may not open them. The documented cause: where systemd manages the "
        "container's cgroups, a `systemctl daemon-reload` on the host (a package upgrade runs one) drops the device "
        'rules the container runtime set up. NVML then fails with "Unknown Error" and CUDA sees no GPU, although '
        "the host's nvidia-smi works.",
        evidence=evidence,
        fix=(
            restart,
            "sudo nvidia-ctk system create-dev-char-symlinks --create-all   # on the host, so it does not recur "
            "(NVIDIA's workaround; or set docker's exec-opts native.cgroupdriver=cgroupfs)",
        ),
    )


register(
    Check(
        name="container-no-gpu",
        codes=(CODE,),
        summary="a container meant for a GPU (the host's GPU on the bus, a CUDA image, a CUDA torch) has no NVIDIA device passed in",
        layer=Layer.ACCESS,
        run=container_without_gpu,
        explains=("driver.missing", "cuda.init-failed", "cuda.visible-devices"),
    )
)
