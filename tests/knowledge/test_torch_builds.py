"""The PyTorch release tables answer what users ask: which builds a release has, what each is compiled for,
and, where a build's list is unknown, what its CUDA toolkit makes possible.

Expected values are read off the primary sources named in notes/torch_builds.md and notes/toolkits.md
(release build scripts, scans of the PyPI wheels, NVIDIA's compiler), not off torchrig's own output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from torchrig import knowledge as k


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
        ("2.5.1", "cu118", "3.7", True),  # cu118 wheels kept sm_37 through 2.7 (builder release/2.1..2.5)
        ("2.7.0", "cu118", "3.7", True),
        ("2.10.0", "cu128", "12.1", True),  # SASS sm_120 covers 12.1 ...
        ("2.10.0", "cu128", "10.3", True),
        # 1.4's "3.7+PTX" list: the driver could JIT compute_37 for Ampere, but CUDA 10.1 and its cuDNN/cuBLAS
        # predate the GPU (torch warns, and cuDNN fails: pytorch#45021): a doubt, not coverage
        ("1.4.0", "cu101", "8.6", None),
        ("1.6.0", "cu101", "8.0", False),  # 1.6.0 cu101 had 3.7;5.0;6.0;7.0 and no PTX (builder 8d064bfc)
        ("1.13.1", "cu117", "8.6", True),  # the scanned 1.13.0 wheel has sm_86
    ],
)
def test_arch_coverage(torch: str, variant: str, cc: str, covered: bool | None) -> None:
    # the list alone (SASS or any PTX) runs the build's own kernels; coverage also weighs the toolkit that made it
    assert k.build_covers(k.arch_list(torch, variant) or [], cc) is (covered is not False)
    assert k.coverage(torch, variant, cc).covered is covered


def test_released_wheels_ship_no_ptx_where_the_scans_found_none() -> None:
    # PyPI 2.8.0 / 2.10.0 cu128 and 2.11.0 / 2.13.0 cu130 wheels: SASS only (pytorch#157516, #188925)
    for torch, variant in [("2.8.0", "cu128"), ("2.10.0", "cu128"), ("2.11.0", "cu130"), ("2.13.0", "cu130")]:
        assert not [a for a in k.arch_list(torch, variant) or ["missing"] if a.startswith("compute_")], torch
    # the 1.x wheels of 2018-2020 did ship PTX for their lowest architecture
    assert k.arch_list("1.0.1", "cu90") == ["sm_35", "sm_50", "sm_60", "sm_70", "compute_50"]


def test_ptx_is_jit_compiled_for_newer_capabilities() -> None:
    assert k.arch_covers("compute_120", "12.1")
    assert not k.arch_covers("compute_120", "10.0")
    assert k.arch_covers("sm_90a", "9.0") and not k.arch_covers("sm_90a", "10.0")  # arch-specific: that GPU only
    assert k.arch_covers("sm_100f", "10.3") and not k.arch_covers("sm_100f", "12.0")  # family-specific


def test_corrections_from_the_primary_sources() -> None:
    assert k.release("2.5.1").default == "cu124"  # PyPI's 2.5 wheels require nvidia-cuda-runtime-cu12==12.4.127
    assert k.release("2.5.0").python_max == "3.13"  # cp313 wheels on PyPI
    assert k.release("1.13.1").python_max == "3.11"  # cp311 wheels on PyPI
    assert "sm_61" not in (k.arch_list("2.0.1", "cu118") or [])  # sm_61 is in the conda builds, not the wheels
    assert "sm_37" in (k.arch_list("2.1.0", "cu118") or [])


def test_a_nightly_maps_to_its_minor_and_its_variant() -> None:
    nightly = "2.8.0.dev20250501+cu128"
    assert k.is_nightly(nightly) and not k.is_nightly("2.8.0+cu128") and not k.is_nightly("2.8.0rc3")
    rel = k.release(nightly)
    assert rel is not None and rel.minor == "2.8"
    variant = k.variant_of(nightly)
    assert variant == "cu128"
    assert k.arch_list(nightly, variant) == k.arch_list("2.8.0", "cu128")
    assert k.coverage(nightly, variant, "9.0").covered is True
    # the release's cu128 list has no Pascal; a nightly's may differ, so that is a doubt, not a verdict
    pascal = k.coverage(nightly, variant, "6.1")
    assert pascal.covered is None and pascal.doubtful and "nightly" in pascal.why
    # ... unless the toolkit rules it out: CUDA 13 cannot target Pascal at all
    assert k.coverage("2.14.0.dev20260801+cu130", "cu130", "6.1").covered is False


@pytest.mark.parametrize(
    ("version", "cuda", "variant"),
    [
        ("2.13.0+cu130", None, "cu130"),
        ("2.13.0+cpu", None, "cpu"),
        ("2.1.0", "12.1", "cu121"),
        ("2.5.1+rocm6.2", None, "rocm6.2"),
        ("2.6.0+rocm6.2.4", None, "rocm6.2.4"),
        ("1.0.0", "9.0.176", "cu90"),
    ],
)
def test_variant_of_reads_the_local_tag_then_torch_version_cuda(version: str, cuda: str | None, variant: str) -> None:
    assert k.variant_of(version, cuda) == variant


def test_variant_cuda() -> None:
    assert [k.variant_cuda(v) for v in ("cu118", "cu80", "cu132", "cpu")] == ["11.8", "8.0", "13.2", None]


def test_the_new_fields_of_a_release() -> None:
    rel = k.release("2.13.0")
    assert rel is not None
    assert rel.rocm == ("rocm7.1", "rocm7.2") and rel.aarch64 == ("cu126", "cu129", "cu130", "cu132")
    assert rel.macos == ("arm64",) and rel.on_windows() == ("cu126", "cu130", "cu132")
    assert rel.released == "2026-07" and rel.branch_cut == "2026-06-10"
    old = k.release("0.4.1")
    assert old is not None and old.default is None and old.macos == ("x86_64",) and old.torchaudio is None
    assert k.release("2.2.2").macos == ("x86_64", "arm64")  # type: ignore[union-attr]  # the last Intel-Mac wheels
    assert k.release("3.0.0") is None


def test_which_patch_release_has_a_variant() -> None:
    r212, r10, r04 = k.release("2.12"), k.release("1.0"), k.release("0.4")
    assert r212 is not None and r10 is not None and r04 is not None
    assert not r212.ships("cu129", "2.12.0") and r212.ships("cu129", "2.12.1") and r212.ships("cu129")
    assert r10.ships("cu80", "1.0.0") and not r10.ships("cu80", "1.0.1")
    assert not r04.ships("cu92", "0.4.0") and r04.ships("cu92", "0.4.1") and not r04.ships("cu91", "0.4.1")
    assert not r212.ships("cu118")


def test_aarch64_and_rocm_lists() -> None:
    assert k.arch_list("2.13.0", "cu130", "linux-aarch64") == ["sm_80", "sm_90", "sm_100", "sm_110", "sm_120"]
    assert k.arch_list("2.13.0", "cu129", "linux-aarch64") is None  # sources conflict: unknown, not empty
    assert k.wheel_platform("aarch64") == "linux-aarch64" and k.wheel_platform("x86_64") == "linux-x86_64"
    assert k.rocm_arch_list("2.3.1", "rocm6.0") == [
        "gfx900", "gfx906", "gfx908", "gfx90a", "gfx942", "gfx1030", "gfx1100"
    ]  # fmt: skip
    assert k.rocm_arch_list("2.13.0", "rocm7.2") is None  # no source for ROCm >= 6.2


# --- the toolkit rule, where a build's own list is unknown -----------------------------------


def test_possible_archs_are_the_toolkits_lowest_and_highest_targets() -> None:
    assert k.possible_archs("10.1") == ("sm_30", "sm_75")
    assert k.possible_archs("11.8.89") == ("sm_35", "sm_90")
    assert k.possible_archs("12.8") == ("sm_50", "sm_120")
    assert k.possible_archs("13.0") == ("sm_75", "sm_121")
    assert k.possible_archs("12.7") is None  # there is no CUDA 12.7


@pytest.mark.parametrize(
    ("cuda", "cc", "may"),
    [
        ("10.1", "7.5", True),  # nvcc 10.1 has sm_75: a build of it may carry it
        ("10.1", "8.6", None),  # newest target sm_75: an RTX 3090 runs it only through PTX
        ("11.0", "8.6", True),  # sm_80 SASS runs on 8.6
        ("11.0", "3.0", False),  # CUDA 11 dropped Kepler 3.0: nothing it builds runs there
        ("12.6", "12.0", None),  # no Blackwell target before 12.8
        ("12.8", "12.0", True),
        ("13.0", "7.0", False),  # CUDA 13 cannot target Volta
        ("13.0", "6.1", False),
        ("8.0", "2.1", True),  # Fermi, last supported by CUDA 8.0
        ("9.0", "2.1", False),
        ("99.0", "8.0", None),  # a toolkit the table does not know
    ],
)
def test_build_may_cover(cuda: str, cc: str, may: bool | None) -> None:
    assert k.build_may_cover(cuda, cc) is may


def test_a_build_without_an_arch_row_is_judged_by_its_toolkit() -> None:
    # a source build of 1.9 against CUDA 11.3 (PyTorch published 1.9 for cu102/cu111 only): no row
    assert k.arch_list("1.9.0+cu113", "cu113") is None
    kepler = k.coverage("1.9.0+cu113", "cu113", "3.0")
    assert kepler.covered is False and "CUDA 11.3" in kepler.why
    hopper = k.coverage("1.9.0+cu113", "cu113", "9.0")
    assert hopper.covered is None and hopper.doubtful and "PTX" in hopper.why
    ampere = k.coverage("1.9.0+cu113", "cu113", "8.6")
    assert ampere.covered is None and not ampere.doubtful  # nvcc 11.3 has sm_86: only the build's list knows
    # torch 1.10's cu113 wheels have the row of builder's release/1.10 build.sh (11.[123])
    assert k.arch_list("1.10.2+cu113", "cu113") == ["sm_37", "sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86"]
    # an unsourced row is unknown too: 2.11's cu129 list was not found
    assert k.arch_list("2.11.0", "cu129") is None
    assert k.coverage("2.11.0", "cu129", "12.0").covered is None
    assert k.coverage("2.11.0", "cu129", "3.7").covered is False  # CUDA 12.9 cannot target Kepler


def test_an_unverified_ptx_is_a_doubt_for_newer_gpus_only() -> None:
    # 2.7's cu128: +PTX kept for nightlies, "will remove it for 2.7.0 stable" (pytorch#145792), not verified
    assert k.coverage("2.7.0", "cu128", "12.0").covered is True
    future = k.coverage("2.7.0", "cu128", "13.0")  # a GPU newer than every SASS in it: only PTX could run it
    assert future.covered is None and future.doubtful and "not verified" in future.why
    assert k.coverage("2.7.0", "cu128", "7.0").covered is False  # older than its lowest SASS: PTX cannot help
    assert k.coverage("2.8.0", "cu128", "13.0").covered is False  # 2.8's wheels were scanned: no PTX


# --- Python per platform, and the newest releases, against PyPI's own listing ----------------------
#
# notes/pypi_wheel_pythons.json is what tools/pypi_wheel_pythons.py read from PyPI's JSON index on the
# table's as-of date: every wheel of every torch release with its python and platform tags, and the
# Requires-Dist of the newest ones. The table must say what those files say.

PYPI = json.loads((Path(k.__file__).parent / "notes" / "pypi_wheel_pythons.json").read_text())
_CPYTHON = re.compile(r"^\d+\.\d+$")  # "3.13" (not "3.13t", the free-threaded build, nor "py3")


def _pypi_pythons(minor: str) -> dict[str, list[str]]:
    """Every CPython with a PyPI wheel of any X.Y.Z of ``minor``, per platform, oldest first."""
    found: dict[str, set[str]] = {p: set() for p in k.WHEEL_PLATFORMS}
    for version, files in PYPI["torch"].items():
        if k.minor_of(version) == minor:
            for platform, pythons in files["pythons"].items():
                found[platform].update(p for p in pythons if _CPYTHON.match(p))
    return {p: sorted(s, key=Version) for p, s in found.items()}


def _cpythons_between(low: str, high: str) -> list[str]:
    """The CPython minors from ``low`` to ``high`` that ever existed (no 3.0-3.4 wheels: 2.7 is followed by 3.5)."""
    every = ["2.7", *(f"3.{n}" for n in range(5, 20))]
    return [p for p in every if Version(low) <= Version(p) <= Version(high)]


@pytest.mark.parametrize("rel", [r for r in k.releases() if r.minor != "0.4"], ids=lambda r: r.minor)
def test_every_platforms_python_range_is_the_one_pypi_has_wheels_for(rel: k.TorchRelease) -> None:
    pypi = _pypi_pythons(rel.minor)
    assert pypi["linux-x86_64"], f"PyPI has no Linux wheel of torch {rel.minor}"
    for platform in k.WHEEL_PLATFORMS:
        have, table = pypi[platform], rel.python_range(platform)
        if not have:
            assert table is None, f"{rel.minor} {platform}: PyPI has no wheel, the table gives {table}"
            continue
        assert table is not None, f"{rel.minor} {platform}: PyPI has {have}, the table none"
        assert (table.low, table.high) == (have[0], have[-1]), (rel.minor, platform)
        # a range stands for every Python in it: PyPI must have no gap inside (over the minor's patches)
        assert have == _cpythons_between(table.low, table.high), (rel.minor, platform, have)


def test_pythons_differ_by_platform_where_pypi_says_so() -> None:
    r25 = k.release("2.5.1")
    assert r25 is not None
    assert r25.supports_python("3.13", "linux-x86_64") and r25.supports_python("3.13")
    for platform in ("macos", "macos-arm64", "windows", "linux-aarch64"):
        assert not r25.supports_python("3.13", platform), platform
        assert r25.supports_python("3.12", platform), platform
    assert r25.python_range("macos") == k.PythonRange("3.9", "3.12", "macos")
    r26 = k.release("2.6.0")
    assert r26 is not None and r26.supports_python("3.13", "macos-arm64")
    # 1.11's first Apple-silicon wheels start at 3.8, its Intel ones at 3.7: "macos" spans both
    r111 = k.release("1.11.0")
    assert r111 is not None and r111.python_range("macos-arm64") == k.PythonRange("3.8", "3.10", "macos-arm64")
    assert r111.python_range("macos") == k.PythonRange("3.7", "3.10", "macos")
    # no Windows wheel on PyPI before 1.7 (download.pytorch.org had them): unknown, so the Linux range answers
    r16 = k.release("1.6.0")
    assert r16 is not None and r16.python_range("windows") is None and r16.supports_python("3.8", "windows")
    # after 2.2 no macOS Intel wheel at all
    assert r25.python_range("macos-x86_64") is None


@pytest.mark.parametrize(
    ("system", "machine", "platform"),
    [
        ("Darwin", "arm64", "macos-arm64"),
        ("darwin", "x86_64", "macos-x86_64"),
        ("Darwin", None, "macos"),
        ("Windows", "AMD64", "windows"),
        ("Linux", "aarch64", "linux-aarch64"),
        ("Linux", "x86_64", "linux-x86_64"),
        ("Linux", None, None),
        (None, "arm64", None),
    ],
)
def test_python_platform_of_a_machine(system: str | None, machine: str | None, platform: str | None) -> None:
    assert k.python_platform(system, machine) == platform


def _requires(version: str, package: str = "torch", platform: str = "linux-x86_64") -> list[str]:
    return PYPI[package][version]["wheel_requires_dist"][platform]


def _cuda_toolkit_pin(version: str) -> str:
    """The CUDA the PyPI wheel of ``version`` pulls: cuda-toolkit[...]==13.0.3 -> "13.0"."""
    pins = [Requirement(r) for r in _requires(version) if r.startswith("cuda-toolkit")]
    assert len(pins) == 1, version
    (spec,) = pins[0].specifier
    return ".".join(spec.version.split(".")[:2])


@pytest.mark.parametrize("version", ["2.13.0", "2.14.0", "2.14.1", "2.15.0"])
def test_the_default_variant_is_the_cuda_the_pypi_wheel_requires(version: str) -> None:
    rel = k.release(version)
    assert rel is not None and rel.default is not None
    assert k.variant_cuda(rel.default) == _cuda_toolkit_pin(version)
    # the CUDA requirements are marked for Linux on any machine: aarch64 pulls the same build
    assert rel.aarch64_default == rel.default
    assert _requires(version, platform="linux-aarch64") == _requires(version)


def test_the_newest_releases_pair_with_the_companions_pypi_pins() -> None:
    for vision, torch in [("0.28.0", "2.13.0"), ("0.29.0", "2.14.0"), ("0.29.1", "2.14.1"), ("0.29.2", "2.15.0")]:
        (req,) = [Requirement(r) for r in _requires(vision, "torchvision") if r.startswith("torch")]
        assert req.specifier.contains(torch), (vision, torch)
        rel = k.release(torch)
        assert rel is not None and dict(rel.torchvision_pins).get(torch, f"{rel.torchvision}.0") == vision
    # torchaudio 2.11.1 requires torch>=2.11: the forward compatibility the table states for 2.12+
    (audio,) = [Requirement(r) for r in _requires("2.11.1", "torchaudio") if r.startswith("torch")]
    for minor in ("2.12", "2.13", "2.14", "2.15"):
        rel = k.release(minor)
        assert rel is not None and rel.torchaudio == "2.11" and rel.torchaudio_forward_compatible
        assert audio.specifier.contains(f"{minor}.0")


def test_patches_and_release_months_are_pypis() -> None:
    for rel in k.releases():
        ours = [v for v in PYPI["torch"] if k.minor_of(v) == rel.minor]
        if rel.patches:
            assert list(rel.patches) == sorted(ours, key=Version), rel.minor
        if ours and Version(rel.minor) >= Version("2.14"):
            assert rel.released == PYPI["torch"][f"{rel.minor}.0"]["first_upload"][:7], rel.minor


def test_a_release_with_partly_sourced_variants_does_not_deny_the_others() -> None:
    r215 = k.release("2.15.0")
    assert r215 is not None and r215.variants_partial and r215.variants == ("cu132",)
    assert r215.ships("cu132") and r215.ships("cu130")  # unknown, not absent
    assert not r215.ships("cpu")
    r214 = k.release("2.14.1")
    assert r214 is not None and not r214.variants_partial and not r214.ships("cu129")
    assert r214.variants == ("cu126", "cu130", "cu132") and r214.on_windows() == r214.variants
    assert k.arch_list("2.14.1", "cu126") == k.arch_list("2.13.0", "cu126")  # pytorch#197555: 2.14 = 2.13
    assert k.arch_list("2.15.0", "cu132") is None  # no source: the toolkit's range answers


def test_any_platform_is_the_union_of_every_platforms_range() -> None:
    # 1.10.2's aarch64 wheels reached 3.10, its Linux x86_64 ones 3.9; 1.5.0's macOS ones went back to 2.7
    assert k.release("1.10.2").python_range("any") == k.PythonRange("3.6", "3.10", "any")  # type: ignore[union-attr]
    assert k.release("1.5.0").python_range("any") == k.PythonRange("2.7", "3.8", "any")  # type: ignore[union-attr]
    assert k.release("2.5.1").python_range("any") == k.PythonRange("3.9", "3.13", "any")  # type: ignore[union-attr]


def test_the_build_pypi_delivers_per_platform() -> None:
    """uv's guide: PyPI has CPU-only wheels for Windows and macOS; Linux aarch64 got CUDA wheels on PyPI in 2.11."""
    from torchrig import knowledge

    old, new = knowledge.release("2.10.0"), knowledge.release("2.11.0")
    assert old is not None and new is not None
    assert [old.pypi_variant(p) for p in ("windows", "macos-arm64", "linux-aarch64", "linux-x86_64")] == [
        "cpu",
        "cpu",
        "cpu",
        "cu128",
    ]
    assert (new.pypi_variant("windows"), new.pypi_variant("linux-aarch64")) == ("cpu", "cu130")
    assert knowledge.release("1.6.0").pypi_variant("windows") is None  # no Windows wheel of 1.6 on PyPI


