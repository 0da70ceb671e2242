"""The one Facts-to-target adapter: what env plan (on this machine) and the doctor's fixes both plan for."""

from __future__ import annotations

from torchrig.doctor.checks import fixes
from torchrig.doctor.facts import DriverFacts, Facts, Gpu, GpuFacts, PciDevice, SystemFacts
from torchrig.doctor.target import target_of
from torchrig.knowledge.builds import plan

R580 = "580.95.05"


def test_target_of_reads_the_probes() -> None:
    facts = Facts(
        driver=DriverFacts(userspace=R580),
        gpus=GpuFacts(
            devices=[
                Gpu(index=0, name="NVIDIA A100-SXM4-80GB", compute_capability="8.0"),
                Gpu(index=1, name="Tesla V100-SXM2-16GB", compute_capability="7.0"),
            ]
        ),
        system=SystemFacts(os="Linux", machine="x86_64", wsl=False),
    )
    machine = target_of(facts)
    assert machine.capabilities == ("8.0", "7.0") and machine.driver == R580
    assert plan(machine, torch="2.13", python="3.12").variant == "cu126"
    named_only = Facts(
        driver=DriverFacts(userspace=R580), gpus=GpuFacts(devices=[Gpu(index=0, name="NVIDIA GeForce RTX 5090")])
    )
    assert target_of(named_only).capabilities == ("12.0",)
    bare = Facts(system=SystemFacts(os="Linux", pci_gpus=[PciDevice("0000:01:00.0", "0x10de", "0x2684", "0x030000")]))
    assert target_of(bare).unidentified_gpus == 1
    nothing = target_of(Facts(driver=DriverFacts(nvml_error="NVML Shared Library Not Found")))
    assert nothing.has_gpu is False
    reason = plan(nothing, python="3.12").reason
    assert reason == (
        "no NVIDIA GPU was found (NVML: NVML Shared Library Not Found; no NVIDIA device on the PCI bus; "
        "no NVIDIA kernel module loaded): the cpu build."
    )


def test_env_plan_and_the_doctors_fix_choose_the_same_build_from_the_same_facts() -> None:
    # the kernel module decides (the user-space library of a mismatched pair is not what runs after a reboot)
    facts = Facts(
        driver=DriverFacts(kernel_module="535.183.01", userspace=R580),
        gpus=GpuFacts(devices=[Gpu(index=0, name="NVIDIA GeForce RTX 3090", compute_capability="8.6")]),
        system=SystemFacts(os="Linux", machine="x86_64", python_version="3.12.3"),
    )
    target = target_of(facts)
    assert target.driver == "535.183.01"
    planned = plan(target, torch="2.14", python="3.12")
    chosen = fixes.choose_build(facts)
    # 2.15's only sourced build (cu132) needs driver 580; 2.14's cu126 runs on 535
    assert chosen is not None and chosen.torch == "2.14.*"
    assert planned.variant == chosen.variant == "cu126"
