"""Every knowledge table is consistent with itself and with the others, and names where it comes from.

Each check here would catch a kind of slip a table edit can make: a release out of order, a variant
without architectures, a driver minimum that goes backwards, an [[arch]] row listing SASS its own
toolkit cannot compile, a GPU filed under the wrong architecture, an extension row whose specifier
does not parse. The last group proves the checks themselves fail on such slips.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from torchrig import knowledge as k


def cc_tuple(cc: str) -> tuple[int, int]:
    """ "8.6" / "sm_86" / "86" -> (8, 6)."""
    text = cc.removeprefix("sm_")
    return (int(text.split(".")[0]), int(text.split(".")[1])) if "." in text else (int(text[:-1]), int(text[-1]))


TABLES = ("torch_builds", "drivers", "cuda_toolkits", "gpus", "extensions", "signatures", "xid")
CC = re.compile(r"^\d{1,2}\.\d$")


@pytest.mark.parametrize("name", TABLES)
def test_each_table_names_its_source_and_as_of_date(name: str) -> None:
    meta = k.load(name)["meta"]
    assert meta["source"].strip(), name
    assert re.fullmatch(r"\d{4}-\d{2}", meta["as_of"]), name


# --- torch_builds.toml -----------------------------------------------------------------------


def release_problems(table: dict[str, Any]) -> list[str]:
    """What is wrong with the [release.*] rows of a torch_builds table (empty: nothing)."""
    problems = []
    minors = list(table["release"])
    if minors != sorted(minors, key=Version):
        problems.append(f"releases out of order: {minors}")
    vision = []
    for minor, row in table["release"].items():
        lo, hi = row["python"]
        if Version(lo) > Version(hi):
            problems.append(f"{minor}: python {lo} > {hi}")
        for key in ("variants", "aarch64", "windows_variants"):
            cudas = [Version(k.variant_cuda(v) or "0") for v in row.get(key, ())]
            if cudas != sorted(cudas) or len(set(cudas)) != len(cudas):
                problems.append(f"{minor}: {key} not sorted by CUDA version")
        if "default" in row and row["default"] not in row["variants"]:
            problems.append(f"{minor}: default {row['default']} is not one of its variants")
        listed = set(row["variants"]) | set(row.get("rocm", ()))
        for key in ("linux_only", "windows_variants"):
            if not set(row.get(key, ())) <= listed:
                problems.append(f"{minor}: {key} names a variant it does not have")
        for key in ("since", "last"):
            for variant, patch in row.get(key, {}).items():
                if variant not in listed or k.minor_of(patch) != minor:
                    problems.append(f"{minor}: {key} {variant} = {patch}")
        if "torchvision" in row:
            vision.append((minor, Version(row["torchvision"])))
        for key in ("released", "branch_cut"):
            if key in row and not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", row[key]):
                problems.append(f"{minor}: {key} {row[key]!r}")
        if "released" in row and "branch_cut" in row and row["branch_cut"][:7] > row["released"]:
            problems.append(f"{minor}: branch cut {row['branch_cut']} after the release {row['released']}")
    for (a, va), (b, vb) in itertools.pairwise(vision):
        if vb < va:
            problems.append(f"torchvision goes back from {a} ({va}) to {b} ({vb})")
    return problems


def test_releases_are_sorted_and_each_row_holds_together() -> None:
    assert release_problems(k.load("torch_builds")) == []
    assert [r.minor for r in k.releases()][-1] == "0.4" and k.releases()[0].minor == "2.15"


def test_every_variant_of_every_release_has_an_arch_row_or_the_toolkit_rule_answers() -> None:
    for rel in k.releases():
        for platform, variants in (("linux-x86_64", rel.variants), ("linux-aarch64", rel.aarch64)):
            for variant in variants:
                cuda = k.variant_cuda(variant)
                assert cuda is not None and k.min_driver(cuda) is not None, (rel.minor, variant)
                if k.arch_list(rel.minor, variant, platform) is None:
                    assert k.possible_archs(cuda) is not None, (rel.minor, variant, platform)


def test_every_arch_row_lists_only_targets_its_toolkit_compiles() -> None:
    """A build cannot contain SASS (or PTX) its CUDA toolkit has no target for."""
    for row in k.load("torch_builds")["arch"]:
        cuda = k.variant_cuda(row["variant"])
        tk = k.toolkit(cuda or "")
        assert tk is not None, row["variant"]
        renamed = {"110": "101"} if Version(tk.version) < Version("13.0") else {}  # Thor: sm_101 until 12.9
        for sm in [*row.get("sm", ()), *([row["ptx"]] if "ptx" in row else [])]:
            assert f"sm_{renamed.get(sm, sm)}" in tk.sm, (row["variant"], row.get("releases"), sm)
        assert bool(row.get("unsourced")) == (not row.get("sm")), row
        assert row.get("src") or row.get("unsourced"), row


def test_every_arch_row_is_used_by_some_release() -> None:
    for row in k.load("torch_builds")["arch"]:
        lo, hi = row.get("releases", ["0", "999"])
        uses = [
            r
            for r in k.releases()
            if Version(lo) <= Version(r.minor) <= Version(hi)
            and row["variant"] in (r.aarch64 if row.get("platform") == "linux-aarch64" else r.variants)
        ]
        assert uses or row["variant"] == "cu115", row  # cu115: built for 1.11, no wheel listed (see the row)


def test_rocm_rows_name_releases_that_ship_them() -> None:
    for row in k.load("torch_builds")["rocm_arch"]:
        lo, hi = row["releases"]
        assert any(row["variant"] in r.rocm for r in k.releases() if Version(lo) <= Version(r.minor) <= Version(hi)), (
            row
        )
        assert row.get("unsourced") or all(g.startswith("gfx") for g in row["gfx"]), row


# --- drivers.toml ------------------------------------------------------------------------------


def driver_problems(table: dict[str, Any]) -> list[str]:
    """Driver minimums must not go down as the toolkit goes up, within a CUDA major."""
    problems = []
    for section in ("cuda", "cuda_release"):
        rows = list(table[section].items())
        if [v for v, _ in rows] != sorted((v for v, _ in rows), key=Version):
            problems.append(f"[{section}] not in version order")
        for column in ("linux", "windows"):
            last: dict[int, tuple[str, Version]] = {}
            for version, row in rows:
                if column not in row or row.get("prerelease"):
                    continue
                major, need = Version(version).major, Version(row[column])
                if major in last and need < last[major][1]:
                    problems.append(f"[{section}] {column}: {version} needs {need}, below {last[major][0]}")
                last[major] = (version, need)
    for major, floor in table["minor_compat"].items():
        branch = table["minor_compat_branch"][major]
        if not branch["min"] <= Version(floor["linux"]).major < branch.get("max_exclusive", 10_000):
            problems.append(f"minor_compat {major}: {floor['linux']} outside its branch")
    return problems


def test_driver_minimums_never_go_down_within_a_cuda_major() -> None:
    assert driver_problems(k.load("drivers")) == []


def test_every_toolkit_has_a_driver_row_and_every_architecture_a_branch_or_is_current() -> None:
    drivers = k.load("drivers")
    for tk in k.toolkits():
        assert tk.version in drivers["cuda"], tk.version
    seen: list[tuple[int, int]] = []
    for arch in k.architectures():
        assert all(CC.match(cc) for cc in arch.compute), arch
        seen += [cc_tuple(cc) for cc in arch.compute]
        assert arch.last_branch is None or arch.last_cuda is not None, arch
    assert seen == sorted(seen)  # oldest architecture first


# --- cuda_toolkits.toml --------------------------------------------------------------------


def toolkit_problems(table: dict[str, Any]) -> list[str]:
    """Each toolkit's min/max, added/removed and deprecated agree with its own target list and the previous one."""
    problems = []
    versions = list(table["toolkit"])
    if versions != sorted(versions, key=Version):
        problems.append("toolkits not in version order")
    before: set[str] = set()
    for version, row in table["toolkit"].items():
        sm = row["sm"]
        if sm != sorted(sm, key=cc_tuple) or len(set(sm)) != len(sm):
            problems.append(f"{version}: sm not sorted")
        if (row["min_sm"], row["max_sm"]) != (sm[0], sm[-1]):
            problems.append(f"{version}: min_sm/max_sm {row['min_sm']}/{row['max_sm']} vs {sm[0]}/{sm[-1]}")
        if (row["min_cc"], row["max_cc"]) != tuple("{}.{}".format(*cc_tuple(s)) for s in (sm[0], sm[-1])):
            problems.append(f"{version}: min_cc/max_cc disagree with min_sm/max_sm")
        now = set(sm) | set(row["sm_arch_specific"]) | set(row["sm_family_specific"])
        if before and (set(row["added"]) != now - before or set(row["removed"]) != before - now):
            problems.append(f"{version}: added/removed disagree with the previous toolkit")
        if not set(row.get("deprecated", ())) <= now:
            problems.append(f"{version}: deprecates a target it does not have")
        if row["evidence"] not in ("measured", "secondary") or (row["evidence"] == "measured") != ("ptx_isa" in row):
            problems.append(f"{version}: evidence {row['evidence']}")
        before = now
    return problems


