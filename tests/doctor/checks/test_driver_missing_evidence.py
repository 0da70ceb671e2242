"""driver.missing says only what was looked at: a report's machine had no /proc read by anyone."""

from __future__ import annotations

from torchrig.doctor import checks
from torchrig.doctor.facts import Gpu
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


_NO_DRIVER = """Traceback (most recent call last):
  File "/srv/app/infer.py", line 12, in <module>
    model = model.cuda()
  File "/usr/local/lib/python3.10/dist-packages/torch/cuda/__init__.py", line 302, in _lazy_init
    torch._C._cuda_init()
RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx
"""


def test_torch_finding_no_driver_with_no_gpu_shown_is_a_suspicion_that_asks_whether_there_is_a_gpu() -> None:
    # torch prints this on every machine without libcuda, GPU-less laptops and servers included
    [finding] = checks.run_checks(parse_report(_NO_DRIVER))
    assert finding.code == "driver.missing" and finding.severity.value == "warning"
    assert "lspci" in finding.fix[0] and "cpu" in finding.fix[1].lower()


def test_torch_finding_no_driver_beside_a_named_gpu_is_an_error() -> None:
    text = "My GPU is an NVIDIA GeForce RTX 3060.\n" + _NO_DRIVER
    finding = checks.run_checks(parse_report(text))[0]
    assert finding.code == "driver.missing" and finding.severity.value == "error"


def test_torch_finding_no_driver_beside_only_an_amd_gpu_asks_whether_there_is_an_nvidia_one() -> None:
    # a CUDA build of torch on a machine whose reporter names only an AMD GPU: no NVIDIA driver to install
    facts = parse_report(_NO_DRIVER)
    facts.gpus.devices = [Gpu(index=0, name="AMD Radeon RX 7900 XTX", source="stated")]
    finding = checks.run_checks(facts)[0]
    assert finding.code == "driver.missing" and finding.severity.value == "warning"
    assert "lspci" in finding.fix[0]


def test_nvidia_smi_failing_to_reach_the_driver_stays_an_error_without_a_gpu_named() -> None:
    text = "$ nvidia-smi\nNVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n"
    finding = checks.run_checks(parse_report(text))[0]
    assert finding.code == "driver.missing" and finding.severity.value == "error"


_NO_SMI = "user@box:~$ nvidia-smi\nnvidia-smi: command not found\n"


def test_nvidia_smi_not_installed_beside_a_named_gpu_is_the_missing_driver() -> None:
    # nvidia-smi is installed with the NVIDIA driver: a shell on the machine without it has no driver
    finding = checks.run_checks(parse_report("Ubuntu 24.04 with an RTX 4070.\n" + _NO_SMI))[0]
    assert finding.code == "driver.missing" and finding.severity.value == "error"


def test_nvidia_smi_not_installed_alone_first_asks_whether_there_is_a_gpu() -> None:
    [finding] = checks.run_checks(parse_report(_NO_SMI))
    assert finding.code == "driver.missing" and finding.severity.value == "warning"
    assert finding.title.startswith("nvidia-smi is not installed") and "lspci" in finding.fix[0]


def test_nvidia_smi_missing_inside_a_container_is_the_containers_not_the_hosts() -> None:
    text = "$ docker run -it --rm myorg/trainer:latest\n" + _NO_SMI
    codes = [f.code for f in checks.run_checks(parse_report(text))]
    assert "driver.missing" not in codes and codes[0] == "container.no-gpu"
