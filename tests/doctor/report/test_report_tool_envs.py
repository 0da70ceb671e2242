"""Other projects' environment dumps, rendered from the format strings of the programs that print them
(transformers/commands/env.py, accelerate/commands/env.py, deepspeed/env_report.py, vllm/collect_env.py),
with values chosen here."""

from __future__ import annotations

from torchrig.doctor import checks
from torchrig.doctor.report import parse_report

TRANSFORMERS_ENV = """
Copy-and-paste the text below in your GitHub issue and FILL OUT the two last points.

- `transformers` version: 4.52.4
- Platform: Linux-6.8.0-60-generic-x86_64-with-glibc2.39
- Python version: 3.12.3
- Huggingface_hub version: 0.33.0
- Safetensors version: 0.5.3
- Accelerate version: 1.7.0
- Accelerate config: \tnot found
- DeepSpeed version: not installed
- PyTorch version (accelerator?): 2.7.1+cu126 (CUDA)
- Tensorflow version (GPU?): not installed (NA)
- Flax version (CPU?/GPU?/TPU?): not installed (NA)
- Jax version: not installed
- JaxLib version: not installed
- Using distributed or parallel set-up in script?: <fill in>
- Using GPU in script?: <fill in>
- GPU type: NVIDIA GeForce RTX 4090
"""

OLD_TRANSFORMERS_ENV = """
- `transformers` version: 4.30.2
- Platform: Linux-5.4.0-150-generic-x86_64-with-glibc2.31
- Python version: 3.9.16
- Huggingface_hub version: 0.15.1
- PyTorch version (GPU?): 1.12.1+cu102 (False)
- Tensorflow version (GPU?): not installed (NA)
- Using GPU in script?: <fill in>
- Using distributed or parallel set-up in script?: <fill in>
"""

ACCELERATE_ENV = """
Copy-and-paste the text below in your GitHub issue

- `Accelerate` version: 0.30.1
- Platform: Windows-10-10.0.22631-SP0
- `accelerate` bash location: C:\\Users\\me\\venv\\Scripts\\accelerate.exe
- Python version: 3.10.11
- Numpy version: 1.26.4
- PyTorch version (GPU?): 2.3.0+cpu (False)
- PyTorch XPU available: False
- PyTorch NPU available: False
- System RAM: 31.93 GB
- `Accelerate` default config:
\tNot found
"""

DS_REPORT = """
--------------------------------------------------
DeepSpeed C++/CUDA extension op report
--------------------------------------------------
fused_adam ............. [NO] ....... [OKAY]
--------------------------------------------------
DeepSpeed general environment info:
torch install path ............... ['/opt/conda/lib/python3.10/site-packages/torch']
torch version .................... 2.4.0+cu121
deepspeed install path ........... ['/opt/conda/lib/python3.10/site-packages/deepspeed']
deepspeed info ................... 0.15.1, unknown, unknown
torch cuda version ............... 12.1
torch hip version ................ None
nvcc version ..................... 12.4
deepspeed wheel compiled w. ...... torch 2.4, cuda 12.1
shared memory (/dev/shm) size .... 62.79 GB
"""

VLLM_ENV = """
==============================
       PyTorch Info
==============================
PyTorch version              : 2.7.0+cu126
Is debug build               : False
CUDA used to build PyTorch   : 12.6
ROCM used to build PyTorch   : N/A

==============================
      Python Environment
==============================
Python version               : 3.12.11 (main, Jun  4 2025, 08:56:18) [GCC 11.4.0] (64-bit runtime)
Python platform              : Linux-5.15.0-139-generic-x86_64-with-glibc2.35

==============================
       CUDA / GPU Info
==============================
Is CUDA available            : True
GPU models and configuration : \nGPU 0: NVIDIA L40S
GPU 1: NVIDIA L40S

Nvidia driver version        : 550.144.03

==============================
         vLLM Info
==============================
ROCM Version                 : Could not collect
vLLM Version                 : 0.9.2

==============================
     Environment Variables
==============================
NCCL_SOCKET_IFNAME=bond0
CUDA_VISIBLE_DEVICES=0,1
"""


def test_transformers_env_gives_torch_python_platform_and_gpu() -> None:
    facts = parse_report(TRANSFORMERS_ENV)
    assert facts.report_format == "transformers-env"
    assert (facts.torch.version, facts.torch.cuda, facts.torch.cuda_available) == ("2.7.1+cu126", "12.6", True)
    assert (facts.system.python_version, facts.system.os, facts.system.machine) == ("3.12.3", "Linux", "x86_64")
    assert [g.name for g in facts.gpus.devices] == ["NVIDIA GeForce RTX 4090"]
    assert facts.companion("transformers").version == "4.52.4"  # type: ignore[union-attr]
    assert facts.companion("deepspeed") is None  # "not installed" is not a version


