"""env.mixed-installs: exactly one torch installation may be visible to the interpreter."""

from __future__ import annotations

from check_facts import PY, RTX4090, SITE, codes_of, linux_gpu_box

from torchrig.doctor.checks import CheckContext, env_mixed_installs
from torchrig.doctor.findings import Severity

CTX = CheckContext()
USER_SITE = "/home/ada/.local/lib/python3.12/site-packages/torch"


def test_a_user_site_copy_next_to_the_venv_copy_is_removed_and_one_reinstalled() -> None:
    facts = linux_gpu_box(RTX4090)
    facts.torch.copies = [f"{SITE}/torch", USER_SITE]
    [finding] = env_mixed_installs.one_torch_installation(facts, CTX)
    assert finding.severity is Severity.WARNING
    assert finding.evidence["copies on sys.path"] == [f"{SITE}/torch", USER_SITE]
    assert finding.fix == (
        f"{PY} -m pip uninstall -y torch",
        f"{PY} -m pip uninstall -y torch",
        "# then install exactly one, with pip:",
        f"{PY} -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu130",
    )


def test_conda_and_pip_copies_that_break_the_import_are_an_error() -> None:
    facts = linux_gpu_box(RTX4090, conda_prefix="/opt/conda")
    facts.torch.copies = ["/opt/conda/lib/python3.12/site-packages/torch", USER_SITE]
    facts.torch.import_ok = False
    [finding] = env_mixed_installs.one_torch_installation(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert "conda remove -y -p /opt/conda --force pytorch   # conda's copy" in finding.fix


def test_one_copy_is_fine() -> None:
    assert env_mixed_installs.one_torch_installation(linux_gpu_box(RTX4090), CTX) == []


def test_torch_owned_by_both_conda_and_pip_is_reinstalled_by_one_of_them() -> None:
    facts = linux_gpu_box(RTX4090, installer="conda+pip", conda_prefix="/opt/conda/envs/train")
    [finding] = env_mixed_installs.one_torch_installation(facts, CTX)
    assert finding.title == "Conda and pip both installed torch"
    assert finding.fix == (
        f"{PY} -m pip uninstall -y torch",
        "conda remove -y -p /opt/conda/envs/train --force pytorch   # conda's copy",
        "# then install exactly one, with pip:",
        f"{PY} -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu130",
    )


def test_a_torchrun_from_the_user_site_under_a_venv_is_an_error_with_the_environments_own_launcher() -> None:
    from check_facts import report

    facts = report(("env.user-site-launcher", 'File "/home/ada/.local/bin/torchrun", line 8, in <module>'))
    facts.failures = ["ChildFailedError: exitcode: 1 (pid: 4242) of binary: /usr/bin/python3.11"]
    [finding] = env_mixed_installs.one_torch_installation(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert finding.evidence["the Python it ran"] == "/usr/bin/python3.11"
    assert any("torch.distributed.run" in step for step in finding.fix)
    assert any("PYTHONNOUSERSITE=1" in step for step in finding.fix)


# --- torchrun's traceback passes through its console script whatever failed


def test_a_user_site_torchrun_in_an_nccl_failure_is_not_blamed_without_a_missing_module() -> None:
    text = (
        "(venv) $ torchrun --nproc_per_node 2 train.py\n"
        "Traceback (most recent call last):\n"
        '  File "/home/ada/.local/bin/torchrun", line 8, in <module>\n'
        "    sys.exit(main())\n"
        "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled cuda error, "
        "NCCL version 2.20.5\n"
    )
    assert "env.mixed-installs" not in codes_of(text)
    missing = text.replace(
        "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled cuda error, "
        "NCCL version 2.20.5\n",
        "ModuleNotFoundError: No module named 'mypackage'\n",
    )
    assert codes_of(missing)[0] == "env.mixed-installs"
