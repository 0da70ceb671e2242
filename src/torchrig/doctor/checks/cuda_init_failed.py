"""cuda.init-failed: CUDA initialisation fails for a reason no earlier check explains, with that error's usual fix."""

from __future__ import annotations

from torchrig.doctor import queries
from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts, SignatureHit
from torchrig.doctor.findings import Finding, Severity

CODE = "cuda.init-failed"

# cudaErrorNoDevice (100; 38 before CUDA 10.1, "cuda runtime error (38)" in torch's THC checks of those years): "no
# CUDA-capable devices were detected" (CUDA Runtime API, enum cudaError). On a machine without an NVIDIA GPU that is
# the expected answer, not a fault: where the report shows no NVIDIA GPU, the finding first asks whether there is one.
_NO_DEVICE = ("no cuda-capable device is detected", "error 100", "cuda_error_no_device", "cudaerrornodevice")

# (text in the error, likely cause, fix). First match wins; the CUDA error number is in brackets.
_KNOWN: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = (
    (
        ("unknown error", "cuda_error_unknown", "error 999"),
        "CUDA_ERROR_UNKNOWN (999; cudaErrorUnknown was 30 before CUDA 10.1) usually means the nvidia_uvm module is wedged, typically after suspend/resume",
        ("sudo modprobe -r nvidia_uvm && sudo modprobe nvidia_uvm", "# if the module is busy: sudo reboot"),
    ),
    (
        (
            "busy or unavailable",
            "error 46",
            "cuda_error_device_unavailable",
            "cudaerrordevicesunavailable",
            "exclusive-thread",
        ),
        "the GPU is in an exclusive compute mode and another process holds it, or it is prohibited",
        ("nvidia-smi --query-gpu=index,compute_mode --format=csv", "sudo nvidia-smi -c DEFAULT"),
    ),
    (
        ("system not yet initialized", "error 802"),
        "on NVSwitch systems (HGX/DGX) the NVIDIA Fabric Manager is not running or does not match the driver",
        (
            "sudo systemctl enable --now nvidia-fabricmanager",
            "systemctl status nvidia-fabricmanager   # its version must equal the driver's",
        ),
    ),
    (
        ("re-initialize cuda in forked subprocess",),
        "CUDA was initialised before a fork; a forked child cannot use it",
        ("Start worker processes with the spawn method: torch.multiprocessing.set_start_method('spawn')",),
    ),
    # 102 cudaErrorDeviceNotLicensed: a vGPU guest whose license (nvidia-gridd, NVIDIA License System) is not valid
    (
        ("valid grid license", "device_not_licensed", "devicenotlicensed"),
        "the virtual GPU (NVIDIA vGPU) has no valid license, and an unlicensed vGPU does not run CUDA",
        (
            "nvidia-smi -q | grep -i -A2 license   # the guest's license status",
            "sudo systemctl restart nvidia-gridd && journalctl -u nvidia-gridd | tail   # why it got none",
            "# check /etc/nvidia/gridd.conf and the client configuration token of the license server",
        ),
    ),
    # 805-810 cudaErrorMps*: the process is a client of the Multi-Process Service and its server failed
    (
        ("mps client", "mps server", "mps control daemon", "cuda_error_mps", "cudaerrormps"),
        "the process runs under CUDA MPS (a control daemon, or CUDA_MPS_PIPE_DIRECTORY) and the MPS server cannot serve it",
        (
            "echo get_server_list | nvidia-cuda-mps-control   # is an MPS server running, for which user",
            "echo quit | sudo nvidia-cuda-mps-control && sudo nvidia-cuda-mps-control -d   # restart MPS",
            "# or run without MPS: stop its control daemon and unset CUDA_MPS_PIPE_DIRECTORY",
        ),
    ),
    (
        _NO_DEVICE,
        "CUDA sees no device: device nodes missing or unreadable, or CUDA_VISIBLE_DEVICES hides them",
        ("ls -l /dev/nvidia*", "unset CUDA_VISIBLE_DEVICES"),
    ),
    (
        ("unsupported display driver / cuda driver combination", "error 803"),
        "libcuda and the kernel module come from different drivers",
        ("sudo reboot",),
    ),
)


def _failure_texts(facts: Facts) -> list[str]:
    texts = [facts.torch.cuda_init_error] if facts.torch.cuda_init_error else []
    texts += [w for w in facts.torch.warnings if "cuda initialization" in w.lower()]
    return texts