def test_older_transformers_env_says_cuda_is_not_available_and_names_no_gpu() -> None:
    facts = parse_report(OLD_TRANSFORMERS_ENV)
    assert (facts.torch.version, facts.torch.cuda_available) == ("1.12.1+cu102", False)
    assert facts.gpus.devices == []  # transformers names the GPU only when CUDA works: unknown, not absent


def test_accelerate_env_on_windows_with_a_cpu_build() -> None:
    facts = parse_report(ACCELERATE_ENV)
    assert facts.report_format == "accelerate-env"
    assert (facts.torch.version, facts.torch.cuda, facts.system.os) == ("2.3.0+cpu", None, "Windows")
    assert facts.companion("numpy").version == "1.26.4"  # type: ignore[union-attr]
    # no GPU is named, so nothing says the CPU build is wrong for this machine: no error
    assert [f for f in checks.run_checks(facts) if f.severity.value == "error"] == []


def test_ds_report_gives_torch_its_cuda_and_the_toolkit() -> None:
    facts = parse_report(DS_REPORT)
    assert facts.report_format == "ds_report"
    assert (facts.torch.version, facts.torch.cuda, facts.torch.hip) == ("2.4.0+cu121", "12.1", None)
    assert facts.toolkit.version == "12.4"
    assert facts.torch.location == "/opt/conda/lib/python3.10/site-packages/torch"
    assert facts.companion("deepspeed").version == "0.15.1"  # type: ignore[union-attr]


