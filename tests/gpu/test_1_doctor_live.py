"""``torchrig doctor --json`` on a real GPU agrees with ``nvidia-smi`` and with torch itself.

The doctor reads NVML, /proc and a torch subprocess; ``nvidia-smi`` is the tool users trust, and a
process that imports torch and computes on the GPU shows which CUDA libraries really get loaded. A
healthy GPU machine must give exit 0 and no error finding; when it does not, the assertion prints the
findings, since that is a finding about the doctor (or the machine) worth recording.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
from typing import Any

import pytest
from gpu_lane import cli_env, no_gpu_reason, run_torchrig, tail

if no_gpu_reason() is None:  # else conftest skips every test, saying why
    import torch

pytestmark = pytest.mark.gpu

SMI_FIELDS = ("driver_version", "name", "compute_cap", "memory.total", "pci.bus_id")


@pytest.fixture(scope="module")
def doctor(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str]:
    """One live ``doctor --json`` run for the module: (exit code, the JSON, stderr)."""
    home = tmp_path_factory.mktemp("doctor-home")
    proc = run_torchrig(["doctor", "--json"], cli_env(home), timeout=150)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(
            f"doctor --json printed no JSON (exit {proc.returncode}):\n{tail(proc.stdout)}\n{tail(proc.stderr)}"
        )
    assert data["schema"] == "torchrig.doctor/1"
    return proc.returncode, data, proc.stderr


@pytest.fixture(scope="module")
def smi() -> list[dict[str, str]]:
    """``nvidia-smi --query-gpu=...`` rows, one per GPU, in nvidia-smi's order."""
    if shutil.which("nvidia-smi") is None:
        pytest.skip("nvidia-smi is not on PATH: nothing to compare the doctor's facts with")
    proc = subprocess.run(
        ["nvidia-smi", f"--query-gpu={','.join(SMI_FIELDS)}", "--format=csv,noheader"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"nvidia-smi --query-gpu failed: {proc.stdout}{proc.stderr}"
    rows = [
        dict(zip(SMI_FIELDS, (c.strip() for c in cells), strict=True))
        for cells in csv.reader(io.StringIO(proc.stdout.strip()), skipinitialspace=True)
        if cells
    ]
    assert rows, "nvidia-smi listed no GPU although torch sees one"
    return rows


def describe(findings: list[dict[str, Any]]) -> str:
    return (
        "\n".join(
            f"  [{f['severity']}] {f['code']}: {f['title']}\n    evidence: {json.dumps(f['evidence'])}"
            for f in findings
        )
        or "  (no findings)"
    )


def smi_mib(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*MiB", text)
    assert match, f"nvidia-smi memory.total is not in MiB: {text!r}"
    return int(match.group(1))


def bus_id(text: str) -> str:
    """nvidia-smi's "00000000:19:00.0" as sysfs (and the doctor) write it: "0000:19:00.0"."""
    domain, _, rest = text.strip().lower().partition(":")
    return f"{domain[-4:]}:{rest}"


def test_a_healthy_gpu_machine_gets_exit_0_and_no_error_finding(doctor: tuple[int, dict[str, Any], str]) -> None:
    code, data, stderr = doctor
    errors = [f for f in data["findings"] if f["severity"] == "error"]
    assert code == 0 and not errors, (
        f"doctor exited {code} on this GPU machine; verdict: {data['verdict']}\nfindings:\n{describe(data['findings'])}"
        f"\nstderr:\n{tail(stderr)}"
    )
    assert "Traceback" not in stderr, stderr


def test_no_probe_records_an_error_on_a_healthy_gpu_machine(doctor: tuple[int, dict[str, Any], str]) -> None:
    facts = doctor[1]["facts"]
    errors = {
        name: section["errors"]
        for name, section in facts.items()
        if isinstance(section, dict) and section.get("errors")
    }
    assert not errors, f"probe errors: {json.dumps(errors, indent=1)}\ntimings: {facts.get('timings')}"


def test_the_driver_version_is_the_one_nvidia_smi_reports(
    doctor: tuple[int, dict[str, Any], str], smi: list[dict[str, str]]
) -> None:
    driver = doctor[1]["facts"]["driver"]
    versions = {row["driver_version"] for row in smi}
    assert len(versions) == 1, versions
    (version,) = versions
    assert driver["userspace"] == version, driver
    assert driver["kernel_module"] == version, driver  # healthy: the loaded module is the user-space library's
    assert driver["nvml_error"] is None and driver["smi_error"] is None, driver
    if importlib.util.find_spec("pynvml") is not None:
        assert driver["sources"]["userspace"] == "nvml", driver["sources"]


def test_the_cuda_version_is_the_one_in_the_nvidia_smi_banner(
    doctor: tuple[int, dict[str, Any], str], smi: list[dict[str, str]]
) -> None:
    banner = subprocess.run(["nvidia-smi"], check=False, capture_output=True, text=True, timeout=60).stdout
    match = re.search(r"CUDA Version:\s*(\d+\.\d+)", banner)
    assert match, f"no CUDA version in the nvidia-smi banner:\n{banner[:800]}"
    assert doctor[1]["facts"]["driver"]["cuda_driver_api"] == match.group(1)


def test_every_gpu_has_the_name_capability_memory_and_bus_id_nvidia_smi_reports(
    doctor: tuple[int, dict[str, Any], str], smi: list[dict[str, str]]
) -> None:
    gpus = doctor[1]["facts"]["gpus"]
    devices = gpus["devices"]
    assert len(devices) == len(smi), f"doctor saw {len(devices)} GPU(s), nvidia-smi {len(smi)}"
    if importlib.util.find_spec("pynvml") is not None:
        assert gpus["sources"].get("devices") == "nvml", gpus["sources"]
    for index, (device, row) in enumerate(zip(devices, smi, strict=True)):
        assert device["index"] == index
        assert device["pci_bus_id"] == bus_id(row["pci.bus_id"]), (device, row)
        assert device["name"] == row["name"], (device, row)
        assert device["compute_capability"] == row["compute_cap"], (device, row)
        mib = smi_mib(row["memory.total"])
        assert device["memory_total_mib"] is not None and abs(device["memory_total_mib"] - mib) <= 1, (
            f"GPU {index}: doctor says {device['memory_total_mib']} MiB, nvidia-smi {mib} MiB"
        )


def test_torch_facts_are_what_torch_says_in_this_process(
    doctor: tuple[int, dict[str, Any], str], smi: list[dict[str, str]]
) -> None:
    facts = doctor[1]["facts"]["torch"]
    assert facts["import_ok"] is True and facts["cuda_available"] is True, facts
    assert facts["python"] == sys.executable
    assert facts["version"] == torch.__version__ and facts["cuda"] == torch.version.cuda
    assert facts["device_count"] == torch.cuda.device_count()
    if "CUDA_VISIBLE_DEVICES" not in os.environ:
        assert facts["device_count"] == len(smi)
    assert facts["arch_list"] == torch.cuda.get_arch_list()
    raw = torch.backends.cudnn.version()
    if raw:
        # cuDNN 9 encodes major*10000 + minor*100 + patch (cudnn_version.h); older releases
        # major*1000 + minor*100 + patch
        major, rest = (raw // 10000, raw % 10000) if raw >= 90000 else (raw // 1000, raw % 1000)
        assert facts["cudnn_version"] == f"{major}.{rest // 100}.{rest % 100}"
    nccl = torch.cuda.nccl.version()
    assert facts["nccl_version"] == (".".join(map(str, nccl)) if isinstance(nccl, tuple) else str(nccl))
    smoke = facts["smoke"]
    assert len(smoke) == torch.cuda.device_count()
    for entry in smoke:
        index = entry["device"]
        assert entry["error"] is None and entry["matmul_ok"] is True and entry["conv_ok"] is True, entry
        assert entry["name"] == torch.cuda.get_device_name(index)
        assert entry["capability"] == "{}.{}".format(*torch.cuda.get_device_capability(index))
    # torch orders devices fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID: compare as sets
    assert {e["name"] for e in smoke} <= {row["name"] for row in smi}
    assert {e["capability"] for e in smoke} <= {row["compute_cap"] for row in smi}


# What a process that imports torch and computes on the GPU maps, read the way a person would: every
# shared object in /proc/self/maps, after a matmul (cuBLAS) and a convolution (cuDNN).
_TRUTH = r"""
import json, os, torch
a = torch.randn(64, 64, device="cuda")
(a @ a).sum().item()
x = torch.randn(1, 3, 16, 16, device="cuda")
torch.nn.functional.conv2d(x, torch.randn(4, 3, 3, 3, device="cuda")).sum().item()
torch.cuda.synchronize()
torch.cuda.nccl.version()
libs = {}
with open("/proc/self/maps") as fh:
    for line in fh:
        parts = line.split(None, 5)
        if len(parts) == 6 and ".so" in parts[5]:
            path = parts[5].strip()
            libs.setdefault(os.path.basename(path), path)
print(json.dumps(libs))
"""
# The libraries of the CUDA stack whose presence does not depend on which kernels a workload picks
# (cuDNN's engine sub-libraries do, so only its core library is compared).
_CORE = re.compile(r"^lib(cuda|cudart|cublas|cublasLt|cudnn|nccl|nvJitLink)\.so(\.\d+)*$")


def test_the_loaded_cuda_libraries_are_the_ones_torch_really_loads(
    doctor: tuple[int, dict[str, Any], str], smi: list[dict[str, str]]
) -> None:
    proc = subprocess.run([sys.executable, "-c", _TRUTH], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, tail(proc.stderr)
    mapped: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    truth = {name: path for name, path in mapped.items() if _CORE.match(name)}
    families = {_CORE.match(name).group(1) for name in truth}  # type: ignore[union-attr]
    assert {"cuda", "cublas"} <= families, (
        f"a CUDA matmul mapped no libcuda/libcublas, so this comparison is broken: {sorted(mapped)}"
    )

    reported = {lib["name"]: lib["path"] for lib in doctor[1]["facts"]["torch"]["loaded_libs"]}
    missing = sorted(set(truth) - set(reported))
    assert not missing, f"torch loads {missing} but the doctor reports only {sorted(reported)}"
    for name, path in truth.items():
        assert os.path.realpath(reported[name]) == os.path.realpath(path), (name, reported[name], path)

    # libcuda is the driver's own library: when its file name carries a version, it is the driver's
    driver = smi[0]["driver_version"]
    for name, path in reported.items():
        versioned = re.fullmatch(r"libcuda\.so\.(\d+\.\d+(?:\.\d+)?)", name)
        if versioned:
            assert versioned.group(1) == driver, f"{path} is not driver {driver}'s libcuda"
