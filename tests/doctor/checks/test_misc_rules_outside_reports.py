"""Rules for CUDA_VISIBLE_DEVICES, containers without a GPU, NVML mismatches and CPU builds, checked on the wording of
public reports that are not in the corpus (short excerpts, each with its thread) and on text written from the primary
sources (CUDA C Programming Guide, NVML's error strings, PyTorch's wheel tags, the NVIDIA Container Toolkit)."""

from __future__ import annotations

from torchrig._core.errors import UserError
from torchrig.doctor.checks import run_checks
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.report import parse_report


def _findings(text: str) -> list[Finding]:
    try:
        return run_checks(parse_report(text))
    except UserError:  # nothing recognised: no finding either
        return []


def _first(text: str) -> tuple[str, Severity] | None:
    found = _findings(text)
    return (found[0].code, found[0].severity) if found else None


def _sigs(text: str) -> set[str]:
    try:
        return {hit.id for hit in parse_report(text).signatures}
    except UserError:
        return set()


# --- torch.cuda.is_available() answered False, told in words ------------------------------------------------------


def test_is_available_told_as_a_comparison_is_torch_s_answer() -> None:
    assert "torch.cuda-available-false" in _sigs("On my laptop torch.cuda.is_available() is False.\n")
    assert "torch.cuda-available-false" in _sigs("I got `2.1.0` with `torch.cuda.is_available() == False`.\n")
    # the dot before is_available lost when retyped
    assert "torch.cuda-available-false" in _sigs("while debugging, torch.cudais_available is false for me\n")
    # the answer first, the call after it
    assert "torch.cuda-available-false" in _sigs("the following returns false\n\n`torch.cuda.is_available()`\n")


def test_is_available_in_a_python_condition_is_no_answer() -> None:
    for line in (
        "if torch.cuda.is_available() == False:\n    device = 'cpu'\n",
        "elif torch.cuda.is_available() is False:\n",
        "assert torch.cuda.is_available() is False\n",
        "use_cpu = torch.cuda.is_available() == False\n",
        "return torch.cuda.is_available() is False\n",
        "x = torch.cuda.is_available() is False and args.cpu\n",
        # code whose next line calls it (a report's text is searched with its lines joined)
        "if args.gpu is False:\n    torch.cuda.is_available()\n",
        "    return False\ntorch.cuda.is_available()\n",
        "    cuda = torch.cuda.is_available()\n    return False\n",
    ):
        assert "torch.cuda-available-false" not in _sigs(line), line


# --- cuda.visible-devices: an index from 1 up, and torch finding no CUDA --------------------------------------------


def test_a_mask_naming_gpu_1_where_torch_finds_no_cuda_may_hide_the_only_gpu() -> None:
    # a repository's script sets the mask, the reporter tells torch's answer in words
    text = "The run script has `export CUDA_VISIBLE_DEVICES=1`, and then torch.cuda.is_available() is False.\n"
    found = _findings(text)
    assert found and found[0].code == "cuda.visible-devices" and found[0].severity is Severity.WARNING
    # the finding explains the answer: no "unexplained failure" after it
    assert [f.code for f in found] == ["cuda.visible-devices"]


def test_weizhepei_casrel_28_mask_1_on_a_one_gpu_machine() -> None:
    # https://github.com/weizhepei/CasRel/issues/28: os.environ["CUDA_VISIBLE_DEVICES"] = "1" in the repository's code;
    # "For those who have only one GPU device, this line should be changed to ... = "0""
    text = 'os.environ["CUDA_VISIBLE_DEVICES"] = "1"\nwith it torch.cuda.is_available() is False on my machine\n'
    assert _first(text) == ("cuda.visible-devices", Severity.WARNING)