def test_recent_builds_without_kernels_are_the_old_and_the_newest_architectures() -> None:
    # torch 2.8's release notes: sm_50-sm_70 dropped from the CUDA 12.8/12.9 builds; sm_120 first came with cu128
    pascal = k.recent_builds_without("6.1")
    assert "torch 2.8 cu128" in pascal and not any(b.endswith("cu126") for b in pascal)
    assert "torch 2.6 cu126" in k.recent_builds_without("12.0")
    assert k.recent_builds_without("8.6") == [] and k.recent_builds_without("8.9") == []


def test_old_ptx_from_a_toolkit_that_predates_the_gpu_is_a_doubt_not_coverage() -> None:
    # torch 1.5's cu101 wheels carry compute_37 PTX, which the driver could JIT for an RTX 30 card (8.6), but CUDA 10.1
    # cannot compile for Ampere at all, and its cuDNN and cuBLAS predate it (pytorch#45021: CUDA 11 builds needed)
    ampere = k.coverage("1.5.1+cu101", "cu101", "8.6")
    assert ampere.covered is None and ampere.doubtful and "CUDA 10.1" in ampere.why and "compute_37" in ampere.why
    # SASS of the same major runs (sm_80 on 8.6), and a toolkit that knows the GPU is no doubt
    assert k.coverage("1.7.1+cu110", "cu110", "8.6").covered is True
    assert k.coverage("1.5.1+cu101", "cu101", "7.5").covered is True


def test_no_cuda_build_of_torch_2_1_runs_on_blackwell_whichever_variant_is_installed() -> None:
    # torch 2.1 shipped cu118 and cu121 (PyTorch's release matrix); sm_120 came with 2.7's cu128
    verdict = k.no_variant_covers("2.1.2", "12.0")
    assert verdict is not None and verdict.covered is False
    assert "cu118, cu121" in verdict.why
    assert k.no_variant_covers("2.8.0", "12.0") is None  # its cu128 and cu129 builds carry sm_120
    assert k.no_variant_covers("2.8.0.dev20250601", "12.0") is None  # a nightly: the tables only estimate it
