"""The report says the root cause first, in words that survive piping, and JSON round-trips the facts."""

from __future__ import annotations

import io
import json

from torchrig.doctor.facts import SCHEMA, DriverFacts, Facts, Gpu, GpuFacts, SystemFacts, TorchFacts
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.render import render


def broken_box() -> tuple[Facts, list[Finding]]:
    facts = Facts(
        driver=DriverFacts(kernel_module="470.82.01", userspace="470.82.01", sources={"kernel_module": "/proc"}),
        gpus=GpuFacts(devices=[Gpu(index=0, name="Tesla V100-SXM2-16GB", compute_capability="7.0", source="nvml")]),
        torch=TorchFacts(installed=True, version="2.13.0+cu130", cuda="13.0", cuda_available=False),
    )
    findings = [
        Finding(
            "driver.too-old",
            Severity.ERROR,
            "Driver 470.82.01 cannot run PyTorch's CUDA 13.0 build",
            detail="CUDA 13 builds need driver 580 or newer.",
            evidence={"driver": "470.82.01", "torch.cuda": "13.0"},
            fix=("pip install torch==2.7.1 --index-url https://download.pytorch.org/whl/cu118",),
        ),
        Finding("gpu.arch-unsupported", Severity.ERROR, "Tesla V100 (7.0) has no kernels in cu130"),
        Finding("shm.too-small", Severity.WARNING, "/dev/shm is 64 MiB"),
    ]
    return facts, findings


def test_console_report_leads_with_the_root_cause_and_stays_readable_without_colour() -> None:
    facts, findings = broken_box()
    out = io.StringIO()
    render(facts, findings, fmt="console", out=out)
    text = out.getvalue()
    assert "\x1b[" not in text  # a StringIO is not a terminal: no escape codes
    first_line = text.splitlines()[0]
    assert "Root cause" in first_line and "driver.too-old" in first_line
    assert text.index("driver.too-old") < text.index("gpu.arch-unsupported") < text.index("shm.too-small")
    assert "ERROR" in text and "WARNING" in text
    assert "--index-url https://download.pytorch.org/whl/cu118" in text
    assert "Tesla V100-SXM2-16GB" in text  # the facts table


def test_json_report_is_versioned_and_round_trips_the_facts() -> None:
    facts, findings = broken_box()
    out = io.StringIO()
    render(facts, findings, fmt="json", out=out)
    data = json.loads(out.getvalue())
    assert data["schema"] == SCHEMA
    assert [f["code"] for f in data["findings"]] == ["driver.too-old", "gpu.arch-unsupported", "shm.too-small"]
    assert set(data["findings"][0]) == {"code", "severity", "title", "detail", "evidence", "fix"}
    assert data["summary"] == {"error": 2, "warning": 1, "findings": 3}
    assert Facts.from_dict(data["facts"]) == facts


def test_markdown_report_is_ready_to_paste() -> None:
    facts, findings = broken_box()
    out = io.StringIO()
    render(facts, findings, fmt="markdown", out=out)
    md = out.getvalue()
    assert md.startswith("## torchrig doctor")
    assert "### ERROR `driver.too-old`" in md
    assert "```bash\npip install torch==2.7.1" in md
    assert "| GPUs | GPU 0 | Tesla V100-SXM2-16GB, compute capability 7.0 | nvml |" in md


def test_a_healthy_cpu_only_machine_is_told_what_works() -> None:
    facts = Facts(
        torch=TorchFacts(installed=True, version="2.13.0+cpu", cuda=None, cuda_available=False),
        system=SystemFacts(os="Linux", shm_total_bytes=24 << 30, shm_free_bytes=24 << 30),
    )
    out = io.StringIO()
    render(facts, [], fmt="console", out=out)
    first = out.getvalue().splitlines()[0]
    assert (
        first
        == "✓ No problems found. PyTorch 2.13.0+cpu (CPU build) runs on the CPU; there is no NVIDIA GPU on this machine."
    )
    # the verdict stays on screen: a healthy live run leaves the facts table out unless asked
    assert "24.0 GiB" not in out.getvalue() and "--facts" in out.getvalue()
    out = io.StringIO()
    render(facts, [], fmt="console", out=out, show_facts=True)
    assert "24.0 GiB (24.0 GiB free)" in out.getvalue()


def test_no_nvml_on_a_machine_without_nvidia_reads_as_expected_not_as_an_error() -> None:
    from torchrig.doctor.facts import DriverFacts
    from torchrig.doctor.render.summary import fact_rows

    quiet = Facts(driver=DriverFacts(nvml_error="NVML Shared Library Not Found"))
    assert [(r.label, r.value) for r in fact_rows(quiet) if r.section == "Driver"] == [
        ("NVML", "not installed (no NVIDIA driver here)")
    ]
    broken = Facts(driver=DriverFacts(nvml_error="NVML Shared Library Not Found", kernel_module="580.95.05"))
    assert ("NVML error", "NVML Shared Library Not Found") in [(r.label, r.value) for r in fact_rows(broken)]


