"""rocm.device-access: a ROCm process cannot open the AMD GPU (/dev/kfd, /dev/dri)."""

from __future__ import annotations

from torchrig.doctor.checks import run_checks
from torchrig.doctor.findings import Finding
from torchrig.doctor.report import parse_report


def _findings(text: str) -> list[Finding]:
    return run_checks(parse_report(text))


def _first(text: str) -> Finding:
    findings = _findings(text)
    assert findings, "no findings"
    return findings[0]


# --- /dev/kfd access (ROCT README: the user must be in the group that owns /dev/kfd)


def test_a_kfd_node_only_root_may_open_is_device_access_with_a_udev_rule() -> None:
    text = "$ ls -l /dev/kfd\ncrw------- 1 root root 510, 0 Mar  2 10:01 /dev/kfd\nrocminfo fails for my user.\n"
    first = _first(text)
    assert first.code == "rocm.device-access"
    assert any("udev" in step for step in first.fix)


def test_a_kfd_node_open_to_its_group_is_no_evidence() -> None:
    text = "$ ls -l /dev/kfd\ncrw-rw---- 1 root render 510, 0 Mar  2 10:01 /dev/kfd\nRuntimeError: CUDA error: out of memory\n"
    assert "rocm.device-access" not in [f.code for f in _findings(text)]


def test_rocm_that_works_only_as_root_is_device_access() -> None:
    text = "On Ubuntu 22.04 rocminfo lists no agents for my user, but it runs as root without any problem.\n"
    assert _first(text).code == "rocm.device-access"
