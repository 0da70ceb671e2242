"""The fix commands: which build fits this machine, and how its installer puts it there."""

from __future__ import annotations

from check_facts import PY, RTX4090, RTX5090, V100, linux_gpu_box, mac, pkg

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
    assert build.torch == "2.13.*"


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
