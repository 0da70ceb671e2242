"""run_checks: every check runs, findings come root cause first, and consequences fold into their cause."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from check_facts import (
    ARCH_CU124,
    ARCH_CU130,
    GTX1080,
    H100,
    RTX4090,
    RTX5090,
    T4,
    V100,
    codes,
    findings_of,
    lib,
    linux_gpu_box,
    mac,
    pkg,
    report,
    this_machine,
)

import torchrig.doctor.checks as torchrig_checks
from torchrig._core.errors import UserError
from torchrig.doctor.checks import (
    CHECK_FAILED,
    CheckContext,
    Layer,
    all_codes,
    checks,
    registry,
    run_checks,
)
from torchrig.doctor.facts import Facts, ShadowedModule, SystemFacts, TorchFacts
from torchrig.doctor.findings import Finding, Severity
from torchrig.knowledge import signatures


def errors(findings: list) -> list:
    return [f for f in findings if f.severity is Severity.ERROR]


# --- healthy machines get no error ---------------------------------------------------------------


def test_this_machine_cpu_torch_a_cuda_13_toolkit_no_driver_no_gpu_gets_no_finding() -> None:
    assert run_checks(this_machine(), index_base=None) == []


def test_a_mac_gets_no_finding() -> None:
    assert run_checks(mac()) == []


def test_a_healthy_gpu_box_gets_no_finding() -> None:
    assert run_checks(linux_gpu_box(H100, H100, arch=ARCH_CU130)) == []


def test_a_cpu_only_server_without_torch_python_details_gets_no_error() -> None:
    facts = Facts(
        torch=TorchFacts(installed=True, version="2.13.0+cpu", import_ok=True),
        system=SystemFacts(os="Linux", shm_total_bytes=8 << 30),
    )
    assert errors(run_checks(facts)) == []


# --- root cause first ----------------------------------------------------------------------------


def test_a_driver_library_mismatch_is_the_root_cause_and_cuda_init_failure_folds_into_it() -> None:
    facts = linux_gpu_box(RTX4090)
    facts.driver.userspace = "580.105.08"
    facts.driver.nvml_error = "Driver/library version mismatch"
    facts.torch.cuda_init_error = "CUDA driver initialization failed, you might not have a CUDA gpu."
    findings = run_checks(facts)
    assert codes(findings) == ["driver.version-mismatch"]
    assert findings[0].evidence["consequences"] == ["cuda.init-failed: CUDA fails to initialise"]


def test_a_container_without_a_gpu_explains_cuda_seeing_none() -> None:
    facts = linux_gpu_box(H100, driver=None, container="docker", env={"NVIDIA_VISIBLE_DEVICES": "all"})
    facts.torch.cuda_init_error = "no CUDA-capable device is detected"
    findings = run_checks(facts)
    assert codes(findings) == ["container.no-gpu"]
    assert [c.split(":")[0] for c in findings[0].evidence["consequences"]] == ["driver.missing", "cuda.init-failed"]


def test_a_local_torch_py_explains_the_import_failure() -> None:
    facts = linux_gpu_box(RTX4090, shadowed_modules=[ShadowedModule("torch", "/home/ada/torch.py")])
    facts.torch.import_ok = False
    facts.torch.import_error = "AttributeError: partially initialized module 'torch' has no attribute 'cuda'"
    assert codes(run_checks(facts)) == ["env.module-shadowed"]


def test_a_chain_of_consequences_folds_into_the_top_root(monkeypatch: pytest.MonkeyPatch) -> None:
    def finding(code: str) -> registry.CheckFn:
        return lambda facts, ctx: [Finding(code=code, severity=Severity.ERROR, title=code)]

    chain = [
        registry.Check("a", ("t.a",), "a", Layer.ACCESS, finding("t.a"), explains=("t.b",)),
        registry.Check("b", ("t.b",), "b", Layer.DRIVER, finding("t.b"), explains=("t.c",)),
        registry.Check("c", ("t.c",), "c", Layer.CUDA_INIT, finding("t.c")),
    ]
    monkeypatch.setattr(registry, "_REGISTRY", chain)
    [root] = run_checks(Facts())
    assert root.code == "t.a" and root.evidence["consequences"] == ["t.b: t.b", "t.c: t.c"]


def test_the_explains_graph_has_no_cycles() -> None:
    owner = {code: check for check in checks() for code in check.codes}
    for check in checks():
        seen, frontier = set(), list(check.explains)
        while frontier:
            code = frontier.pop()
            assert code not in check.codes, f"{check.name} explains itself through {code}"
            if code in seen or code not in owner:
                continue
            seen.add(code)
            frontier += owner[code].explains


def test_independent_problems_come_in_causal_order_driver_then_build_then_runtime() -> None:
    facts = linux_gpu_box(
        RTX5090,
        driver="535.104.05",
        torch="2.6.0+cu124",
        cuda="12.4",
        arch=ARCH_CU124,
        container="docker",
        shm_total_bytes=64 << 20,
        env={"NVIDIA_VISIBLE_DEVICES": "all"},
    )
    facts.torch.version, facts.torch.cuda = "2.13.0+cu130", "13.0"  # needs R580, and has sm_120
    facts.torch.arch_list = ARCH_CU130
    facts.gpus.devices.append(facts.gpus.devices[0].__class__(index=1, name=V100[0], compute_capability="7.0"))
    assert codes(run_checks(facts)) == ["driver.too-old", "gpu.arch-unsupported", "shm.too-small"]


def test_errors_come_before_warnings_within_a_layer() -> None:
    facts = linux_gpu_box(
        GTX1080,
        torch="2.13.0+cu130",
        cuda="13.0",
        arch=ARCH_CU130,
        companions=[pkg("torchvision", "0.27.0", "torch==2.12.0")],
    )
    facts.toolkit.version, facts.toolkit.cuda_home = "12.4", "/usr/local/cuda"
    assert codes(run_checks(facts)) == ["gpu.arch-unsupported", "torch.companion-mismatch", "toolkit.mismatch"]


def test_an_established_cause_in_a_later_layer_comes_before_a_suspicion_in_an_earlier_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def suspicion(facts: Facts, ctx: CheckContext) -> list[Finding]:
        return [Finding(code="test.suspected", severity=Severity.WARNING, title="maybe the container", fix=("a",))]

    def established(facts: Facts, ctx: CheckContext) -> list[Finding]:
        return [Finding(code="test.established", severity=Severity.ERROR, title="no kernel image", fix=("b",))]

    early = registry.Check(name="early", codes=("test.suspected",), summary="w", layer=Layer.ACCESS, run=suspicion)
    late = registry.Check(name="late", codes=("test.established",), summary="e", layer=Layer.RUNTIME, run=established)
    monkeypatch.setattr(registry, "_REGISTRY", [early, late])
    assert codes(run_checks(linux_gpu_box(H100))) == ["test.established", "test.suspected"]


def test_a_pasted_log_is_explained_by_its_signatures_alone() -> None:
    facts = report(
        (
            "gpu.capability-not-compatible",
            "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.",
        ),
        ("gpu.no-kernel-image", "RuntimeError: CUDA error: no kernel image is available for execution on the device"),
    )
    [finding] = run_checks(facts)
    assert finding.code == "gpu.arch-unsupported" and len(finding.evidence) == 2


def test_layers_run_from_access_to_runtime() -> None:
    layers = [check.layer for check in checks()]
    assert layers == sorted(layers)  # registration follows the causal chain too
    assert min(layers) is Layer.ACCESS and max(layers) is Layer.RUNTIME


# --- robustness and context ----------------------------------------------------------------------


def test_a_check_that_raises_is_reported_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(facts: Facts, ctx: CheckContext) -> list:
        raise KeyError("compute_capability")

    bad = registry.Check(name="broken", codes=("test.broken",), summary="raises", layer=Layer.ACCESS, run=broken)
    monkeypatch.setattr(registry, "_REGISTRY", [bad, *registry._REGISTRY])
    facts = linux_gpu_box(H100, shm_total_bytes=64 << 20)
    findings = run_checks(facts)
    assert codes(findings) == [CHECK_FAILED, "shm.too-small"]
    assert findings[0].severity is Severity.WARNING and "KeyError" in findings[0].title


def test_the_checks_never_read_this_users_mirror_configuration(sandbox_home: Path) -> None:
    # a mirror configured here must not leak into fixes for someone else's report: the caller decides
    config = sandbox_home / ".config" / "torchrig" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[torch]\nindex = "https://mirror.sjtu.edu.cn/pytorch-wheels"\n')
    [finding] = run_checks(linux_gpu_box(V100, arch=ARCH_CU130))
    assert finding.fix[-1].endswith("--index-url https://download.pytorch.org/whl/cu126")
    [finding] = run_checks(linux_gpu_box(V100, arch=ARCH_CU130), index_base="https://mirror.sjtu.edu.cn/pytorch-wheels")
    assert finding.fix[-1].endswith("--index-url https://mirror.sjtu.edu.cn/pytorch-wheels/cu126")


def test_every_finding_has_a_title_evidence_and_a_fix() -> None:
    facts = linux_gpu_box(
        V100, driver="470.82.01", torch="2.13.0+cu130", cuda="13.0", arch=ARCH_CU130, shm_total_bytes=64 << 20
    )
    findings = run_checks(facts)
    assert findings
    for finding in findings:
        assert finding.title and "\n" not in finding.title
        assert finding.evidence and finding.fix


# --- the registry and its documentation ----------------------------------------------------------

REQUIRED = {
    "driver.too-old",
    "driver.version-mismatch",
    "driver.forward-compat-unsupported",
    "cuda.init-failed",
    "container.no-gpu",
    "torch.missing",
    "torch.import-failed",
    "torch.cpu-only-build",
    "gpu.arch-unsupported",
    "gpu.arch-too-old-for-package",
    "torch.companion-mismatch",
    "env.mixed-installs",
    "env.module-shadowed",
    "libs.shadowed",
    "cuda.visible-devices",
    "toolkit.mismatch",
    "shm.too-small",
    "gpu.p2p-broken",
}


def test_every_code_the_issue_asks_for_is_registered_and_codes_are_unique() -> None:
    assert set(all_codes()) >= REQUIRED
    assert len(all_codes()) == len(set(all_codes()))


def test_every_registration_names_its_check_and_says_in_one_line_what_it_checks() -> None:
    for check in checks():
        assert re.fullmatch(r"[a-z0-9-]+", check.name)
        assert check.summary and "\n" not in check.summary
        assert all(re.fullmatch(r"[a-z]+\.[a-z0-9-]+", code) for code in check.codes)


def test_every_code_is_documented_with_when_it_fires_and_the_fix(repo_root: Path) -> None:
    page = (repo_root / "docs" / "doctor-codes.md").read_text()
    documented = re.findall(r"^## `([a-z0-9.-]+)`", page, flags=re.MULTILINE)
    assert sorted(documented) == sorted(all_codes())
    for code in documented:
        section = page.split(f"## `{code}`", 1)[1].split("\n## ", 1)[0]
        assert "**Fires when**" in section and "**Fix**" in section, code


def test_every_code_in_the_signature_table_is_one_a_check_emits(signature_table: dict[str, str]) -> None:
    known = set(all_codes())
    assert set(signature_table.values()) <= known
    real = {sig.id: sig.code for sig in signatures.signatures()}
    assert set(real.values()) <= known
    # The ids these tests use mean the same finding in the parser's table.
    assert {i: c for i, c in signature_table.items() if i in real} == {i: real[i] for i in signature_table if i in real}


def test_a_broken_mirror_configuration_falls_back_to_download_pytorch_org(monkeypatch: pytest.MonkeyPatch) -> None:

    def broken() -> str:
        raise UserError("~/.config/torchrig/config.toml is not valid TOML (line 3).")

    mirrors = types.ModuleType("torchrig.mirrors")
    mirrors.torch_index_base = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchrig.mirrors", mirrors)
    [finding] = run_checks(linux_gpu_box(V100, arch=ARCH_CU130))
    assert finding.fix[-1].endswith("--index-url https://download.pytorch.org/whl/cu126")


def test_every_check_module_is_registered_in_causal_order(repo_root: Path) -> None:
    helpers = {"__init__", "registry", "fixes", "signature_hits"}
    modules = {p.stem for p in (repo_root / "src" / "torchrig" / "doctor" / "checks").glob("*.py")} - helpers
    assert modules == set(torchrig_checks._MODULES)
    assert len(checks()) == len(modules)


def _odd_facts() -> list[Facts]:
    garbage = linux_gpu_box(RTX4090, driver="N/A", torch="garbage", cuda="x.y", env={"CUDA_VISIBLE_DEVICES": ",,"})
    garbage.toolkit.version = "unknown"
    garbage.torch.copies = ["", ""]
    garbage.torch.loaded_libs = [lib("libcudnn.so.9", "")]
    garbage.companions = [pkg("torchvision", ""), pkg("flash-attn", "not-a-version", "torch (>=2.0)", "@@@")]
    garbage.system.shm_total_bytes = 0
    nightly = linux_gpu_box(RTX5090, torch="2.14.0.dev20261101+cu132", cuda="13.2", arch=["sm_120", "compute_120"])
    source = linux_gpu_box(H100, torch="2.13.0a0+git1a2b3c4", cuda="13.0", python="3.15.0")
    return [Facts(), Facts(origin="report"), garbage, nightly, source, Facts.from_dict(linux_gpu_box(T4).to_dict())]


@pytest.mark.parametrize("facts", _odd_facts())
def test_no_check_raises_on_odd_or_partial_facts(facts: Facts) -> None:
    assert CHECK_FAILED not in codes(run_checks(facts))


def test_without_torch_only_torch_missing_is_reported_on_a_gpu_box() -> None:
    facts = linux_gpu_box(V100, V100, torch=None)
    facts.torch.cuda = "13.0"  # a stale value must not make CUDA look broken when there is no torch
    assert codes(run_checks(facts)) == ["torch.missing"]


# --- a warning never stands before an error


def test_no_new_warning_comes_before_an_error() -> None:
    # run_checks orders by layer first: a suspicion in an early layer must not stand before a proven fault
    text = (
        "INCOMPATIBLE PYTHON VERSION\nThis program is tested with 3.10.6 Python, but you have 3.11.9.\n"
        "OSError: /venv/lib/python3.11/site-packages/torchaudio/lib/_torchaudio.so: undefined symbol: "
        "torch_library_impl\n"
    )
    findings = findings_of(text)
    first_error = next(i for i, f in enumerate(findings) if f.severity is Severity.ERROR)
    assert all(f.severity is Severity.ERROR for f in findings[: first_error + 1])
