"""AMD ROCm tools' output and ROCm reports -> Facts (report/rocm.py)."""

from __future__ import annotations

from torchrig.doctor.report import parse_report

# --- ROCm wheels' gfx targets (PYTORCH_ROCM_ARCH, knowledge/torch_builds.toml [[rocm_arch]])

ROCM_REPORT = (
    "torch 2.1.2+rocm5.6\n"
    "torch.cuda.is_available(): True\n"
    "device: AMD Radeon RX 6700 XT\n"
    "rocminfo says the agent is gfx1031\n"
)


def test_two_gfx_targets_name_no_gpu() -> None:
    facts = parse_report(ROCM_REPORT + "I also tried PYTORCH_ROCM_ARCH for gfx1100\n")
    assert facts.gpus.devices == []
