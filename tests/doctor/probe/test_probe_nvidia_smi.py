"""Parsing what nvidia-smi prints, from real outputs pasted in public issues."""

from __future__ import annotations

import pytest
from probe_fakes import recorded

from torchrig.doctor.probe.nvidia_smi import SmiBanner, parse_banner, parse_failure, parse_query_csv


@pytest.mark.parametrize(
    ("name", "banner"),
    [
        ("a10g-470.256.02.txt", SmiBanner("470.256.02", "470.256.02", "11.4")),
        ("a100x2-580.126.09.txt", SmiBanner("580.126.09", "580.126.09", "13.0")),
        ("wsl-555.52.01.txt", SmiBanner("555.52.01", "555.99", "12.5")),
        ("wsl-545.46-cuda-err.txt", SmiBanner("545.46", "546.80", None)),  # "CUDA Version: ERR!"
        ("gtx680-331.62.txt", SmiBanner("331.62", "331.62", None)),  # 2014: no CUDA version in the banner
    ],
)
def test_the_banner_gives_the_driver_and_the_newest_cuda_it_supports(name: str, banner: SmiBanner) -> None:
    assert parse_banner(recorded(f"nvidia-smi/{name}")) == banner


@pytest.mark.parametrize(
    ("name", "nvml_error", "library"),
    [
        ("mismatch-580.178.txt", "Driver/library version mismatch", "580.178"),
        ("mismatch-570.124.txt", "Driver/library version mismatch", "570.124"),
        ("mismatch-470-no-library-line.txt", "Driver/library version mismatch", None),
        ("no-driver.txt", "Driver Not Loaded", None),
        ("wsl-driver-not-loaded.txt", "Driver Not Loaded", None),
    ],
)
def test_failures_name_the_nvml_error(name: str, nvml_error: str, library: str | None) -> None:
    failure = parse_failure(recorded(f"nvidia-smi/{name}"))
    assert failure is not None
    assert failure.nvml_error == nvml_error
    assert failure.nvml_library == library
    assert failure.message.startswith(("Failed to initialize NVML", "NVIDIA-SMI has failed"))


def test_a_working_banner_is_not_a_failure() -> None:
    assert parse_failure(recorded("nvidia-smi/a10g-470.256.02.txt")) is None
    assert parse_banner(recorded("nvidia-smi/no-driver.txt")) is None


def test_query_rows_are_keyed_by_the_header() -> None:
    rows = parse_query_csv(recorded("nvidia-smi/query-titanv-rtx5880.csv"))
    assert [(r["index"], r["name"], r["compute_cap"]) for r in rows] == [
        ("0", "NVIDIA TITAN V", "7.0"),
        ("1", "NVIDIA RTX 5880 Ada Generation", "8.9"),
    ]


def test_query_cells_that_say_not_available_are_none() -> None:
    rows = parse_query_csv("index, memory.total [MiB], mig.mode.current\n0, 22731, [N/A]\n")
    assert rows == [{"index": "0", "memory.total": "22731", "mig.mode.current": None}]


def test_an_error_message_is_no_rows() -> None:
    assert parse_query_csv(recorded("nvidia-smi/query-compute-cap-invalid.txt")) == []
