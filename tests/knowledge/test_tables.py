"""The knowledge tables are consistent with themselves and answer the questions users ask."""

from __future__ import annotations

import pytest
from packaging.version import Version

from torchrig import knowledge as k


def test_every_release_default_is_one_of_its_variants() -> None:
    for rel in k.releases():
        assert rel.default in rel.variants, rel.minor


def test_every_variant_of_every_release_has_an_arch_list_and_a_driver_row() -> None:
    for rel in k.releases():
        for variant in rel.variants:
            archs = k.arch_list(rel.minor + ".0", variant)
            assert archs, (rel.minor, variant)
            cuda = k.variant_cuda(variant)
            assert cuda is not None and k.min_driver(cuda) is not None, (rel.minor, variant)


def test_driver_minimums_grow_with_cuda_release() -> None:
    rows = sorted(k.load("drivers")["cuda"].items(), key=lambda kv: Version(kv[0]))
    linux = [Version(v["linux"]) for _, v in rows]
    assert linux == sorted(linux)


def test_a_cu126_build_needs_the_cuda_12_compat_branch_and_cu130_needs_580() -> None:
    assert k.min_driver("12.6") == Version("525.60.13")
    assert k.min_driver("13.0") == Version("580")
    assert k.min_driver("12.6", minor_compat=False) == Version("560.28.03")


@pytest.mark.parametrize(
    ("torch", "variant", "cc", "covered"),
    [
        ("2.13.0", "cu130", "7.0", False),  # V100: CUDA 13 dropped Volta
        ("2.13.0", "cu126", "7.0", True),
        ("2.13.0", "cu126", "6.1", True),  # sm_60 SASS runs on 6.1 (GTX 10xx)
        ("2.13.0", "cu130", "6.1", False),
        ("2.13.0", "cu126", "12.0", False),  # Blackwell consumer: no sm_120 in cu126
        ("2.13.0", "cu130", "12.0", True),
        ("2.13.0", "cu130", "12.1", True),  # sm_120 code runs on 12.1
        ("2.13.0", "cu130", "10.3", True),  # sm_100 code runs on B300
        ("2.11.0", "cu128", "7.0", False),  # torch 2.11 cu128 dropped Volta
        ("2.9.0", "cu128", "7.0", True),
        ("2.13.0", "cu130", "8.9", True),  # Ada runs sm_86 code
        ("2.13.0", "cu130", "8.7", False),  # Orin is an exact-only iGPU target
    ],
)
def test_arch_coverage(torch: str, variant: str, cc: str, covered: bool) -> None:
    assert k.build_covers(k.arch_list(torch, variant), cc) is covered


def test_ptx_is_jit_compiled_for_newer_capabilities() -> None:
    assert k.arch_covers("compute_120", "12.1")
    assert not k.arch_covers("compute_120", "10.0")


def test_variant_of_reads_the_local_tag_then_torch_version_cuda() -> None:
    assert k.variant_of("2.13.0+cu130") == "cu130"
    assert k.variant_of("2.13.0+cpu") == "cpu"
    assert k.variant_of("2.1.0", "12.1") == "cu121"
    assert k.variant_cuda("cu118") == "11.8"