def test_toolkit_target_ranges_hold_together() -> None:
    assert toolkit_problems(k.load("cuda_toolkits")) == []


def test_the_general_rule_is_stated_with_its_source() -> None:
    rule = k.load("cuda_toolkits")["rule"]
    assert "PTX" in rule["unknown_arch_list"] and "Binary Compatibility" in rule["source"]


# --- gpus.toml -------------------------------------------------------------------------------

ARCH_CCS = {  # compute capabilities of each architecture (NVIDIA CUDA GPUs pages; cuda_toolkits.toml)
    "Fermi": {"2.0", "2.1"},
    "Kepler": {"3.0", "3.2", "3.5", "3.7"},
    "Maxwell": {"5.0", "5.2", "5.3"},
    "Pascal": {"6.0", "6.1", "6.2"},
    "Volta": {"7.0", "7.2"},
    "Turing": {"7.5"},
    "Ampere": {"8.0", "8.6", "8.7"},
    "Ada": {"8.9"},
    "Hopper": {"9.0"},
    "Blackwell": {"10.0", "10.3", "11.0", "12.0", "12.1"},
}


def gpu_problems(table: dict[str, Any]) -> list[str]:
    """Each GPU row: a valid capability of its architecture, a known segment, unique spellings, sources named."""
    problems = []
    seen: dict[str, str] = {}
    sources = set(table["meta"]["sources"])
    for row in table["gpu"]:
        name, cc = row["name"], row["cc"]
        if not CC.match(cc) or cc not in ARCH_CCS.get(row["arch"], set()):
            problems.append(f"{name}: cc {cc} is not a {row['arch']} capability")
        driver_arch = k.architecture_of(cc) if CC.match(cc) else None
        if driver_arch is not None and driver_arch.name != row["arch"]:
            problems.append(f"{name}: {row['arch']}, but the driver matrix files {cc} under {driver_arch.name}")
        if row["segment"] not in ("datacenter", "workstation", "geforce", "geforce-laptop", "jetson", "titan"):
            problems.append(f"{name}: segment {row['segment']}")
        if not row["src"] or not set(row["src"]) <= sources or row["basis"] not in ("listed", "chip"):
            problems.append(f"{name}: sources {row['src']} / basis {row['basis']}")
        for text in (name, *row["aliases"]):
            if text.lower() in seen:
                problems.append(f"{text!r} is both {seen[text.lower()]} and {name}")
            seen[text.lower()] = name
    return problems


