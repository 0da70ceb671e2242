"""Why a stage fails: the likely causes, each with its stable code, and the error signatures that point to them.

A code is shared with ``torchrig doctor`` where the doctor has one (``gpu.p2p-broken``, ``shm.too-small``,
``cuda.init-failed``), so a failing self-test and a doctor report name the same thing the same way. The
other codes are the self-test's own (``ddp.replicas-diverged``, ``rank.straggler``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cause:
    code: str  # stable: "gpu.p2p-broken"
    text: str  # the likely cause and what to try, one or two sentences


MATMUL_WRONG = Cause(
    "gpu.matmul-wrong",
    "the device computed a matrix product outside float32 accuracy: a faulty or overheating GPU, or TF32 "
    "forced on (NVIDIA_TF32_OVERRIDE=1); run `nvidia-smi -q -d ECC,TEMPERATURE` and `dcgmi diag -r 2`.",
)
P2P_BROKEN = Cause(
    "gpu.p2p-broken",
    "the GPUs advertise peer-to-peer access but a direct copy delivered different data (seen on consumer "
    "GPUs such as the RTX 4090 under some drivers, and with IOMMU/ACS on); NCCL will hang or reduce wrongly: "
    "export NCCL_P2P_DISABLE=1, and see `torchrig doctor`.",
)
HOST_COPY_WRONG = Cause(
    "gpu.memory-corrupt",
    "a copy through host memory delivered different data: failing GPU memory or PCIe errors; check "
    "`nvidia-smi -q -d ECC` and the kernel log (Xid errors).",
)
NCCL_WRONG = Cause(
    "nccl.allreduce-wrong",
    "NCCL returned a wrong all-reduce sum without an error: usually a broken peer-to-peer or shared-memory "
    "transport; rerun with NCCL_P2P_DISABLE=1 (then NCCL_SHM_DISABLE=1) to find which, and see `torchrig doctor`.",
)
GLOO_WRONG = Cause(
    "gloo.allreduce-wrong",
    "gloo returned a wrong all-reduce sum without an error: corrupted transfers between processes (network "
    "or memory); rerun, and check the interface GLOO_SOCKET_IFNAME picks.",
)
NCCL_INIT = Cause(
    "nccl.init-failed",
    "NCCL could not set up a transport between the GPUs; rerun with NCCL_DEBUG=INFO to see which, and try "
    "NCCL_SOCKET_IFNAME=<interface>, NCCL_IB_DISABLE=1 or NCCL_P2P_DISABLE=1.",
)
SHM_TOO_SMALL = Cause(
    "shm.too-small",
    "/dev/shm is too small for DataLoader workers (and NCCL's shared-memory transport); a container's default "
    "is 64 MB: start it with --shm-size=8g or --ipc=host.",
)
CUDA_INIT = Cause(
    "cuda.init-failed",
    "CUDA failed to initialise or a kernel failed to launch in a rank; `torchrig doctor` names the reason "
    "(driver, build, visible devices).",
)
TIMEOUT = Cause(
    "collective.timeout",
    "a collective did not complete in time: a rank is hung or far slower than the others (a stuck GPU, a "
    "firewall between nodes, a wrong MASTER_ADDR or network interface).",
)
RUN_TIMEOUT = Cause(
    "selftest.timeout",
    "the run took longer than its --timeout: a stage is far slower than it should be or stuck; rerun with "
    "--keep and read the rank logs, or allow more time with --timeout.",
)
RANK_DIED = Cause(
    "rank.died",
    "a rank process died: its log shows why (the kernel's out-of-memory killer and job schedulers use SIGKILL; "
    "a segmentation fault points at a library).",
)
STRAGGLER = Cause(
    "rank.straggler",
    "one rank computes far slower than the others and every all-reduce waits for it: a throttled or slower "
    "GPU, a CPU-starved process, or another job on the same device.",
)
REPLICAS_DIVERGED = Cause(
    "ddp.replicas-diverged",
    "the DDP replicas no longer hold the same parameters: gradients were not synchronised identically (a "
    "collective that returns different results on different ranks, or a gradient changed after the all-reduce).",
)
LOSS_FLAT = Cause(
    "train.loss-not-falling",
    "the loss did not fall on an easy synthetic task: wrong gradients or a broken optimizer step (numerical "
    "faults on the device, or a broken all-reduce).",
)
WORKER_DIED = Cause(
    "dataloader.worker-died",
    "a DataLoader worker process died; its error is above. Out of memory and a too small /dev/shm are the "
    "usual reasons.",
)
CHECKPOINT_MISMATCH = Cause(
    "checkpoint.roundtrip-mismatch",
    "a model loaded from a checkpoint computes different outputs from the model that saved it: the weights "
    "did not survive torch.save / torch.load on this machine (disk or memory corruption, or a library fault).",
)
INTERNAL = Cause(
    "selftest.internal",
    "the self-test itself failed unexpectedly; please report it with the log (rerun with --keep).",
)

# Signatures seen in real error messages, most specific first.
_SIGNATURES: tuple[tuple[re.Pattern[str], Cause], ...] = (
    # torch's DataLoader: "unable to allocate shared memory(shm) for file </torch_...>: No space left on
    # device (28)" (measured with a 256 KiB /dev/shm), "... is killed by signal: Bus error", "insufficient
    # shared memory (shm)"
    (
        re.compile(
            r"shared memory\s*\(shm\)|unable to allocate shared memory|Bus error|insufficient shared memory|"
            r"/dev/shm.*(too small|No space)",
            re.I,
        ),
        SHM_TOO_SMALL,
    ),
    # NCCL's shared-memory transport (NCCL_DEBUG=WARN lines, or the "Last error:" torch appends):
    # "Error while creating shared memory segment /dev/shm/nccl-WU88OE (size 9637888), error: No space left on
    # device (28)", "failed to extend /dev/shm/nccl-fjwOOB to 5967876 bytes", "Call to posix_fallocate failed"
    (
        re.compile(
            r"Error while creating shared memory segment|failed to extend /dev/shm/|posix_fallocate failed", re.I
        ),
        SHM_TOO_SMALL,
    ),
    (
        re.compile(r"NCCL (error|Error)|ncclSystemError|ncclInternalError|ncclUnhandledCudaError|ncclRemoteError"),
        NCCL_INIT,
    ),
    (re.compile(r"DataLoader worker \(pid", re.I), WORKER_DIED),
    (re.compile(r"CUDA error|CUDA driver|cudaErrorInitializationError|no CUDA-capable device", re.I), CUDA_INIT),
    (re.compile(r"timed out|timeout|Timed out|monitoredBarrier", re.I), TIMEOUT),
    (re.compile(r"Connection (closed|reset) by peer|Broken pipe|ECONNRESET|Socket closed", re.I), RANK_DIED),
)


def explain(error_text: str, default: Cause = INTERNAL) -> Cause:
    """The likely cause of an error message (a traceback's last line, a rank's log tail)."""
    for pattern, cause in _SIGNATURES:
        if pattern.search(error_text):
            return cause
    return default
