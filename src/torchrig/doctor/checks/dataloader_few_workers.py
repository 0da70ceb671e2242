"""dataloader.few-workers: the program's DataLoader has too few worker processes to keep the GPU busy.

PyTorch Lightning checks every DataLoader it is given and warns where ``num_workers`` is 2 or less on a machine with more
CPUs: "The dataloader, val_dataloader 0, does not have many workers which may be a bottleneck. Consider increasing the
value of the `num_workers` argument" (lightning/pytorch/trainer/connectors/data_connector.py,
``_check_dataloader_iterable`` / ``_worker_check``). With too few workers the GPU waits for each batch: nvidia-smi
shows its memory in use and its utilisation near 0%. PyTorch's DataLoader loads in the main process when
``num_workers=0`` (torch.utils.data documentation, "Single- and Multi-process Data Loading"). This is no fault of the
machine: a warning that says where the time goes, never an error.
"""

from __future__ import annotations

from torchrig.doctor.checks.registry import Check, CheckContext, Layer, register
from torchrig.doctor.checks.signature_hits import evidence_of, hits_for
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity

CODE = "dataloader.few-workers"


def enough_dataloader_workers(facts: Facts, ctx: CheckContext) -> list[Finding]:
    """A DataLoader the program's framework found short of workers is where a training step waits."""
    hits = hits_for(facts, CODE)
    if not hits:
        return []
    return [
        Finding(
            code=CODE,
            severity=Severity.WARNING,
            title="The DataLoader has too few worker processes: the GPU waits for data",
            detail="PyTorch Lightning warned that a DataLoader has fewer workers than the CPUs allow. Batches are "
            "then prepared too slowly to keep the GPU busy: nvidia-smi shows its memory in use and its utilisation "
            "near 0%. Nothing in this warning is wrong with the driver, CUDA or torch.",
            evidence=evidence_of(hits),
            fix=(
                "DataLoader(..., num_workers=N, pin_memory=True)   # N up to the number of CPU cores (os.cpu_count())",
                "# in a config-driven trainer, set the data loaders' num_workers (for training and validation)",
                "nvidia-smi dmon -s u   # GPU utilisation while training: it should stay high once data keeps up",
            ),
        )
    ]


register(
    Check(
        name="dataloader-few-workers",
        codes=(CODE,),
        summary="the program's DataLoader has too few workers to keep the GPU busy (PyTorch Lightning's warning)",
        layer=Layer.RUNTIME,
        run=enough_dataloader_workers,
    )
)
