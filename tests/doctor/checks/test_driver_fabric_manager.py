"""driver.fabric-manager-down: an NVSwitch system whose Fabric Manager is not running (CUDA error 802)."""

from __future__ import annotations

from torchrig.doctor.checks import run_checks
from torchrig.doctor.findings import Finding
from torchrig.doctor.report import parse_report


def _findings(text: str) -> list[Finding]:
    return run_checks(parse_report(text))


def _first(text: str) -> Finding:
    findings = _findings(text)
    assert findings, "no findings"
    return findings[0]


# --- error 802 in ggml's words (ggml_cuda_init: "%s: failed to initialize CUDA: %s")


def test_ggml_failing_to_initialise_cuda_with_system_not_ready_is_fabric_manager() -> None:
    text = "ggml_cuda_init: failed to initialize CUDA: system not yet initialized\nGPU: 8x NVIDIA H100 80GB HBM3\n"
    assert _first(text).code == "driver.fabric-manager-down"


# --- each text in its program's own wording (NCCL, Fabric Manager, cuda-python, torchaudio, the dynamic
# loader) or a reporter's, written from the source, not copied from a corpus report


def test_fabric_manager_refusing_a_driver_of_another_version_with_a_typographic_apostrophe() -> None:
    text = (
        "systemctl status nvidia-fabricmanager\n"
        "nv-fabricmanager[2231]: fabric manager NVIDIA GPU driver interface version 535.161.07 don\u2019t match "
        "with driver version 535.183.01. Please update with matching NVIDIA driver package.\n"
    )
    [finding] = run_checks(parse_report(text))
    assert finding.code == "driver.fabric-manager-down"
    assert "535.161.07" in finding.title and "535.183.01" in finding.title
