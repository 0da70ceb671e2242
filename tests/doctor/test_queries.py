"""Questions the checks ask of the facts: which interpreter a fix must use, how a fix line is quoted."""

from __future__ import annotations

import pytest

from torchrig.doctor import queries
from torchrig.doctor.facts import Facts


def _report(location: str, os_name: str = "Linux") -> Facts:
    facts = Facts(origin="report")
    facts.torch.location = location
    facts.system.os = os_name
    return facts


@pytest.mark.parametrize(
    ("location", "python"),
    [
        ("/home/ada/miniconda3/envs/sd/lib/python3.10/site-packages/torch", "/home/ada/miniconda3/envs/sd/bin/python"),
        ("/srv/app/.venv/lib/python3.12/site-packages/torch", "/srv/app/.venv/bin/python"),
        ("/usr/lib/python3/dist-packages/torch", "python"),  # a distribution's Python: no env to name
    ],
)
def test_a_reports_site_packages_path_names_the_interpreter_to_fix_with(location: str, python: str) -> None:
    assert queries.python_command(_report(location)) == python


def test_comfyuis_embedded_windows_python_is_used_and_quoted_for_windows() -> None:
    facts = _report(r"D:\ComfyUI_windows_portable\python_embeded\Lib\site-packages\torch", "Windows")
    py = queries.python_command(facts)
    assert py == r"D:\ComfyUI_windows_portable\python_embeded\python.exe"
    assert queries.shell_join(facts, [py, "-m", "pip", "install", "torch==2.7.*"]) == (
        r"D:\ComfyUI_windows_portable\python_embeded\python.exe -m pip install torch==2.7.*"
    )
    spaced = r"C:\Program Files\Python312\python.exe"
    assert queries.shell_join(facts, [spaced, "-m", "pip"]) == f'"{spaced}" -m pip'


def test_two_environments_in_one_report_name_no_interpreter() -> None:
    facts = _report("/a/envs/one/lib/python3.11/site-packages/torch")
    facts.torch.copies = ["/a/envs/two/lib/python3.11/site-packages/torch"]
    assert queries.python_command(facts) == "python"


def test_live_the_interpreter_that_imported_torch_is_used() -> None:
    facts = Facts(origin="live")
    facts.torch.python = "/opt/venv/bin/python3"
    assert queries.python_command(facts) == "/opt/venv/bin/python3"
