"""nvidia-smi's table and -q output, rendered from the layout nvidia-smi prints (values chosen here)."""

from __future__ import annotations

from torchrig.doctor import checks
from torchrig.doctor.report import parse_report

TABLE = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.127.05             Driver Version: 550.127.05     CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|=========================================+========================+======================|
|   0  NVIDIA GeForce RTX 4090        Off |   00000000:01:00.0  On |                  Off |
|  0%   38C    P8             22W /  450W |     512MiB /  24564MiB |      0%      Default |
+-----------------------------------------+------------------------+----------------------+
|   1  Tesla V100-PCIE-32GB            On |   00000000:02:00.0 Off |                    0 |
| N/A   35C    P0             25W /  250W |       0MiB /  32768MiB |      0%      Default |
+-----------------------------------------+------------------------+----------------------+
"""

WINDOWS_TABLE = """\
| NVIDIA-SMI 566.36                 Driver Version: 566.36         CUDA Version: 12.7     |
|   0  NVIDIA GeForce RTX 5080      WDDM  |   00000000:01:00.0  On |                  N/A |
|  0%   41C    P8             17W /  360W |    1021MiB /  16303MiB |      3%      Default |
"""

QUERY = """\
==============NVSMI LOG==============

Driver Version                            : 535.230.02
CUDA Version                              : 12.2

Attached GPUs                             : 2
GPU 00000000:17:00.0
    Product Name                          : NVIDIA H100 80GB HBM3
    Persistence Mode                      : Enabled
    MIG Mode
        Current                           : Disabled
        Pending                           : Disabled
    GPU UUID                              : GPU-11111111-2222-3333-4444-555555555555
    FB Memory Usage
        Total                             : 81559 MiB
        Reserved                          : 328 MiB
GPU 00000000:2A:00.0
    Product Name                          : NVIDIA H100 80GB HBM3
    GPU UUID                              : GPU-66666666-2222-3333-4444-555555555555
"""


def test_the_table_names_each_gpu_with_its_bus_memory_and_capability() -> None:
    facts = parse_report(TABLE)
    assert facts.driver.userspace == "550.127.05"
    got = [(g.index, g.name, g.pci_bus_id, g.memory_total_mib, g.compute_capability) for g in facts.gpus.devices]
    assert got == [
        (0, "NVIDIA GeForce RTX 4090", "00000000:01:00.0", 24564, "8.9"),
        (1, "Tesla V100-PCIE-32GB", "00000000:02:00.0", 32768, "7.0"),
    ]
    assert [g.persistence_mode for g in facts.gpus.devices] == [False, True]


def test_the_windows_table_has_the_driver_model_where_linux_has_persistence() -> None:
    facts = parse_report(WINDOWS_TABLE)
    (gpu,) = facts.gpus.devices
    assert (gpu.name, gpu.compute_capability, gpu.persistence_mode) == ("NVIDIA GeForce RTX 5080", "12.0", None)


def test_a_gpu_in_the_table_is_checked_against_the_build_a_log_names() -> None:
    text = WINDOWS_TABLE + "torch 2.6.0+cu126\n"
    findings = checks.run_checks(parse_report(text))
    assert findings[0].code == "gpu.arch-unsupported"


def test_query_output_gives_driver_cuda_and_every_gpu() -> None:
    facts = parse_report(QUERY)
    assert (facts.driver.userspace, facts.driver.cuda_driver_api) == ("535.230.02", "12.2")
    first, second = facts.gpus.devices
    assert (first.index, first.name, first.uuid, first.memory_total_mib) == (
        0,
        "NVIDIA H100 80GB HBM3",
        "GPU-11111111-2222-3333-4444-555555555555",
        81559,
    )
    assert (first.mig_mode, first.persistence_mode, first.compute_capability) == (False, True, "9.0")
    assert (second.index, second.pci_bus_id, second.memory_total_mib) == (1, "00000000:2A:00.0", None)
    assert checks.run_checks(facts) == []
