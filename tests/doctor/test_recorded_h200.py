"""A healthy NVIDIA H200 (driver 580.159.04, torch 2.11.0+cu130), recorded by the GPU lane, replayed on CPU.

The doctor's first run on a real GPU found nothing wrong with it; these keep that true: the same
machine, seen through its recorded NVML, /proc and nvidia-smi, or through its collect_env and its own
``doctor --json``, is healthy, and the facts are the ones the machine printed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "probe"))

from probe_fakes import RECORDED, FakeTree, fake_machine, nvml_fixture, recorded, smi

from torchrig._core.seams.runner import FakeRunner
from torchrig.doctor.checks import run_checks
from torchrig.doctor.probe import driver, gpus
from torchrig.doctor.render.summary import verdict
from torchrig.doctor.report import parse_report

H200 = RECORDED / "gpu-h200"


def test_the_recorded_nvml_and_proc_give_the_driver_and_the_gpu_nvidia_smi_showed(tmp_path: Path) -> None:
    tree = FakeTree(tmp_path / "machine")
    tree.write("/proc/driver/nvidia/version", recorded("gpu-h200/proc-driver-nvidia-version.txt"))
    runner = FakeRunner({"nvidia-smi": smi(recorded("gpu-h200/nvidia-smi.txt"))})
    host = fake_machine(tree, nvml=nvml_fixture("h200-580.159.04.json"), runner=runner)
    found = driver.probe(host, quick=True)
    assert (found.kernel_module, found.userspace, found.cuda_driver_api) == ("580.159.04", "580.159.04", "13.0")
    [gpu] = gpus.probe(host, quick=True).devices
    # nvidia-smi: "NVIDIA H200 ... 143771MiB", bus 00000000:00:06.0
    assert (gpu.name, gpu.compute_capability, gpu.memory_total_mib) == ("NVIDIA H200", "9.0", 143771)
    assert gpu.pci_bus_id is not None and gpu.pci_bus_id.lower().endswith("00:06.0")


def test_its_collect_env_is_read_and_called_healthy() -> None:
    facts = parse_report((H200 / "collect_env.txt").read_text())
    assert (facts.torch.version, facts.torch.cuda, facts.driver.userspace) == ("2.11.0+cu130", "13.0", "580.159.04")
    assert [(g.name, g.compute_capability) for g in facts.gpus.devices] == [("NVIDIA H200", "9.0")]
    findings = run_checks(facts)
    assert [f for f in findings if f.severity.value == "error"] == [], [f.code for f in findings]
    assert verdict(facts, findings).startswith("No problems found in what the report shows. PyTorch 2.11.0+cu130")


def test_its_own_doctor_json_explains_the_same_machine_again() -> None:
    data = json.loads((H200 / "doctor.json").read_text())
    assert data["findings"] == []
    facts = parse_report((H200 / "doctor.json").read_text())
    assert facts.torch.arch_list == ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
    assert run_checks(facts) == []
