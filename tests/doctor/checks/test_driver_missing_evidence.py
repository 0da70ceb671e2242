"""driver.missing says only what was looked at: a report's machine had no /proc read by anyone."""

from __future__ import annotations

from torchrig.doctor import checks
from torchrig.doctor.report import parse_report

LOG = """Traceback (most recent call last):
  File "train.py", line 3, in <module>
    x = torch.zeros(1).cuda()
  File "/usr/lib/python3/dist-packages/torch/cuda/__init__.py", line 302, in _lazy_init
    torch._C._cuda_init()
RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx
"""


def test_a_report_without_proc_claims_nothing_about_the_kernel_module() -> None:
    findings = [f for f in checks.run_checks(parse_report(LOG)) if f.code == "driver.missing"]
    assert findings, "the log's own words say no driver was found"
    assert "kernel module" not in findings[0].evidence
