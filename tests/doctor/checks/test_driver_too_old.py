"""driver.too-old: the driver must be at least the minimum for torch's CUDA build, counting minor-version compatibility."""

from __future__ import annotations

from check_facts import (
    ARCH_CU124,
    B200,
    GTX1080,
    H100,
    PY,
    RTX4090,
    codes,
    codes_of,
    findings_of,
    linux_gpu_box,
    report,
)

from torchrig import knowledge
from torchrig.doctor.checks import CheckContext, driver_too_old, run_checks
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def _first(text: str) -> Finding:
    findings = findings_of(text)
    assert findings, "no findings"
    return findings[0]


def test_driver_470_cannot_run_a_cu121_build() -> None:
    facts = linux_gpu_box(GTX1080, driver="470.82.01", torch="2.4.0+cu121", cuda="12.1")
    [finding] = driver_too_old.driver_runs_torch_build(facts, CTX)
    assert finding.code == "driver.too-old" and finding.severity is Severity.ERROR
    assert "470.82.01" in finding.title and "CUDA 12.1" in finding.title
    assert finding.evidence["minimum driver for that build"] == "525.60.13 (minor-version compatibility)"
    # Either a new driver (R580 supports Pascal) ...
    assert finding.fix[:2] == ("sudo apt-get update && sudo apt-get install -y nvidia-driver-580", "sudo reboot")
    # ... or the same torch release built for CUDA 11.8, which this driver runs and which has sm_61 kernels.
    assert finding.fix[-2:] == (
        f"{PY} -m pip uninstall -y torch",
        f"{PY} -m pip install torch==2.4.0 --index-url https://download.pytorch.org/whl/cu118",
    )


def test_driver_535_runs_a_cu126_build_through_minor_version_compatibility() -> None:
    facts = linux_gpu_box(H100, driver="535.104.05", torch="2.7.1+cu126", cuda="12.6")
    assert driver_too_old.driver_runs_torch_build(facts, CTX) == []


def test_driver_570_cannot_run_cuda_13_whose_branch_starts_at_580() -> None:
    facts = linux_gpu_box(RTX4090, driver="570.133.07", torch="2.13.0+cu130", cuda="13.0")
    [finding] = driver_too_old.driver_runs_torch_build(facts, CTX)
    assert "nvidia-driver-580" in finding.fix[0]
    assert finding.fix[-1] == f"{PY} -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu129"


def test_the_current_driver_runs_the_default_cu130_build() -> None:
    assert driver_too_old.driver_runs_torch_build(linux_gpu_box(RTX4090), CTX) == []


def test_wsl_counts_the_windows_column_527_is_too_old_for_cu121() -> None:
    # In WSL nvidia-smi shows the Windows driver; CUDA 12 minor-version compatibility starts at 528.33 there.
    facts = linux_gpu_box(RTX4090, driver=None, torch="2.4.0+cu121", cuda="12.1", wsl=True, dev_nodes=["/dev/dxg"])
    facts.driver.userspace = "527.41"
    [finding] = driver_too_old.driver_runs_torch_build(facts, CTX)
    assert finding.evidence["driver (Windows, as WSL sees it)"] == "527.41"
    assert finding.fix[0].startswith("Update the Windows NVIDIA driver to 528.33 or newer")
    assert "do not install a Linux driver inside WSL" in finding.fix[0]


def test_wsl_with_a_current_windows_driver_is_fine() -> None:
    facts = linux_gpu_box(RTX4090, driver=None, torch="2.13.0+cu130", cuda="13.0", wsl=True, dev_nodes=["/dev/dxg"])
    facts.driver.userspace = "581.57"
    assert driver_too_old.driver_runs_torch_build(facts, CTX) == []


def test_a_cpu_build_needs_no_driver() -> None:
    facts = linux_gpu_box(GTX1080, driver="470.82.01", torch="2.13.0+cpu", cuda=None)
    assert driver_too_old.driver_runs_torch_build(facts, CTX) == []


def test_a_log_with_found_version_11040_alone_yields_the_finding_and_a_build_for_cuda_11() -> None:
    facts = report(
        (
            "driver.found-version",
            "RuntimeError: The NVIDIA driver on your system is too old (found version 11040). "
            "Please update your GPU driver by downloading and installing a new version from the URL: "
            "http://www.nvidia.com/Download/index.aspx",
        ),
    )
    [finding] = driver_too_old.driver_runs_torch_build(facts, CTX)
    assert finding.evidence["newest CUDA this driver supports"] == "11.4"
    assert "found version 11040" in finding.evidence["report line 3"]
    # A driver for CUDA 11.4 runs cu118 wheels (minor-version compatibility): torch 2.7 is the newest with one.
    assert finding.fix[-1] == "python -m pip install 'torch==2.7.*' --index-url https://download.pytorch.org/whl/cu118"


