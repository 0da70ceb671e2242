"""The fix commands: which build fits this machine, and how its installer puts it there."""

from __future__ import annotations

from check_facts import PY, RTX4090, RTX5090, V100, linux_gpu_box, mac, pkg
from packaging.version import Version

from torchrig.doctor.checks import CheckContext, fixes


def test_the_installed_release_is_kept_when_one_of_its_variants_fits() -> None:
    facts = linux_gpu_box(V100, torch="2.9.1+cu130", cuda="13.0")
    build = fixes.choose_build(facts)
    # torch 2.9's default build, cu128, still has sm_70 (it was dropped in 2.11), and driver 580 runs it.
    assert (build.torch, build.variant) == ("2.9.1", "cu128")
    assert (build.torchvision, build.torchaudio) == ("0.24.1", "2.9.1")


def test_a_release_without_wheels_for_this_python_is_skipped() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.4.1+cu121", cuda="12.1", python="3.13.1")
    build = fixes.choose_build(facts)
    assert build.torch == "2.14.*"  # 2.15's only sourced build, cu132, has no known arch list to check the GPU with


def test_uv_installs_into_the_same_interpreter() -> None:
    facts = linux_gpu_box(
        RTX5090, torch="2.13.0+cpu", cuda=None, installer="uv", companions=[pkg("torchaudio", "2.11.0+cpu")]
    )
    build = fixes.choose_build(facts)
    assert fixes.torch_install(facts, build, CheckContext()) == (
        f"uv pip uninstall --python {PY} torch torchaudio",
        f"uv pip install --python {PY} torch==2.13.0 'torchaudio==2.11.*' --index https://download.pytorch.org/whl/cu130",
    )


def test_a_mac_installs_from_pypi_without_an_index() -> None:
    facts = mac()
    build = fixes.cpu_build(facts)
    assert fixes.torch_install(facts, build, CheckContext(), reinstall=False) == (f"{PY} -m pip install torch==2.13.0",)


def test_a_mirror_base_with_a_trailing_slash_gives_a_clean_index_url() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.13.0+cpu", cuda=None)
    build = fixes.choose_build(facts)
    ctx = CheckContext(index_base="https://mirrors.nju.edu.cn/pytorch/whl/")
    assert fixes.torch_install(facts, build, ctx)[-1].endswith(
        "--index-url https://mirrors.nju.edu.cn/pytorch/whl/cu130"
    )


def test_r580_is_recommended_for_every_cuda_up_to_13() -> None:
    assert fixes.driver_branch("11.8") == 580
    assert fixes.driver_branch("13.2") == 580


def test_the_recommended_branch_never_passes_a_gpus_last_branch() -> None:
    assert fixes.driver_branch("11.8", ccs=["3.7"]) == 470  # a K80: Kepler ends with R470
    assert fixes.driver_branch("12.6", ccs=["6.1"]) == 580  # Pascal ends with R580: never R590+
    assert fixes.driver_branch("12.4", ccs=["3.7"]) is None  # CUDA 12 needs R525+: no branch does both


def test_a_k80_under_a_cu118_build_on_an_old_driver_is_told_to_install_470_not_580() -> None:
    from torchrig.doctor.checks import driver_too_old

    facts = linux_gpu_box(("Tesla K80", "3.7", "0x102d"), driver="440.33.01", torch="2.0.1+cu118", cuda="11.8")
    facts.torch.cuda_available = False
    [finding] = driver_too_old.driver_runs_torch_build(facts, CheckContext())
    assert "sudo apt-get update && sudo apt-get install -y nvidia-driver-470" in finding.fix
    assert not any("nvidia-driver-580" in line for line in finding.fix)


def test_a_maxwell_gpu_whose_build_needs_a_newer_branch_than_r580_is_told_none_supports_it() -> None:
    facts = linux_gpu_box(("NVIDIA GeForce GTX 980", "5.2", "0x13c0"), driver="570.124.06")
    # a build needing R590 (a CUDA 13.1 toolkit's own driver, without minor-version compatibility)
    [line] = fixes.driver_install(facts, Version("590.44.01"), fixes.driver_branch("13.1", ccs=["5.2"]))
    assert line.startswith("No driver that runs this build supports a Maxwell GPU (compute capability 5.2): R580")


def test_commands_for_someone_elses_report_name_no_local_paths() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.13.0+cpu", cuda=None, conda_prefix="/opt/conda", installer="conda")
    facts.origin = "report"
    build = fixes.choose_build(facts)
    *notes, command = fixes.torch_install(facts, build, CheckContext())
    assert "-p /opt/conda" not in command and command.startswith("conda install -y -c conda-forge")
    # the report lists no torchvision/torchaudio: their pins come along as a note, never silently dropped
    assert notes == [
        "# if torchvision or torchaudio is installed, change it with torch, to the matching "
        "torchvision==0.28.0 and torchaudio==2.11.*"
    ]