def test_pytorch_examples_115_mask_2_with_one_gpu_in_nvidia_smi() -> None:
    # https://github.com/pytorch/examples/issues/115: "CUDA_VISIBLE_DEVICES=2 ... actually disables CUDA"
    text = (
        "~/pytorch/examples/mnist$ CUDA_VISIBLE_DEVICES=2 python main.py\n"
        "THCudaCheck FAIL file=torch/csrc/cuda/Module.cpp line=109 error=38 : no CUDA-capable device is detected\n"
        "~/pytorch/examples/mnist$ nvidia-smi\n"
        "| NVIDIA-SMI 375.39                 Driver Version: 375.39                    |\n"
        "|   0  TITAN X (Pascal)    Off  | 0000:01:00.0      On |                  N/A |\n"
        "| 23%   27C    P8    10W / 250W |     63MiB / 12186MiB |      0%      Default |\n"
    )
    assert _first(text) == ("cuda.visible-devices", Severity.ERROR)


# --- container.no-gpu: `docker run` without --gpus, then torch inside answering False ------------------------------


def test_plain_docker_run_then_is_available_false_is_a_container_without_gpu() -> None:
    # open-edge-platform/anomalib#584 (`docker run -it test`, then torch.cuda.is_available() False inside) and
    # zzzyuqing/DreamMat#14 ("torch.cuda.is_available() = False" in the image; the fix was `--gpus all`)
    prompt = "$ docker run -it test\nroot@00921839c781:/anomalib# python\n>>> import torch\n>>> torch.cuda.is_available()\nFalse\n"
    assert _first(prompt) == ("container.no-gpu", Severity.ERROR)
    prose = "I started it with `docker run -it --rm dreammat:latest bash` and got torch.cuda.is_available() = False.\n"
    assert _first(prose) is not None and _first(prose)[0] == "container.no-gpu"  # type: ignore[index]


def test_docker_run_with_gpus_is_not_this_row() -> None:
    text = "$ docker run --gpus all -it test\n>>> torch.cuda.is_available()\nFalse\n"
    assert "container.docker-run-without-gpus" not in _sigs(text)


# --- driver.version-mismatch: NVML's message as people write it ---------------------------------------------------


def test_nvml_mismatch_retyped_without_the_slash_or_as_a_link() -> None:
    # rocker-org/ml#28 and hpc-admin-sist/DockerMonitor#42 quote it whole; people also retype it without the slash,
    # or point at the Stack Overflow question named after it
    assert _first("after an apt upgrade nvidia-smi says driver library version mismatch; a reboot fixed it\n") == (
        "driver.version-mismatch",
        Severity.ERROR,
    )
    link = "I hit https://stackoverflow.com/questions/43022843/nvidia-nvml-driver-library-version-mismatch again\n"
    assert "driver.nvml-version-mismatch" in _sigs(link)


# --- torch.cpu-only-build: the build said, in English and Chinese --------------------------------------------------


def test_chinese_reports_that_the_installer_chose_the_cpu_build() -> None:
    # MarcelLeon/key-face-frame#2: "自动安装的torch选择的是cpu版，对于有显卡的电脑来说有点浪费性能"
    assert _first("自动安装的torch选择的是cpu版，对于有显卡的电脑来说有点浪费性能\n") == (
        "torch.cpu-only-build",
        Severity.WARNING,
    )
    # THU-MIG/yolov10#218: "linux上torch默认就是gpu版的，但是windows上的默认是cpu版"
    text = (
        "本地win10机器，本来就有cuda12.2，安装好后，torch.cuda.is_available() 就是False。\n"
        "linux上torch默认就是gpu版的，但是windows上的默认是cpu版\n"
    )
    assert _first(text) == ("torch.cpu-only-build", Severity.WARNING)


def test_a_condition_in_chinese_states_no_build() -> None:
    # "if torch installs the CPU build by default, CUDA cannot be used": a condition, no statement of the build
    assert "torch.cpu-only-build" not in [f.code for f in _findings("如果torch默认安装的是cpu版，cuda就不能用\n")]


