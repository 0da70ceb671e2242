"""env.module-shadowed: no local file may be imported in place of an installed module."""

from __future__ import annotations

from check_facts import H100, RTX4090, linux_gpu_box, report

from torchrig.doctor.checks import CheckContext, env_module_shadowed, run_checks
from torchrig.doctor.facts import ShadowedModule
from torchrig.doctor.findings import Severity

CTX = CheckContext()


def test_a_torch_py_in_the_working_directory_is_renamed() -> None:
    facts = linux_gpu_box(RTX4090, shadowed_modules=[ShadowedModule("torch", "/home/ada/project/torch.py")])
    [finding] = env_module_shadowed.no_local_module_shadows(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert finding.title == "/home/ada/project/torch.py shadows the installed torch module"
    assert finding.fix == (
        "mv /home/ada/project/torch.py /home/ada/project/torch_local.py",
        "rm -f /home/ada/project/__pycache__/torch.*.pyc",
    )


def test_running_inside_a_pytorch_checkout_means_running_elsewhere() -> None:
    facts = linux_gpu_box(RTX4090, shadowed_modules=[ShadowedModule("torch", "/home/ada/src/pytorch/torch")])
    [finding] = env_module_shadowed.no_local_module_shadows(facts, CTX)
    assert finding.fix[0].startswith("cd /home/ada/src ")


def test_a_shadowed_standard_helper_is_a_warning() -> None:
    facts = linux_gpu_box(RTX4090, shadowed_modules=[ShadowedModule("random", "/home/ada/project/random.py")])
    [finding] = env_module_shadowed.no_local_module_shadows(facts, CTX)
    assert finding.severity is Severity.WARNING


def test_a_partially_initialised_torch_in_a_log_yields_the_finding() -> None:
    facts = report(
        (
            "env.shadowed-torch",
            "AttributeError: partially initialized module 'torch' has no attribute 'nn' "
            "(most likely due to a circular import)",
        )
    )
    assert len(env_module_shadowed.no_local_module_shadows(facts, CTX)) == 1


def test_nothing_shadowed_is_fine() -> None:
    assert env_module_shadowed.no_local_module_shadows(linux_gpu_box(RTX4090), CTX) == []


def test_a_torch_checkout_on_pythonpath_is_taken_off_pythonpath_not_cd_away_from() -> None:
    checkout = "/home/ada/src/pytorch"
    facts = linux_gpu_box(
        RTX4090,
        env={"PYTHONPATH": f"{checkout}:/opt/tools"},
        shadowed_modules=[ShadowedModule("torch", f"{checkout}/torch")],
    )
    facts.torch.copies = [f"{checkout}/torch", *facts.torch.copies]
    findings = run_checks(facts)
    assert [f.code for f in findings] == ["env.module-shadowed"]  # one problem, not a second "mixed installs"
    assert findings[0].fix[0].startswith("export PYTHONPATH=/opt/tools ")
    assert not any(line.startswith("cd ") or "pip uninstall" in line for line in findings[0].fix)


def test_the_only_pythonpath_entry_is_unset() -> None:
    facts = linux_gpu_box(
        RTX4090,
        env={"PYTHONPATH": "/home/ada/src/pytorch/"},
        shadowed_modules=[ShadowedModule("torch", "/home/ada/src/pytorch/torch")],
    )
    [finding] = env_module_shadowed.no_local_module_shadows(facts, CTX)
    assert finding.fix[0].startswith("unset PYTHONPATH")


# --- cases a review found the checks getting wrong: the situation, stated, and what the doctor must say


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