def test_vllm_collect_env_adds_vllm_and_its_environment_section() -> None:
    facts = parse_report(VLLM_ENV)
    assert facts.report_format == "vllm-collect-env"
    assert facts.torch.version == "2.7.0+cu126" and facts.driver.userspace == "550.144.03"
    assert facts.companion("vllm").version == "0.9.2"  # type: ignore[union-attr]
    assert facts.system.env["NCCL_SOCKET_IFNAME"] == "bond0"
    assert facts.system.env["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert checks.run_checks(facts) == []


def test_a_bullet_list_that_is_no_tools_dump_is_not_read_as_one() -> None:
    text = "- Python version: 3.12.3\n- PyTorch version: 2.5.0\nRuntimeError: No CUDA GPUs are available\n"
    assert parse_report(text).report_format != "transformers-env"


CONDA_LIST = """\
# packages in environment at /home/u/miniconda3/envs/vision:
#
# Name                    Version                   Build  Channel
cudatoolkit               11.8.0              h6a678d5_0
numpy                     1.26.4          py311h08b1b3b_0
pytorch                   2.1.2           py3.11_cuda11.8_cudnn8.7.0_0    pytorch
pytorch-cuda              11.8                 h7e8668a_5    pytorch
torchvision               0.16.2              py311_cu118    pytorch
"""


def test_conda_list_gives_the_conda_torch_and_its_cuda_from_the_build_string() -> None:
    facts = parse_report(CONDA_LIST)
    assert facts.report_format == "conda-list"
    assert (facts.torch.version, facts.torch.cuda, facts.torch.installer) == ("2.1.2", "11.8", "conda")
    assert facts.companion("torchvision").version == "0.16.2"  # type: ignore[union-attr]


def test_conda_forge_build_strings_name_the_cuda_too() -> None:
    text = "pytorch                   2.5.1           cuda126_py312h1234567_303    conda-forge\n"
    assert parse_report(text).torch.cuda == "12.6"


def test_a_conda_environment_pinned_to_cpu_builds_is_said_so_without_claiming_a_gpu() -> None:
    text = (
        "cpuonly                   2.0                           0    pytorch\n"
        "pytorch                   2.0.1               py3.10_cpu_0    pytorch\n"
        "pytorch-mutex             1.0                         cpu    pytorch\n"
    )
    facts = parse_report(text)
    assert (facts.torch.version, facts.torch.cuda) == ("2.0.1", None)
    (finding,) = checks.run_checks(facts)
    assert (finding.code, finding.severity.value) == ("torch.cpu-only-build", "warning")
    assert "conda remove -y cpuonly" in finding.fix


ROCMINFO = """\
ROCk module version 6.8.5 is loaded
==========
HSA Agents
==========
*******
Agent 1
*******
  Name:                    AMD EPYC 7763 64-Core Processor
  Marketing Name:          AMD EPYC 7763 64-Core Processor
  Device Type:             CPU
*******
Agent 2
*******
  Name:                    gfx1032
  Uuid:                    GPU-XX
  Marketing Name:          AMD Radeon RX 6650 XT
  Vendor Name:             AMD
  Device Type:             GPU
"""


def test_rocminfo_names_each_gpu_agent_with_its_gfx_target() -> None:
    facts = parse_report(ROCMINFO)
    assert [g.name for g in facts.gpus.devices] == ["AMD Radeon RX 6650 XT (gfx1032)"]
    assert checks.run_checks(facts) == []


def test_an_amd_gpu_is_not_taken_for_an_nvidia_one() -> None:
    facts = parse_report(ROCMINFO + "AssertionError: Torch not compiled with CUDA enabled\n")
    severities = [f.severity.value for f in checks.run_checks(facts)]
    assert severities and set(severities) == {"warning"}  # never "this machine has"


def test_hip_without_code_for_an_amd_gpu_rocminfo_listed_names_its_target_and_the_override() -> None:
    text = (
        ROCMINFO
        + '"hipErrorNoBinaryForGpu: Unable to find code object for all current devices!"\nAborted (core dumped)\n'
    )
    (finding, *_) = checks.run_checks(parse_report(text))
    assert finding.code == "rocm.gpu-unsupported"
    assert finding.evidence["GPU target"] == "gfx1032"
    assert finding.fix[0].startswith("export HSA_OVERRIDE_GFX_VERSION=10.3.0")


def test_rocm_smi_product_names_and_its_table() -> None:
    text = (
        "GPU[0]\t\t: Card Series: \t\tAMD Instinct MI210\nGPU[0]\t\t: GFX Version: \t\tgfx90a\n"
        "GPU[1]\t\t: Card Series: \t\tAMD Instinct MI210\nGPU[1]\t\t: GFX Version: \t\tgfx90a\n"
    )
    assert [g.name for g in parse_report(text).gpus.devices] == ["AMD Instinct MI210 (gfx90a)"] * 2
    table = (
        "======================= ROCm System Management Interface =======================\n"
        "================================= Concise Info =================================\n"
        "GPU  Temp (DieEdge)  AvgPwr  SCLK     MCLK     Fan     Perf  PwrCap  VRAM%  GPU%\n"
        "0    48.0c           35.0W   800Mhz   96Mhz    0%      auto  203.0W    0%   0%\n"
        "1    47.0c           33.0W   800Mhz   96Mhz    0%      auto  203.0W    0%   0%\n"
    )
    assert [g.index for g in parse_report(table).gpus.devices] == [0, 1]


def test_the_gfx_override_on_a_command_line_is_an_environment_fact() -> None:
    text = "$ HSA_OVERRIDE_GFX_VERSION=10.3.0 python3 train.py\nKilled\n"
    assert parse_report(text).system.env["HSA_OVERRIDE_GFX_VERSION"] == "10.3.0"


SGLANG_ENV = """\
Python: 3.11.9 (main, Apr  6 2024, 17:59:24) [GCC 11.4.0]
CUDA available: True
GPU 0,1: Tesla T4
GPU 0,1 Compute Capability: 7.5
CUDA_HOME: /usr/local/cuda
NVCC: Cuda compilation tools, release 12.4, V12.4.131
CUDA Driver Version: 550.90.07
PyTorch: 2.5.1+cu124
sglang: 0.4.1
sgl_kernel: Module Not Found
flashinfer: 0.1.6+cu124torch2.4
triton: 3.1.0
transformers: 4.47.1
numpy: 1.26.4
vllm: 0.6.4.post1
ulimit soft: 1048576
"""


def test_sglang_check_env_gives_torch_gpus_with_capability_driver_and_packages() -> None:
    facts = parse_report(SGLANG_ENV)
    assert facts.report_format == "sglang-check-env"
    assert (facts.torch.version, facts.torch.cuda, facts.torch.cuda_available) == ("2.5.1+cu124", "12.4", True)
    assert [(g.index, g.name, g.compute_capability) for g in facts.gpus.devices] == [
        (0, "Tesla T4", "7.5"),
        (1, "Tesla T4", "7.5"),
    ]
    assert (facts.driver.userspace, facts.toolkit.version, facts.system.python_version) == (
        "550.90.07",
        "12.4",
        "3.11.9",
    )
    assert facts.companion("vllm").version == "0.6.4.post1"  # type: ignore[union-attr]
    assert facts.companion("sgl-kernel") is None  # "Module Not Found"


def test_a_torch_without_a_build_tag_that_reaches_the_gpu_is_not_called_a_cpu_build() -> None:
    # an NGC container's torch (2.4.0a0+...nv24.07) and a conda torch (2.3.1) carry no +cuXXX tag
    for version in ("2.4.0a0+3bcc3cddb5.nv24.07", "2.3.1"):
        dump = OLD_TRANSFORMERS_ENV.replace("1.12.1+cu102 (False)", f"{version} (True)") + (
            "- GPU type: NVIDIA A100-SXM4-80GB\n"
        )
        facts = parse_report(dump)
        assert facts.torch.cuda_available is True
        codes = [f.code for f in checks.run_checks(facts)]
        assert "torch.cpu-only-build" not in codes, codes
        assert "CPU build" not in " ".join(f.title for f in checks.run_checks(facts))


def test_a_torch_that_imported_in_a_report_is_not_assumed_a_cpu_build() -> None:
    from torchrig.doctor import queries

    facts = parse_report(">>> import torch\n>>> torch.__version__\n'2.4.1'\n")
    assert facts.torch.version == "2.4.1"
    assert queries.torch_variant(facts) is None  # the report never showed torch.version.cuda
