"""The GPU model -> compute capability table: every row matches its own examples, and the names
real reports print resolve to NVIDIA's published capability."""

from __future__ import annotations

import re

import pytest

from torchrig.knowledge import gpu_models, load
from torchrig.knowledge.gpu_models import capability_of

ROWS = gpu_models.models()


def test_table_names_its_source_and_date() -> None:
    meta = load("gpu_models")["meta"]
    assert "developer.nvidia.com/cuda-gpus" in meta["source"] and re.fullmatch(r"\d{4}-\d{2}", meta["as_of"])


@pytest.mark.parametrize("row", ROWS, ids=[r.capability + ":" + r.examples[0] for r in ROWS])
def test_each_row_wins_for_its_examples(row: gpu_models.Model) -> None:
    for name in row.examples:
        assert gpu_models.capability_of(name) == row.capability, name


@pytest.mark.parametrize(
    ("name", "capability"),
    [
        # names exactly as the corpus's reports print them
        ("NVIDIA GeForce RTX 5090 D", "12.0"),
        ("NVIDIA GeForce RTX 4080 Laptop GPU", "8.9"),
        ("GeForce RTX 2080 Ti", "7.5"),
        ("Tesla V100-PCIE-16GB", "7.0"),
        ("Tesla P100-PCIE-16GB", "6.0"),
        ("TITAN Xp", "6.1"),
        ("NVIDIA GeForce GTX 1050 Ti", "6.1"),
        ("Tesla T4", "7.5"),
        ("Quadro K620", "5.0"),
        # one name, three generations: the suffix decides
        ("Quadro RTX 5000", "7.5"),
        ("NVIDIA RTX 5000 Ada Generation", "8.9"),
        ("NVIDIA RTX PRO 5000 Blackwell", "12.0"),
        ("GeForce GTX TITAN X", "5.2"),
        ("GeForce GTX 960M", "5.0"),
        ("GeForce GTX 960", "5.2"),
    ],
)
def test_names_from_real_reports(name: str, capability: str) -> None:
    assert gpu_models.capability_of(name) == capability


def test_an_unknown_model_has_no_capability() -> None:
    assert gpu_models.capability_of("AMD Instinct MI250X/MI250") is None
    assert gpu_models.capability_of("GeForce 210") is None


# From the checks' side (branch doctor-checks): names as NVML and collect_env print them.
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