def test_every_gpu_has_a_capability_of_its_architecture() -> None:
    table = k.load("gpus")
    assert len(table["gpu"]) > 400
    assert gpu_problems(table) == []


# --- extensions.toml -------------------------------------------------------------------------


def extension_problems(table: dict[str, Any]) -> list[str]:
    """Valid PEP 440 specifiers, capabilities and sources, and no version/CUDA pair two rows of a group claim."""
    problems = []
    groups: dict[tuple[str, str], list[tuple[SpecifierSet, SpecifierSet, int]]] = {}
    for i, row in enumerate(table["extension"]):
        where = f"{row['package']} {row.get('feature', '')} {row['versions']!r}"
        try:
            versions, cuda = SpecifierSet(row["versions"]), SpecifierSet(row.get("cuda", ""))
        except Exception as exc:  # InvalidSpecifier: the message names the text
            problems.append(f"{where}: {exc}")
            continue
        ccs = [row["min_cc"], row.get("max_cc", row["min_cc"]), row.get("alternative_min_cc", row["min_cc"])]
        if not all(CC.match(cc) for cc in ccs) or cc_tuple(ccs[0]) > cc_tuple(ccs[1]):
            problems.append(f"{where}: capabilities {ccs}")
        if not row["source"].startswith("https://") or not row["why"].strip():
            problems.append(f"{where}: source / why")
        if "alternative" in row:
            Requirement(row["alternative"])  # raises on a malformed one
            if "alternative_min_cc" not in row:
                problems.append(f"{where}: alternative without alternative_min_cc")
        groups.setdefault((row["package"], row.get("feature", "")), []).append((versions, cuda, i))
    cudas = ["10.2", "11.8", "12.1", "12.4", "12.6", "12.8", "12.9", "13.0", "13.2"]
    for (package, feature), rows in groups.items():
        probes = {"0.0.1", "999"}
        for versions, _, _ in rows:
            for spec in versions:
                v = Version(spec.version.replace(".*", ""))
                probes |= {str(v), f"{v}.post1", f"{v.major}.{v.minor}.{v.micro + 1}"}
        for probe in probes:
            for cu in cudas:
                hits = [i for versions, cuda, i in rows if versions.contains(probe, True) and cuda.contains(cu, True)]
                if len(hits) > 1:
                    problems.append(f"{package} {feature}: {probe} with CUDA {cu} matches rows {hits}")
    return problems