def test_a_torch_version_in_the_report_is_compared_with_the_driver_api() -> None:
    facts = report(
        ("driver.insufficient-for-runtime", "CUDA driver version is insufficient for CUDA runtime version"),
        version="2.13.0+cu130",
        cuda="13.0",
    )
    facts.driver.cuda_driver_api = "12.2"
    assert codes(driver_too_old.driver_runs_torch_build(facts, CTX)) == ["driver.too-old"]


def test_fixes_point_at_the_configured_mirror() -> None:
    facts = linux_gpu_box(GTX1080, driver="470.82.01", torch="2.4.0+cu121", cuda="12.1")
    [finding] = driver_too_old.driver_runs_torch_build(
        facts, CheckContext(index_base="https://mirrors.example.edu/pytorch/whl/")
    )
    assert finding.fix[-1].endswith("--index-url https://mirrors.example.edu/pytorch/whl/cu118")


def test_a_b200_gets_the_open_kernel_modules_that_blackwell_requires() -> None:
    facts = linux_gpu_box(B200, driver="570.172.08", torch="2.13.0+cu130", cuda="13.0")
    [finding] = driver_too_old.driver_runs_torch_build(facts, CTX)
    assert finding.fix[0] == "sudo apt-get update && sudo apt-get install -y nvidia-driver-580-open"


def test_error_35_alone_with_no_driver_or_nvidia_gpu_shown_is_a_suspicion_that_asks_for_nvidia_smi() -> None:
    from torchrig.doctor.report import parse_report

    line = "RuntimeError: CUDA driver version is insufficient for CUDA runtime version\n"
    [finding] = run_checks(parse_report("torch==2.0.0+cu118\n" + line))
    assert finding.code == "driver.too-old" and finding.severity.value == "warning"
    assert finding.fix[0].startswith("nvidia-smi")
    shown = parse_report("Nvidia driver version: 418.56\nCUDA used to build PyTorch: 11.8\n" + line)
    assert run_checks(shown)[0].severity.value == "error"  # a driver shown too old for the build


def test_an_ngc_containers_driver_check_is_an_error_across_cuda_majors_and_a_warning_within_one() -> None:
    from torchrig.doctor.report import parse_report

    banner = (
        "ERROR: This container was built for NVIDIA Driver Release {need} or later, but\n"
        "       version {have} was detected and compatibility mode is UNAVAILABLE.\n"
    )
    [older_major] = run_checks(parse_report(banner.format(need="535.86", have="510.85.02")))  # CUDA 12 vs 11.6
    assert older_major.code == "driver.too-old" and older_major.severity.value == "error"
    assert "510.85.02" in older_major.title
    [same_major] = run_checks(parse_report(banner.format(need="545.23", have="535.104.05")))  # both CUDA 12
    assert same_major.code == "driver.too-old" and same_major.severity.value == "warning"
    assert "minor-version compatibility" in same_major.title


# --- cases a review found the checks getting wrong: the situation, stated, and what the doctor must say


def test_a_log_whose_driver_supports_a_cuda_the_tables_do_not_know_still_says_the_driver_is_too_old() -> None:
    # "found version 8000": CUDA 8.0, older than any table row; used to crash into doctor.check-failed
    facts = report(("driver.found-version", "The NVIDIA driver on your system is too old (found version 8000)."))
    codes = [f.code for f in run_checks(facts)]
    assert codes[0] == "driver.too-old" and "doctor.check-failed" not in codes


def test_cuda_11_0_needs_its_own_ga_driver_not_the_higher_11x_compatibility_floor() -> None:
    assert str(knowledge.min_driver("11.0")) == "450.51.05"  # as NVIDIA writes it
    driver = knowledge.parse_version("450.51.06")  # runs 11.0 builds, and no newer 11.x one
    assert driver is not None and driver >= knowledge.min_driver("11.0") and driver < knowledge.min_driver("11.1")


def test_a_kepler_gpu_is_not_told_to_install_a_driver_that_no_longer_supports_it() -> None:
    facts = linux_gpu_box(
        ("Tesla K80", "3.7", "0x102d"), driver="470.82.01", torch="2.4.0+cu124", cuda="12.4", arch=ARCH_CU124
    )
    facts.torch.cuda_available = False
    [finding] = driver_too_old.driver_runs_torch_build(facts, CheckContext())
    assert not any("nvidia-driver-580" in line for line in finding.fix)
    assert "R470 is the last branch for Kepler" in finding.fix[0]


