"""A GPU's model name, as NVML and collect_env print it, gives its compute capability."""

from __future__ import annotations

import pytest

from torchrig.knowledge.gpu_models import capability_of


@pytest.mark.parametrize(
    ("name", "cc"),
    [
        ("Tesla V100-SXM2-32GB", "7.0"),
        ("Tesla V100S-PCIE-32GB", "7.0"),
        ("NVIDIA GeForce GTX 1080", "6.1"),
        ("Tesla P100-PCIE-16GB", "6.0"),
        ("Tesla T4", "7.5"),
        ("NVIDIA GeForce RTX 2080 Ti", "7.5"),
        ("NVIDIA A100-SXM4-80GB", "8.0"),
        ("NVIDIA A10G", "8.6"),  # not the A100
        ("NVIDIA GeForce RTX 3090", "8.6"),
        ("NVIDIA RTX A6000", "8.6"),
        ("NVIDIA L4", "8.9"),
        ("NVIDIA L40S", "8.9"),
        ("NVIDIA GeForce RTX 4090", "8.9"),
        ("NVIDIA RTX 6000 Ada Generation", "8.9"),
        ("NVIDIA H100 80GB HBM3", "9.0"),
        ("NVIDIA H20", "9.0"),
        ("NVIDIA GH200 480GB", "9.0"),
        ("NVIDIA B200", "10.0"),
        ("NVIDIA B300 SXM6 AC", "10.3"),
        ("NVIDIA GeForce RTX 5090", "12.0"),
        ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "12.0"),
        ("Orin", "8.7"),
        ("Tesla K80", "3.7"),
        ("NVIDIA GeForce GTX TITAN X", "5.2"),  # Maxwell; the Pascal one is "NVIDIA TITAN X"
        ("NVIDIA TITAN X (Pascal)", "6.1"),
        ("NVIDIA GeForce GTX 680", "3.0"),
    ],
)
def test_model_names_map_to_their_compute_capability(name: str, cc: str) -> None:
    assert capability_of(name) == cc


def test_an_unknown_or_missing_name_has_no_capability() -> None:
    assert capability_of("NVIDIA GeForce MX450") is None
    assert capability_of(None) is None