def test_the_pytorch_build_said_to_be_cpu_only_where_a_cuda_wheel_is_named() -> None:
    # the CUDA wheel named (PyTorch's cu121 index) is the request for CUDA
    text = (
        "I think your PyTorch version is CPU only.\n"
        "fixed it with pip3 install torch --index-url https://download.pytorch.org/whl/cu121\n"
    )
    assert "torch.build-said-cpu" in _sigs(text)
    assert _first(text) == ("torch.cpu-only-build", Severity.WARNING)


def test_a_bare_version_with_pytorch_s_cpu_tag_in_a_sentence_about_torch() -> None:
    text = (
        "I installed torch on Windows with uv and got `2.4.1+cpu` with `torch.cuda.is_available() == False`.\n"
        'The lock has { name = "torch", version = "2.4.1+cu124", marker = "sys_platform == \'linux\'" }\n'
    )
    facts = parse_report(text)
    assert facts.torch.version == "2.4.1+cpu"  # the lockfile's value is a record, not what ran
    assert _first(text) == ("torch.cpu-only-build", Severity.WARNING)


def test_a_bare_tagged_version_without_torch_in_its_sentence_is_not_torch_s() -> None:
    facts = parse_report("The CUDA runtime failed.\nmy package is 2.4.1+cpu, torch.cuda.is_available() returns False\n")
    assert facts.torch.version is None


# --- healthy controls: read and answered, never refused, never an error ---------------------------------------------


def test_lightning_s_few_workers_warning_is_a_warning_about_the_data_not_the_machine() -> None:
    # kuleshov-group/caduceus#29 (Lightning 1.x wording) and EveryVoiceTTS/EveryVoice#173 (2.x wording)
    old = (
        "site-packages/pytorch_lightning/trainer/connectors/data_connector.py:224: PossibleUserWarning: The dataloader, "
        "val_dataloader 0, does not have many workers which may be a bottleneck. Consider increasing the value of the "
        "`num_workers` argument` (try 128 which is the number of cpus on this machine) in the `DataLoader` init to "
        "improve performance.\n"
    )
    new = (
        "site-packages/pytorch_lightning/trainer/connectors/data_connector.py:441: The 'val_dataloader' does not have "
        "many workers which may be a bottleneck. Consider increasing the value of the `num_workers` argument` to "
        "`num_workers=15` in the `DataLoader` to improve performance.\n"
    )
    for text in (old, new):
        found = _findings(text)
        assert [(f.code, f.severity) for f in found] == [("dataloader.few-workers", Severity.WARNING)]


def test_a_program_silencing_the_few_workers_warning_is_not_the_warning() -> None:
    text = (
        "warnings.filterwarnings('ignore', message=\"The dataloader, val_dataloader 0, does not have many workers "
        'which may be a bottleneck.")\n'
        "warnings.filterwarnings('ignore', '.*does not have many workers which may be a bottleneck.*')\n"
    )
    assert "program.dataloader-few-workers" not in _sigs(text)


def test_a_machine_with_intel_graphics_is_read_and_gets_no_error() -> None:
    # CMU-Perceptual-Computing-Lab/openpose#1571, NVlabs/MUNIT#82, NVIDIA/cudf-spark#2331: asked whether CUDA works
    # without an NVIDIA GPU, on Intel graphics
    for text in (
        "Must I have an Nvidia GPU and install CUDA? I only have intel(R) UHD Graphics 630\n",
        "I would like to run it on my laptop, but I only have an integrated (Intel HD) graphic card.\n",
        "My laptop don't has Nvidia's independent graphics card, just has Intel's integrated graphics card.\n",
    ):
        facts = parse_report(text)  # read, not refused
        assert not facts.gpus.devices  # Intel graphics is no NVIDIA GPU, and no absence is recorded either
        assert not [f for f in run_checks(facts) if f.severity is Severity.ERROR]
