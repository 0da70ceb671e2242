"""The NVML seam: the real pynvml on this machine, and the fake replaying recorded answers."""

from __future__ import annotations

import pytest
from probe_fakes import RECORDED, nvml_fixture

from torchrig._core.seams.nvml import ERROR_TEXT, FakeNvml, NvmlError, PynvmlNvml


def test_real_nvml_on_a_machine_without_a_driver_says_the_library_is_missing() -> None:
    nvml = PynvmlNvml()
    with pytest.raises(NvmlError) as caught:
        nvml.init()
    assert str(caught.value) == "NVML Shared Library Not Found"
    assert caught.value.code == 12


def test_a_version_mismatch_reads_as_nvidia_smi_prints_it() -> None:
    # pynvml's own text for code 18 is "RM has detected an NVML/RM version mismatch."; users paste smi's words
    assert NvmlError.from_code(18).args[0] == "Driver/library version mismatch"
    assert "Driver/library version mismatch" in (RECORDED / "nvidia-smi" / "mismatch-580.178.txt").read_text()


def test_unknown_codes_still_give_a_sentence() -> None:
    assert str(NvmlError.from_code(4242)) == "NVML error 4242"
    assert set(ERROR_TEXT) >= {9, 12, 18, 999}


def test_the_fake_raises_the_recorded_init_failure_with_its_code() -> None:
    fake = nvml_fixture("version-mismatch.json")
    with pytest.raises(NvmlError) as caught:
        fake.init()
    assert caught.value.code == 18


def test_the_fake_answers_recorded_values_and_not_supported_for_missing_ones() -> None:
    fake = nvml_fixture("a10g-470.json")
    fake.init()
    assert fake.driver_version() == "470.256.02"
    assert fake.cuda_driver_version() == 11040
    assert fake.name(0) == "NVIDIA A10G"
    with pytest.raises(NvmlError) as caught:
        fake.mig_mode(0)
    assert str(caught.value) == "Not Supported"
    with pytest.raises(NvmlError):
        fake.name(1)  # there is one GPU


def test_the_fake_refuses_calls_before_init_and_after_the_last_shutdown() -> None:
    fake = FakeNvml(driver="580.95.05")
    with pytest.raises(NvmlError, match="Uninitialized"):
        fake.driver_version()
    fake.init()
    fake.init()  # two probes share one fake, as two sessions share the real library
    fake.shutdown()
    assert fake.driver_version() == "580.95.05"
    fake.shutdown()
    with pytest.raises(NvmlError, match="Uninitialized"):
        fake.driver_version()


def test_a_per_device_error_hits_only_that_device() -> None:
    fake = FakeNvml(devices=[{"name": "a"}, {"name": "b"}], errors={"name:1": "GPU is lost"})
    fake.init()
    assert fake.name(0) == "a"
    with pytest.raises(NvmlError) as caught:
        fake.name(1)
    assert caught.value.code == 15
