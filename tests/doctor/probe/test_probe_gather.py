"""gather(): every probe at once, each bounded, none able to take the others down."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from probe_fakes import FakeTree, fake_machine, nvml_fixture, recorded, smi

from torchrig._core.seams.runner import FakeRunner
from torchrig.doctor.facts import Facts
from torchrig.doctor.probe import Host, gather, system


def test_quick_mode_runs_no_subprocess_at_all(tree: FakeTree) -> None:
    tree.dist("/venv/site", "torch", "2.5.1+cu121", package="torch")
    tree.write("/usr/local/cuda/bin/nvcc", "#!/bin/sh\n", mode=0o755)
    tree.write("/proc/driver/nvidia/version", recorded("proc/version-580.173.02.txt"))
    runner = FakeRunner({"nvidia-smi": smi(recorded("nvidia-smi/mismatch-580.178.txt")), "python3": smi("")})
    facts = gather(
        fake_machine(tree, runner=runner, nvml=nvml_fixture("version-mismatch.json"), sys_path=("/venv/site",)),
        quick=True,
    )
    assert runner.calls == []
    assert facts.torch.installed is True and facts.torch.import_ok is None
    assert facts.driver.kernel_module == "580.173.02"


def test_full_mode_runs_the_fallbacks_through_the_runner(tree: FakeTree) -> None:
    tree.dist("/venv/site", "torch", "2.5.1+cu121", package="torch")
    runner = FakeRunner({"nvidia-smi": smi(recorded("nvidia-smi/mismatch-580.178.txt"), returncode=18)})
    facts = gather(
        fake_machine(tree, runner=runner, nvml=nvml_fixture("version-mismatch.json"), sys_path=("/venv/site",))
    )
    programs = sorted({argv[0] for argv in runner.calls})
    assert programs == ["/usr/bin/python3", "nvidia-smi"]  # the torch child (unknown to the fake) and smi
    assert facts.driver.userspace == "580.178"
    assert facts.torch.import_ok is False  # the fake runner has no python3: the child could not start


def test_every_probe_is_timed(tree: FakeTree) -> None:
    facts = gather(fake_machine(tree), quick=True)
    assert set(facts.timings) == {"driver", "gpus", "torch", "companions", "toolkit", "system", "total"}
    assert all(seconds >= 0 for seconds in facts.timings.values())
    assert facts.origin == "live"


def test_a_probe_that_raises_costs_only_its_own_section(tree: FakeTree, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(machine: Host, quick: bool) -> None:
        raise RuntimeError("unexpected layout of /sys")

    monkeypatch.setattr(system, "probe", broken)
    facts = gather(fake_machine(tree, nvml=nvml_fixture("a10g-470.json")), quick=True)
    assert facts.system.errors == ["the system probe failed: RuntimeError: unexpected layout of /sys"]
    assert facts.system.os is None
    assert facts.gpus.devices[0].name == "NVIDIA A10G"  # the others still report


def test_a_probe_that_hangs_is_abandoned_at_its_deadline(tree: FakeTree, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(machine: Host, quick: bool) -> None:
        release.wait(30)  # an NVML call on a GPU that fell off the bus

    monkeypatch.setattr(system, "probe", stuck)
    started = time.perf_counter()
    try:
        facts = gather(fake_machine(tree, command_timeout=0.2), quick=True)
    finally:
        release.set()
    assert time.perf_counter() - started < 5
    assert facts.system.errors == ["the system probe timed out after 0.4 s and was abandoned"]
    assert "system" in facts.timings  # how long it had run when abandoned


def test_probes_run_concurrently(tree: FakeTree, monkeypatch: pytest.MonkeyPatch) -> None:
    from torchrig.doctor.probe import companions, toolkit

    barrier = threading.Barrier(2, timeout=5)

    def waits_for_the_other(real):  # type: ignore[no-untyped-def]
        def probe(machine: Host, quick: bool):  # type: ignore[no-untyped-def]
            barrier.wait()  # both must be running at the same time to pass
            return real(machine, quick)

        return probe

    monkeypatch.setattr(toolkit, "probe", waits_for_the_other(toolkit.probe))
    monkeypatch.setattr(companions, "probe", waits_for_the_other(companions.probe))
    facts = gather(fake_machine(tree), quick=True)
    assert facts.toolkit.errors == [] and facts.system.errors == ["/dev/shm is missing or cannot be read"]


def test_the_facts_round_trip_through_json(tree: FakeTree) -> None:
    tree.write("/proc/driver/nvidia/version", recorded("proc/version-565.57.01-open.txt"))
    facts = gather(fake_machine(tree, nvml=nvml_fixture("8x-a100-sxm4-40gb-450.json")), quick=True)
    assert Facts.from_dict(facts.to_dict()) == facts


# --- this machine: no driver, a CPU torch, the CUDA 13.0 toolkit ----------------------------------------


def test_quick_gather_here() -> None:
    facts = gather(quick=True)
    assert facts.driver.kernel_module is None
    assert facts.driver.nvml_error == "NVML Shared Library Not Found"
    assert facts.gpus.devices == []
    assert (facts.torch.installed, facts.torch.version, facts.torch.cuda) == (True, "2.13.0+cpu", None)
    assert facts.torch.import_ok is None  # quick: never imported
    assert facts.system.shm_total_bytes and facts.system.shm_total_bytes > 0
    assert facts.system.pci_gpus == []


@pytest.mark.slow
def test_full_gather_here() -> None:
    facts = gather()
    assert facts.torch.import_ok is True
    assert (facts.torch.version, facts.torch.cuda, facts.torch.cuda_available) == ("2.13.0+cpu", None, False)
    assert facts.driver.smi_error is None and facts.driver.userspace is None  # no nvidia-smi here
    toolkits = [(facts.toolkit.cuda_home, facts.toolkit.version)] + [(o.path, o.version) for o in facts.toolkit.others]
    assert any(version and version.startswith("13.0") for _, version in toolkits)
    assert any(path in ("/usr/local/cuda", "/usr/local/cuda-13.0") for path, _ in toolkits)
    assert all(not section.errors for section in (facts.driver, facts.gpus, facts.torch, facts.toolkit))


def test_machine_live_describes_this_process() -> None:
    import os
    import sys

    live = Host.live()
    assert live.python == sys.executable and live.sys_path == tuple(sys.path)
    assert live.cwd == os.getcwd() and live.env["HOME"] == os.environ["HOME"]
    assert replace(live, torch_timeout=5.0).torch_timeout == 5.0  # frozen: replace() is the way to vary it