def cuda_initialises(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """CUDA must initialise on a CUDA build; when it does not, name the likely cause of that error."""
    hits = hits_for(facts, CODE)
    # Without an NVIDIA GPU a CUDA build failing to initialise is expected (it runs on the CPU), and a
    # CPU build has no CUDA to initialise: neither is a fault of this machine.
    gpu_here = bool(facts.torch.version) and queries.has_nvidia_gpu(facts) and queries.torch_variant(facts) != "cpu"
    texts = (_failure_texts(facts) if gpu_here else []) + [h.excerpt for h in hits]
    silent = (
        gpu_here
        and not texts
        and facts.torch.cuda_available is False
        and queries.torch_cuda(facts) is not None
        and bool(facts.gpus.devices)
    )
    if not texts and not silent:
        return []
    lowered = " ".join(texts).lower()
    markers, cause, fix = next(
        ((markers, cause, fix) for markers, cause, fix in _KNOWN if any(m in lowered for m in markers)),
        (
            (),
            "an error this doctor has no rule for",
            ("nvidia-smi", "sudo dmesg | grep -iE 'nvrm|xid' | tail -n 20", "# if nvidia-smi also fails: sudo reboot"),
        ),
    )
    if markers is _NO_DEVICE and not queries.has_nvidia_gpu(facts):
        return [_no_device_no_gpu_shown(facts, texts, hits)]
    evidence: dict[str, object] = {}
    if silent:
        seen = len(queries.gpus_seen(facts))
        evidence["torch.cuda.is_available()"] = (
            f"False, while NVML sees {seen} GPU(s)" if seen else "False, while the report states the machine has a GPU"
        )
    if facts.torch.cuda_init_error and gpu_here:
        evidence["CUDA initialisation"] = facts.torch.cuda_init_error.strip()
    for warning in facts.torch.warnings if gpu_here else []:
        if "cuda initialization" in warning.lower():
            evidence["torch warning"] = warning.strip()
    if queries.gpus(facts):
        evidence["GPUs"] = ", ".join(g.label for g in queries.gpus(facts))
    evidence.update(evidence_of(hits))
    return [
        Finding(
            code=CODE,
            severity=Severity.ERROR,
            title="CUDA fails to initialise",
            detail=f"torch.cuda.is_available() is False because CUDA initialisation failed; likely cause: {cause}.",
            evidence=evidence,
            fix=fix,
        )
    ]


def _no_device_no_gpu_shown(facts: Facts, texts: list[str], hits: list[SignatureHit]) -> Finding:
    """CUDA detected no device, and nothing in the report shows an NVIDIA GPU: a GPU hidden, or none to detect."""
    evidence: dict[str, object] = {}
    if facts.torch.cuda_init_error:
        evidence["CUDA initialisation"] = facts.torch.cuda_init_error.strip()
    evidence.update(evidence_of(hits))
    if not evidence and texts:
        evidence["CUDA"] = texts[0].strip()
    return Finding(
        code=CODE,
        severity=Severity.WARNING,
        title="CUDA detected no CUDA-capable device, and nothing in the report shows a GPU: one CUDA cannot reach, or none at all",
        detail="CUDA answers this (cudaErrorNoDevice) wherever it finds no NVIDIA GPU to use: on a machine whose GPU is "
        "hidden (CUDA_VISIBLE_DEVICES, a container without GPUs, missing device nodes) and on every machine without "
        "an NVIDIA GPU. The report names no GPU, no nvidia-smi output and no PCI listing, so which of the two this is "
        "stays unknown.",
        evidence=evidence,
        fix=(
            "# first: does this machine have an NVIDIA GPU? (Linux: lspci | grep -i nvidia; Windows: Device Manager)",
            "# none: nothing is broken; run the program on the CPU (device='cpu', or the program's CPU option)",
            "# one: nvidia-smi   # does the driver see it?",
            "ls -l /dev/nvidia*; echo CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES   # device nodes, and the GPUs CUDA may use",
        ),
    )


register(
    Check(
        name="cuda-init-failed",
        codes=(CODE,),
        summary="CUDA initialisation fails for a reason no earlier check explains (e.g. 'unknown error' after suspend)",
        layer=Layer.CUDA_INIT,
        run=cuda_initialises,
    )
)
