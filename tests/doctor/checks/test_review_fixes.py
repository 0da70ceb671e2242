"""Cases a review found the checks getting wrong: each is the situation, stated, and what the doctor must say."""

from __future__ import annotations

from check_facts import ARCH_CU124, H100, linux_gpu_box, report

from torchrig import knowledge
from torchrig.doctor.checks import CheckContext, driver_too_old, run_checks


def test_a_log_whose_driver_supports_a_cuda_the_tables_do_not_know_still_says_the_driver_is_too_old() -> None:
    # "found version 8000": CUDA 8.0, older than any table row; used to crash into doctor.check-failed
    facts = report(("driver.found-version", "The NVIDIA driver on your system is too old (found version 8000)."))
    codes = [f.code for f in run_checks(facts)]
    assert codes[0] == "driver.too-old" and "doctor.check-failed" not in codes


def test_an_arch_specific_target_in_the_arch_list_covers_exactly_its_own_capability() -> None:
    assert knowledge.arch_covers("sm_90a", "9.0")
    assert not knowledge.arch_covers("sm_90a", "9.1")
    facts = linux_gpu_box(H100, torch="2.4.0+cu124", cuda="12.4", arch=["sm_80", "sm_90a"])
    assert [f.code for f in run_checks(facts)] == []


def test_cuda_11_0_needs_its_own_ga_driver_not_the_higher_11x_compatibility_floor() -> None:
    assert str(knowledge.min_driver("11.0")) == "450.51.05"  # as NVIDIA writes it
    driver = knowledge.parse_version("450.51.06")  # runs 11.0 builds, and no newer 11.x one
    assert driver is not None and driver >= knowledge.min_driver("11.0") and driver < knowledge.min_driver("11.1")


def test_a_kepler_gpu_is_not_told_to_install_a_driver_that_no_longer_supports_it() -> None:
    facts = linux_gpu_box(
        ("Tesla K80", "3.7", "0x102d"), driver="470.82.01", torch="2.4.0+cu124", cuda="12.4", arch=ARCH_CU124
    )
    facts.torch.cuda_available = False
    [finding] = driver_too_old.driver_runs_torch_build(facts, CheckContext())
    assert not any("nvidia-driver-580" in line for line in finding.fix)
    assert "R470 is the last branch for Kepler" in finding.fix[0]


def test_fix_lines_quote_what_came_from_the_facts() -> None:
    # with --report these values come from someone else's file, and users paste fix lines into a shell
    from torchrig.doctor import queries
    from torchrig.doctor.checks.env_module_shadowed import _fix

    facts = linux_gpu_box(H100, env={"LD_LIBRARY_PATH": "/opt/my libs:/usr/local/cuda-11.8/lib64:/usr/lib/$(id)"})
    line = queries.library_path_without(facts, lambda p: "cuda" in p)
    assert line == "export LD_LIBRARY_PATH='/opt/my libs:/usr/lib/$(id)'"
    assert (
        _fix(facts, "torch", "/home/u/my project/torch.py")[1] == "rm -f '/home/u/my project/__pycache__'/torch.*.pyc"
    )