# --- driver.too-old: Ollama's documented driver floors (docs/gpu.mdx, discover/cuda_compat.go) --------------------


def test_ollama_s_own_driver_too_old_warning_is_driver_too_old() -> None:
    # ollama/ollama#16415: five GTX 1070 Ti on driver 535 under Ollama 0.30
    text = (
        'msg="NVIDIA driver too old" device="NVIDIA GeForce GTX 1070 Ti" compute=6.1 driver=535 '
        'required_driver="570 or newer"\n'
        "ggml_cuda_init: failed to initialize CUDA: CUDA driver version is insufficient for CUDA runtime version\n"
    )
    found = findings_of(text)
    assert found and found[0].code == "driver.too-old"


def test_a_pascal_gpu_on_driver_535_under_ollama_0_30_is_below_its_documented_570() -> None:
    # the same report in words: Ollama's version, the driver, the GPU
    text = (
        "$ ollama -v\nollama version is 0.30.1\n"
        "GPU: 5x NVIDIA GeForce GTX 1070 Ti, NVIDIA driver 535.230.02\n"
        "Since the update every model runs on the CPU.\n"
    )
    found = findings_of(text)
    assert found and found[0].code == "driver.too-old"
    assert found[0].evidence["Ollama's documented minimum driver"].startswith("570")


def test_a_turing_gpu_on_driver_535_is_fine_until_ollama_0_30_11() -> None:
    older = "ollama version is 0.30.2\nGPU: NVIDIA GeForce RTX 2080 Ti, driver 535.230.02\nmodels run on the CPU\n"
    assert "driver.too-old" not in codes_of(older)
    newer = "ollama version is 0.31.0\nGPU: NVIDIA GeForce RTX 2080 Ti, driver 535.230.02\nmodels run on the CPU\n"
    assert codes_of(newer)[:1] == ["driver.too-old"]


def test_a_new_enough_driver_or_an_older_ollama_is_no_finding() -> None:
    assert "driver.too-old" not in codes_of("Ollama 0.32.1 on 2x Tesla P40, driver 580.159.03, runs on the CPU\n")
    assert "driver.too-old" not in codes_of("Ollama 0.24.0 on 2x Tesla P40, driver 535.309.01, runs on the CPU\n")


def test_ollama_after_a_driver_upgrade_without_reboot_is_the_mismatch_not_a_floor() -> None:
    # ollama/ollama#15918: Ollama 0.20.6, the new 580 library over the old kernel module
    text = (
        "Ollama version: 0.20.6\nNVIDIA driver updated today (NVML library version: 580.159)\n"
        'nvidia-smi itself fails with "Driver/library version mismatch"\n'
        "ggml_cuda_init: failed to initialize CUDA: forward compatibility was attempted on non supported HW\n"
    )
    assert "driver.too-old" not in codes_of(text)[:1]


# --- torch's "found version" message, retyped


def test_a_retyped_found_version_without_its_blank_is_still_driver_too_old() -> None:
    text = 'torch.cuda.is_available() is False and it says "The NVIDIA driver on your system is too old(found version 9000)"'
    assert _first(text).code == "driver.too-old"


# --- each text in its program's own wording (NCCL, Fabric Manager, cuda-python, torchaudio, the dynamic
# loader) or a reporter's, written from the source, not copied from a corpus report


def test_a_reporter_finding_their_driver_too_old_for_the_build_asked_for() -> None:
    text = (
        "torch.cuda.is_available() returns False after conda env create.\n"
        "Found it: the NVIDIA driver is too old for the CUDA 11.8 build of pytorch in environment.yml.\n"
    )
    [finding] = [f for f in run_checks(parse_report(text)) if f.severity is Severity.ERROR]
    assert finding.code == "driver.too-old"


# torch's "The NVIDIA driver on your system is too old" retold by a reporter, about a torch whose CUDA build is shown
def test_torchs_driver_message_retold_beside_a_cuda_build_is_the_driver_too_old() -> None:
    for text in (
        ">>> print(torch.version.cuda)\n10.0.130\nwhen I run my program the message says my Nvidia driver is too old.",
        "After upgrading to torch 1.2.0, torch said that the NVIDIA version is too old and cuda is not available.",
    ):
        assert codes_of(text)[:1] == ["driver.too-old"], text


def test_a_driver_said_too_old_with_no_torch_or_cuda_in_the_report_is_no_finding() -> None:
    assert "driver.too-old" not in codes_of(
        "The game's launcher error says my NVIDIA version is too old for this title."
    )