def test_every_extension_row_is_a_valid_specifier_with_a_source() -> None:
    table = k.load("extensions")
    assert len(table["extension"]) >= 70
    assert extension_problems(table) == []


# --- the checks catch the slips they are for -------------------------------------------------


def _edited(name: str, edit: Any) -> dict[str, Any]:
    import copy

    table = copy.deepcopy(k.load(name))
    edit(table)
    return table


def test_the_checks_fail_on_each_kind_of_slip() -> None:
    def swap_releases(t: dict[str, Any]) -> None:
        items = list(t["release"].items())
        items[3], items[4] = items[4], items[3]
        t["release"] = dict(items)

    assert release_problems(_edited("torch_builds", swap_releases))
    assert release_problems(_edited("torch_builds", lambda t: t["release"]["2.5"].update(python=["3.13", "3.9"])))
    assert release_problems(_edited("torch_builds", lambda t: t["release"]["2.5"].update(torchvision="0.30")))
    assert release_problems(_edited("torch_builds", lambda t: t["release"]["2.5"].update(default="cu130")))
    assert driver_problems(_edited("drivers", lambda t: t["cuda"]["12.4"].update(linux="520.61.05")))
    assert toolkit_problems(_edited("cuda_toolkits", lambda t: t["toolkit"]["12.0"].update(max_sm="sm_120")))
    assert toolkit_problems(_edited("cuda_toolkits", lambda t: t["toolkit"]["12.8"].update(added=["sm_100"])))
    assert gpu_problems(_edited("gpus", lambda t: t["gpu"][0].update(cc="8.6")))
    assert gpu_problems(_edited("gpus", lambda t: t["gpu"][1]["aliases"].append(t["gpu"][0]["name"].upper())))
    assert extension_problems(_edited("extensions", lambda t: t["extension"][0].update(versions="=>2")))
    assert extension_problems(_edited("extensions", lambda t: t["extension"][1].update(versions="")))
