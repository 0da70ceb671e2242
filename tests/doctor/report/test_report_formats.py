"""Which tool's output a paste is (report/formats.py, ``Facts.report_format``): an installer's or docker's
refusal names it wherever it stands, otherwise the tool whose lines are most of the paste; prose, program
logs and tracebacks are a ``log``."""

from __future__ import annotations

import pytest

from torchrig.doctor.report import parse_report
from torchrig.doctor.report.formats import kind_of

# Docker's client wraps the daemon's error as "Error response from daemon: ...", the CLI prints "docker: " first
DAEMON_REFUSED = """\
Running the image gives me this:

    docker: Error response from daemon: failed to create task for container: unknown.

What am I missing?
"""
PIP_NO_VERSION = """\
$ pip install torch==1.8.0
ERROR: Could not find a version that satisfies the requirement torch==1.8.0 (from versions: 2.2.0, 2.2.1)
ERROR: No matching distribution found for torch==1.8.0
"""
UV_NO_SOLUTION = """\
$ uv add torch
  × No solution found when resolving dependencies:
  ╰─▶ Because torch has no wheels with a matching platform tag, we can conclude that torch cannot be used.
"""
SMI_TABLE = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
|=========================================+========================+======================|
|   0  NVIDIA A100-SXM4-40GB          On  |   00000000:07:00.0 Off |                    0 |
| N/A   31C    P0             52W /  400W |       0MiB /  40960MiB |      0%      Default |
+-----------------------------------------+------------------------+----------------------+
"""
KERNEL_LOG = """\
[ 1022.114503] NVRM: GPU at PCI:0000:3b:00: GPU-0b1f3a2e-1111-2222-3333-444455556666
[ 1022.114510] NVRM: Xid (PCI:0000:3b:00): 48, pid=2210, name=python, An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at partition 0, subpartition 0.
[ 1022.114520] NVRM: Xid (PCI:0000:3b:00): 63, pid=2210, name=python, Dynamic Page Retirement: New page retired
"""
TRACEBACK = """\
Traceback (most recent call last):
  File "train.py", line 3, in <module>
    x = torch.ones(1).cuda()
RuntimeError: CUDA error: out of memory
"""


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (DAEMON_REFUSED, "docker"),
        (PIP_NO_VERSION, "pip"),
        (UV_NO_SOLUTION, "pip"),
        (SMI_TABLE, "nvidia-smi"),
        (KERNEL_LOG, "dmesg"),
        (TRACEBACK, "log"),
        ("The GPU is slow since the upgrade, and I use torch 2.1.", "log"),
    ],
)
def test_each_tools_output_is_named_by_its_own_lines(text: str, kind: str) -> None:
    assert kind_of(text) == kind


def test_a_refusal_names_the_format_even_when_another_tools_output_is_longer() -> None:
    """The docker daemon refused, and an nvidia-smi table shows the host's driver: the paste is about docker."""
    assert kind_of(DAEMON_REFUSED + "\nnvidia-smi on the host:\n" + SMI_TABLE) == "docker"


def test_two_failures_of_different_tools_are_mixed() -> None:
    assert kind_of(PIP_NO_VERSION + "\nand with an older Python:\n" + TRACEBACK) == "mixed"


def test_two_tools_outputs_of_like_size_are_mixed() -> None:
    text = "The job died twice.\n" + KERNEL_LOG * 2 + "Then nvidia-smi showed:\n" + SMI_TABLE + "Is the card failing?\n"
    assert kind_of(text) == "mixed"  # of 17 lines, 6 the kernel's and 8 nvidia-smi's: neither half, each a quarter


def test_a_command_alone_among_the_programs_output_is_a_log() -> None:
    """`docker run` and then the program's own traceback: the program's output, not docker's."""
    text = "$ docker run --gpus all my/image python train.py\n" + TRACEBACK + "\nThe same runs fine on the host.\n"
    assert kind_of(text) == "log"


def test_a_sentence_naming_the_refusal_is_no_refusal() -> None:
    text = "pip crashes with `No matching distribution found` because the wheel is missing, I think.\n"
    assert kind_of(text) == "log"


def test_a_long_docker_command_is_docker() -> None:
    command = (
        "docker run --rm \\\n" + "".join(f"  --device /dev/dri/card{n} \\\n" for n in range(6)) + "  -it my/image\n"
    )
    facts = parse_report(command)
    assert facts.report_format == "docker"
