"""rocm.gpu-unsupported: the ROCm build of PyTorch has no kernels for the AMD GPU's gfx target."""

from __future__ import annotations

from check_facts import findings_of

from torchrig.doctor.findings import Finding, Severity


def _first(text: str) -> Finding:
    findings = findings_of(text)
    assert findings, "no findings"
    return findings[0]


# --- rocBLAS's "Cannot read <file>": the folder it read is the one its message names


def test_a_system_rocblas_missing_its_tensile_file_is_not_made_certain_by_torch_s_path_nearby() -> None:
    # a system rocBLAS (LD_LIBRARY_PATH) read its own folder; torch's bundled folder is only mentioned after it
    text = (
        "rocBLAS error: Cannot read /opt/rocm-5.4.3/lib/rocblas/library/\n"
        "(the folder above is the system's; torch ships "
        "/venv/lib/python3.10/site-packages/torch/lib/rocblas/library/TensileLibrary.dat too)\n"
    )
    findings = [f for f in findings_of(text) if f.code == "rocm.gpu-unsupported"]
    assert all(f.severity is Severity.WARNING for f in findings)


# --- ROCm wheels' gfx targets (PYTORCH_ROCM_ARCH, knowledge/torch_builds.toml [[rocm_arch]])

ROCM_REPORT = (
    "torch 2.1.2+rocm5.6\n"
    "torch.cuda.is_available(): True\n"
    "device: AMD Radeon RX 6700 XT\n"
    "rocminfo says the agent is gfx1031\n"
)


def test_a_gfx_target_outside_the_wheels_list_is_rocm_gpu_unsupported_and_the_override_must_be_exported() -> None:
    first = _first(ROCM_REPORT)
    assert first.code == "rocm.gpu-unsupported" and first.severity is Severity.ERROR
    assert "gfx1031" in first.title
    assert any(step.startswith("export HSA_OVERRIDE_GFX_VERSION=10.3.0") for step in first.fix)
    assert any("exported" in step or "export it" in step for step in first.fix)
    assert "HSA_OVERRIDE_GFX_VERSION" not in first.evidence  # the report does not show it: not claimed set


def test_an_override_the_report_shows_set_is_said_so_and_makes_it_a_warning() -> None:
    first = _first(ROCM_REPORT + "export HSA_OVERRIDE_GFX_VERSION=10.3.0\n")
    assert first.code == "rocm.gpu-unsupported" and first.severity is Severity.WARNING
    assert str(first.evidence["HSA_OVERRIDE_GFX_VERSION"]).startswith("10.3.0, set in the report")


def test_an_override_shown_set_does_not_soften_the_runtimes_own_refusal() -> None:
    text = ROCM_REPORT + "export HSA_OVERRIDE_GFX_VERSION=10.3.0\nRuntimeError: HIP error: invalid device function\n"
    first = _first(text)
    assert first.code == "rocm.gpu-unsupported" and first.severity is Severity.ERROR


def test_a_gfx_target_inside_the_wheels_list_is_no_finding() -> None:
    text = ROCM_REPORT.replace("gfx1031", "gfx1030").replace("6700 XT", "6800 XT")
    assert "rocm.gpu-unsupported" not in [f.code for f in findings_of(text)]
