"""The driver table: which driver runs a CUDA build, and which branch is the last for each GPU architecture.

Values from the CUDA Toolkit release notes (Tables 2 and 3), NVIDIA's CUDA Toolkit, Driver and
Architecture Matrix and its Unix graphics deprecation notice (notes/toolkits.md).
"""

from __future__ import annotations

import pytest
from packaging.version import Version

from torchrig import knowledge as k


def test_a_cu126_build_needs_the_cuda_12_compat_branch_and_cu130_needs_580() -> None:
    assert k.min_driver("12.6") == Version("525.60.13")
    assert k.min_driver("13.0") == Version("580")
    assert k.min_driver("12.6", minor_compat=False) == Version("560.28.03")


def test_cuda_8_to_10_have_their_own_ga_drivers() -> None:
    assert k.min_driver("8.0") == Version("367.48")
    assert k.min_driver("10.1", windows=True) == Version("418.96")
    assert k.min_driver("7.5") is None  # before the table


@pytest.mark.parametrize(
    ("cc", "branch", "family"),
    [
        ("2.1", 390, "Fermi"),
        ("3.0", 470, "Kepler"),
        ("3.7", 470, "Kepler"),
        ("5.2", 580, "Maxwell"),
        ("6.1", 580, "Pascal"),
        ("7.0", 580, "Volta"),
        ("7.5", None, "Turing"),
        ("8.6", None, "Ampere"),
        ("12.0", None, "Blackwell"),
    ],
)
def test_the_last_branch_of_each_architecture(cc: str, branch: int | None, family: str) -> None:
    assert k.last_branch_for(cc) == branch
    arch = k.architecture_of(cc)
    assert arch is not None and arch.name == family


def test_jetson_only_capabilities_have_no_desktop_branch() -> None:
    assert k.architecture_of("6.2") is None and k.last_branch_for("6.2") is None  # Jetson TX2: L4T drivers
    assert k.last_branch_for("8.7") is None


def test_the_recommended_branch_runs_the_build_and_still_supports_the_gpus() -> None:
    assert k.newest_compat_branch() == 580
    assert k.recommended_branch("11.8") == 580  # R580 runs every CUDA 11, 12 and 13 build
    assert k.recommended_branch("13.2") == 580
    assert k.recommended_branch() == 580
    assert k.recommended_branch("11.8", ccs=["3.7"]) == 470  # a K80 stays on its last branch
    assert k.recommended_branch("12.4", ccs=["3.7"]) is None  # CUDA 12 needs 525+: no branch runs it on Kepler
    assert k.recommended_branch("12.6", ccs=["6.1", "8.6"]) == 580  # a GTX 1080 is never sent to R590+
    assert k.oldest_last_branch(["8.6", "6.1", "3.5"]) == (470, "3.5")
    assert k.recommended_branch("99.9") is None  # a CUDA the tables do not know
