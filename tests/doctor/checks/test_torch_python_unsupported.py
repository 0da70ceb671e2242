"""torch.python-unsupported: the installed torch release must publish wheels for this Python."""

from __future__ import annotations

from check_facts import RTX4090, linux_gpu_box

from torchrig.doctor.checks import CheckContext, torch_python_unsupported
from torchrig.doctor.findings import Severity

CTX = CheckContext()


def test_torch_2_4_on_python_3_13_is_outside_its_wheels() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.4.1+cu121", cuda="12.1", python="3.13.1")
    [finding] = torch_python_unsupported.torch_supports_this_python(facts, CTX)
    assert finding.severity is Severity.WARNING
    assert finding.title == "torch 2.4 supports Python 3.8-3.12 on Linux x86_64, not 3.13"
    assert finding.fix[0] == "uv venv --python 3.12 .venv-torch2.4"


def test_in_a_conda_setup_the_fix_creates_a_conda_environment() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.4.1+cu121", cuda="12.1", python="3.13.1", conda_prefix="/opt/conda")
    [finding] = torch_python_unsupported.torch_supports_this_python(facts, CTX)
    assert finding.fix[0] == "conda create -y -n torch2.4 python=3.12"


def test_torch_2_13_on_python_3_12_is_supported() -> None:
    assert torch_python_unsupported.torch_supports_this_python(linux_gpu_box(RTX4090), CTX) == []