def test_a_long_constraint_variable_is_shortened_but_a_path_list_never_is() -> None:
    from torchrig.doctor.render.summary import fact_rows

    require = "cuda>=13.0 " + " ".join(f"brand=tesla,driver>={n},driver<{n + 1}" for n in range(535, 580, 5))
    paths = ":".join(f"/opt/lib{n}/very/long/directory/name" for n in range(8))
    facts = Facts(system=SystemFacts(env={"NVIDIA_REQUIRE_CUDA": require, "LD_LIBRARY_PATH": paths}))
    rows = {r.label: r.value for r in fact_rows(facts) if r.section == "Environment"}
    assert rows == {"NVIDIA_REQUIRE_CUDA": "cuda>=13.0 (+9 more)", "LD_LIBRARY_PATH": paths}


def test_a_probe_that_failed_says_why_in_the_facts() -> None:
    facts = Facts(torch=TorchFacts(errors=["torch probe timed out after 60 s"]))
    out = io.StringIO()
    render(facts, [], fmt="markdown", out=out)
    assert "| PyTorch | could not find out | torch probe timed out after 60 s | probe |" in out.getvalue()


def test_list_evidence_reads_as_words_not_a_python_list() -> None:
    facts, _ = broken_box()
    finding = Finding(
        "driver.version-mismatch",
        Severity.ERROR,
        "mismatch",
        evidence={"consequences": ["cuda.init-failed: CUDA initialisation failed", "other: x"]},
    )
    out = io.StringIO()
    render(facts, [finding], fmt="console", out=out)
    assert "consequences: cuda.init-failed: CUDA initialisation failed; other: x" in out.getvalue()
    assert "['" not in out.getvalue()


def test_a_smoke_test_that_never_finished_is_not_called_failed() -> None:
    from torchrig.doctor.facts import DeviceSmoke

    facts = Facts(
        torch=TorchFacts(
            version="2.13.0+cu130",
            smoke=[
                DeviceSmoke(device=0, matmul_ok=True, conv_ok=True),
                DeviceSmoke(device=1, matmul_ok=True, conv_ok=None),
                DeviceSmoke(device=2, matmul_ok=False, conv_ok=True),
            ],
        )
    )
    out = io.StringIO()
    render(facts, [], fmt="markdown", out=out)
    md = out.getvalue()
    assert "| smoke test, device 0 | passed |" in md
    assert "| smoke test, device 1 | not finished |" in md
    assert "| smoke test, device 2 | failed: wrong result |" in md


def test_evidence_names_that_carry_the_same_text_are_shown_once() -> None:
    facts, _ = broken_box()
    line = "RuntimeError: Unexpected error from cudaGetDeviceCount(). Error 804: forward compatibility"
    finding = Finding("x.y", Severity.ERROR, "t", evidence={"CUDA": line, "report line 9": line, "driver": "525.1"})
    out = io.StringIO()
    render(facts, [finding], fmt="console", out=out)
    text = out.getvalue()
    assert text.count(line) == 1
    assert f"    CUDA, report line 9: {line}\n" in text
    assert "    driver: 525.1\n" in text


def test_a_report_whose_machine_looked_on_its_pci_bus_says_no_gpu_was_seen_there() -> None:
    torch = TorchFacts(version="2.13.0+cpu", sources={"cuda": "torch", "hip": "torch"})
    looked = Facts(origin="report", torch=torch, system=SystemFacts(pci_gpus=[], sources={"pci_gpus": "/sys"}))
    out = io.StringIO()
    render(looked, [], fmt="console", out=out)
    assert "PyTorch 2.13.0+cpu (CPU build); no NVIDIA GPU was seen on that machine's PCI bus." in out.getvalue()
    silent = Facts(origin="report", torch=torch)  # a collect_env says nothing of the bus: unknown, not absent
    out = io.StringIO()
    render(silent, [], fmt="console", out=out)
    # nor an all-clear: a CPU build is right only where there is no NVIDIA GPU to use
    assert "does not show whether the machine has an NVIDIA GPU (a CPU build cannot use one)" in out.getvalue()
    assert "No problems found" not in out.getvalue()


def test_a_build_that_can_use_the_gpu_without_a_count_is_not_said_to_see_zero() -> None:
    facts = Facts(origin="report", torch=TorchFacts(version="2.5.1+rocm6.2", hip="6.2", cuda_available=True))
    out = io.StringIO()
    render(facts, [], fmt="console", out=out)
    text = out.getvalue()
    assert "sees 0 GPUs" not in text
    assert "PyTorch 2.5.1+rocm6.2 (ROCm 6.2 build) can use the GPU in this report" in text
