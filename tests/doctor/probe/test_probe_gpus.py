"""The GPU probe: every GPU and every P2P pair from NVML, nvidia-smi --query-gpu when NVML is unusable."""

from __future__ import annotations

from probe_fakes import FakeTree, fake_machine, nvml_fixture, recorded, smi

from torchrig._core.seams.nvml import FakeNvml
from torchrig._core.seams.runner import Completed, FakeRunner
from torchrig.doctor.facts import Gpu, P2PLink
from torchrig.doctor.probe import gpus


def test_one_gpu_is_read_field_by_field(tree: FakeTree) -> None:
    facts = gpus.probe(fake_machine(tree, nvml=nvml_fixture("a10g-470.json")), quick=True)
    assert facts.devices == [
        Gpu(
            index=0,
            name="NVIDIA A10G",
            uuid=None,
            compute_capability="8.6",
            memory_total_mib=22731,
            mig_mode=None,
            persistence_mode=True,
            pci_bus_id="0000:00:1e.0",
            source="nvml",
        )
    ]
    assert facts.p2p == []
    assert facts.errors == []  # "Not Supported" (MIG on an A10G) is not an error
    assert facts.sources["devices"] == "nvml"


def test_eight_gpus_give_every_pair_once(tree: FakeTree) -> None:
    facts = gpus.probe(fake_machine(tree, nvml=nvml_fixture("8x-a100-sxm4-40gb-450.json")), quick=True)
    assert [g.index for g in facts.devices] == list(range(8))
    assert {g.compute_capability for g in facts.devices} == {"8.0"}
    assert len(facts.p2p) == 28
    assert {(link.a, link.b) for link in facts.p2p} == {(a, b) for a in range(8) for b in range(a + 1, 8)}
    assert all(link.status == "ok" and link.source == "nvml" for link in facts.p2p)


def test_p2p_not_supported_between_consumer_gpus_is_recorded(tree: FakeTree) -> None:
    facts = gpus.probe(fake_machine(tree, nvml=nvml_fixture("2x-rtx5090-p2p-gns.json")), quick=True)
    assert facts.p2p == [P2PLink(0, 1, "not-supported", source="nvml")]
    assert [g.compute_capability for g in facts.devices] == ["12.0", "12.0"]


def test_mig_mode_per_gpu(tree: FakeTree) -> None:
    facts = gpus.probe(fake_machine(tree, nvml=nvml_fixture("mig-4gpu-510.json")), quick=True)
    assert [g.mig_mode for g in facts.devices] == [False, True, True, True]


def test_a_lost_gpu_is_an_error_of_that_gpu_only(tree: FakeTree) -> None:
    nvml = FakeNvml(
        devices=[{"name": "a", "uuid": "GPU-1"}, {"name": "b", "uuid": "GPU-2"}],
        errors={"uuid:1": "GPU is lost", "p2p_status": "Unknown Error"},
    )
    facts = gpus.probe(fake_machine(tree, nvml=nvml), quick=True)
    assert [g.uuid for g in facts.devices] == ["GPU-1", None]
    assert "NVML UUID of GPU 1: GPU is lost" in facts.errors
    assert "NVML P2P status of GPUs 0 and 1: Unknown Error" in facts.errors


def test_with_a_version_mismatch_nvidia_smi_cannot_help_and_says_nothing_twice(tree: FakeTree) -> None:
    runner = FakeRunner({"nvidia-smi": smi(recorded("nvidia-smi/mismatch-580.178.txt"), returncode=18)})
    facts = gpus.probe(fake_machine(tree, nvml=nvml_fixture("version-mismatch.json"), runner=runner), quick=False)
    assert facts.devices == []
    assert facts.errors == []  # the driver probe reports the mismatch


def test_nvidia_smi_query_is_the_fallback_and_reads_its_header(tree: FakeTree) -> None:
    runner = FakeRunner({"nvidia-smi": smi(recorded("nvidia-smi/query-titanv-rtx5880.csv"))})
    facts = gpus.probe(fake_machine(tree, runner=runner), quick=False)
    assert [(g.index, g.name, g.compute_capability, g.source) for g in facts.devices] == [
        (0, "NVIDIA TITAN V", "7.0", "nvidia-smi"),
        (1, "NVIDIA RTX 5880 Ada Generation", "8.9", "nvidia-smi"),
    ]
    assert facts.sources["devices"] == "nvidia-smi"
    (argv,) = runner.calls
    assert argv[1].startswith("--query-gpu=index,name,uuid,compute_cap,")


def test_an_old_driver_without_compute_cap_is_asked_again_without_it(tree: FakeTree) -> None:
    def answer(argv: tuple[str, ...]) -> Completed:
        if "compute_cap" in argv[1]:
            return smi(recorded("nvidia-smi/query-compute-cap-invalid.txt"), returncode=2)
        # the GTX 680 of nvidia-smi/gtx680-331.62.txt, in --query-gpu's CSV form
        return smi(
            "index, name, memory.total [MiB], persistence_mode, pci.bus_id\n"
            "0, GeForce GTX 680, 4095, Disabled, 0000:03:00.0\n"
        )

    runner = FakeRunner({"nvidia-smi": answer})
    facts = gpus.probe(fake_machine(tree, runner=runner), quick=False)
    assert len(runner.calls) == 2 and "compute_cap" not in runner.calls[1][1]
    assert facts.devices == [
        Gpu(
            index=0,
            name="GeForce GTX 680",
            memory_total_mib=4095,
            persistence_mode=False,
            pci_bus_id="0000:03:00.0",
            source="nvidia-smi",
        )
    ]


def test_quick_mode_never_runs_nvidia_smi(tree: FakeTree) -> None:
    runner = FakeRunner({"nvidia-smi": smi(recorded("nvidia-smi/query-titanv-rtx5880.csv"))})
    facts = gpus.probe(fake_machine(tree, runner=runner), quick=True)
    assert runner.calls == [] and facts.devices == []


def test_bus_ids_are_written_as_sysfs_names_them() -> None:
    assert gpus.normalise_bus_id("00000000:1A:00.0") == "0000:1a:00.0"
    assert gpus.normalise_bus_id("0000:03:00.0") == "0000:03:00.0"
