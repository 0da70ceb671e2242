"""torch.cpu-only-build: where there is an NVIDIA GPU, torch must be a CUDA build."""

from __future__ import annotations

from check_facts import (
    GTX1080,
    PY,
    RTX4090,
    RTX5090,
    findings_of,
    gpus,
    linux_gpu_box,
    mac,
    pkg,
    report,
    this_machine,
)

from torchrig._core.errors import UserError
from torchrig.doctor.checks import CheckContext, run_checks, torch_cpu_only_build
from torchrig.doctor.findings import Severity
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def _first(text: str) -> tuple[str, Severity] | None:
    found = findings_of(text)
    return (found[0].code, found[0].severity) if found else None


def _sigs(text: str) -> set[str]:
    try:
        return {hit.id for hit in parse_report(text).signatures}
    except UserError:
        return set()


def test_a_cpu_wheel_on_an_rtx_4090_is_replaced_by_the_cuda_build_with_its_torchvision() -> None:
    facts = linux_gpu_box(
        RTX4090, torch="2.13.0+cpu", cuda=None, companions=[pkg("torchvision", "0.28.0+cpu", "torch==2.13.0")]
    )
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert (
        finding.title
        == "torch 2.13.0+cpu is a CPU-only build, but this machine has GPU0 NVIDIA GeForce RTX 4090 (compute capability 8.9)"
    )
    assert finding.fix == (
        f"{PY} -m pip uninstall -y torch torchvision",
        f"{PY} -m pip install torch==2.13.0 torchvision==0.28.0 --index-url https://download.pytorch.org/whl/cu130",
    )


def test_a_gtx_1080_gets_the_cuda_line_with_pascal_kernels() -> None:
    facts = linux_gpu_box(GTX1080, torch="2.13.0+cpu", cuda=None)
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert finding.fix[-1].endswith("torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126")


def test_a_conda_install_is_fixed_with_conda() -> None:
    facts = linux_gpu_box(
        RTX4090, torch="2.13.0+cpu", cuda=None, installer="conda", conda_prefix="/opt/conda/envs/train"
    )
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert finding.fix == (
        "conda install -y -p /opt/conda/envs/train -c conda-forge 'pytorch=2.13.0=cuda*' 'cuda-version>=13.0,<14'",
    )


def test_torch_not_compiled_with_cuda_in_a_log_yields_the_finding() -> None:
    facts = report(
        ("torch.not-compiled-with-cuda", "AssertionError: Torch not compiled with CUDA enabled"), version="2.13.0+cpu"
    )
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert "Torch not compiled with CUDA enabled" in finding.evidence["report line 3"]
    # the log does not show whether there is a GPU: not an error, and both ways out are given
    assert finding.severity.value == "warning" and "has" not in finding.title
    assert any(
        line.startswith("python -m pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu")
        for line in finding.fix
    )
    assert finding.fix[-1] == "# without one: make the program use device='cpu'"


def test_torch_not_compiled_with_cuda_with_a_gpu_in_the_report_is_an_error() -> None:
    facts = report(
        ("torch.not-compiled-with-cuda", "AssertionError: Torch not compiled with CUDA enabled"), version="2.13.0+cpu"
    )
    facts.gpus.devices = gpus(RTX4090)
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert finding.severity.value == "error" and "RTX 4090" in finding.title


def test_a_cpu_build_on_a_machine_without_a_gpu_is_right() -> None:
    assert torch_cpu_only_build.cuda_build_where_gpu(this_machine(), CTX) == []


def test_a_mac_is_right_with_its_build() -> None:
    assert torch_cpu_only_build.cuda_build_where_gpu(mac(), CTX) == []


def test_a_cuda_build_on_a_gpu_is_right() -> None:
    assert torch_cpu_only_build.cuda_build_where_gpu(linux_gpu_box(RTX4090), CTX) == []


def test_conda_on_an_rtx_5090_with_driver_570_pins_a_cuda_12_that_has_sm_120() -> None:
    facts = linux_gpu_box(RTX5090, driver="570.133.07", torch="2.13.0+cpu", cuda=None, installer="conda")
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert finding.fix == ("conda install -y -c conda-forge 'pytorch=2.13.0=cuda*' 'cuda-version>=12.9,<13'",)


def test_an_installer_that_finds_a_cpu_torch_where_the_driver_needs_cuda_reports_a_cpu_build() -> None:
    text = "setting up Python environment...\nStale venv detected (torch cpu != required cu128) -- rebuilding...\n"
    first = run_checks(parse_report(text))[0]
    assert first.code == "torch.cpu-only-build"


def test_an_installer_that_finds_another_cuda_variant_is_no_cpu_build() -> None:
    from torchrig.knowledge import signatures

    text = "Stale venv detected (torch cu124 != required cu128) -- rebuilding...\n"
    assert not any(m.signature.id == "installer.cpu-torch-where-cuda-required" for m in signatures.find(text))


# Reports written from the sources' wording (uv's "Using uv with PyTorch"; torch's is_available()), not corpus text.


def test_a_uv_project_on_windows_gets_the_index_in_pyproject_and_the_three_packages() -> None:
    """PyPI's Windows wheels are CPU builds: `uv sync` without PyTorch's index installs one beside an RTX 4090."""
    text = (
        "After `uv sync` on Windows 11 my RTX 4090 is unused.\n"
        "- torch: 2.12.1+cpu\n- Driver: 581.15\n"
        ">>> torch.cuda.is_available()\nFalse\n"
    )
    facts = parse_report(text)
    assert facts.torch.version == "2.12.1+cpu" and facts.torch.installer == "uv"
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert finding.severity.value == "error"
    fix = "\n".join(finding.fix)
    assert "PyPI's torch for Windows is a CPU build" in fix
    assert '#   torch = [{ index = "pytorch-cu130", marker = "sys_platform == \'win32\'" }]' in fix
    assert "#   explicit = true" in fix and "torchaudio = [{ index" in fix
    assert finding.fix[-1].startswith("uv pip install torch==2.12.1 torchvision==0.27.1 torchaudio==")


def test_a_stated_cpu_tag_with_is_available_false_in_backticks_is_a_cpu_build() -> None:
    text = "PyTorch: `2.10.0+cpu`\nGPU: NVIDIA GeForce RTX 3060\n\n`torch.cuda.is_available()` returns `False`.\n"
    findings = run_checks(parse_report(text))
    assert findings[0].code == "torch.cpu-only-build" and findings[0].severity.value == "error"


def test_linux_x86_64_pypi_torch_is_a_cuda_build_so_no_pypi_note() -> None:
    facts = linux_gpu_box(RTX4090, torch="2.13.0+cpu", cuda=None)
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert not any("PyPI's torch" in line for line in finding.fix)


def test_is_available_false_on_a_jetson_points_at_nvidias_jetpack_wheels() -> None:
    facts = parse_report("Jetson Orin with JetPack 6.1: pip install went fine but cuda.is_available() returns false\n")
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert finding.severity.value == "warning" and "Jetson" in finding.title
    assert any("NVIDIA publishes for this JetPack release" in line for line in finding.fix)
    assert not any("download.pytorch.org" in line for line in finding.fix)


def test_a_cuda_build_on_a_jetson_is_not_called_cpu_only() -> None:
    text = "JetPack 5.1.2\ntorch 2.1.0a0+41361538.nv23.06, torch.version.cuda: 11.4\ntorch.cuda.is_available() False\n"
    facts = parse_report(text)
    facts.torch.cuda = "11.4"
    assert torch_cpu_only_build.cuda_build_where_gpu(facts, CTX) == []


def test_pip_install_torch_without_an_index_on_windows_is_pypis_cpu_build() -> None:
    """pytorch.org's Start Locally gives Windows CUDA installs an --index-url; without one, pip takes PyPI's CPU wheel."""
    text = (
        "Windows 11, RTX 4070, driver 576.02\n"
        "PS C:\\work> pip install torch torchvision\n"
        "Successfully installed torch-2.8.0 torchvision-0.23.0\n"
        ">>> torch.cuda.is_available()\nFalse\n"
    )
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(parse_report(text), CTX)
    assert finding.severity.value == "warning" and "PyPI" in finding.title and "Windows" in finding.title
    assert finding.evidence["installed with"] == "pip install torch torchvision"
    assert any("--index-url https://download.pytorch.org/whl/cu" in line for line in finding.fix)


def test_pip_install_torch_from_the_cuda_index_on_windows_is_no_evidence() -> None:
    text = (
        "Windows 11, RTX 4070, driver 576.02\n"
        "PS C:\\work> pip install torch --index-url https://download.pytorch.org/whl/cu128\n"
        ">>> torch.cuda.is_available()\nFalse\n"
    )
    assert torch_cpu_only_build.cuda_build_where_gpu(parse_report(text), CTX) == []


def test_pip_install_torch_on_linux_x86_64_takes_pypis_cuda_build() -> None:
    text = "Ubuntu 22.04 x86_64, RTX 4070\n$ pip install torch==2.8.0\n>>> torch.cuda.is_available()\nFalse\n"
    assert torch_cpu_only_build.cuda_build_where_gpu(parse_report(text), CTX) == []


def test_no_gpu_found_on_a_grace_superchip_is_pypis_aarch64_cpu_wheel_before_2_11() -> None:
    """A GH200 is a Grace (Arm) machine: before 2.11, `pip install torch` there took PyPI's CPU-only aarch64 wheel."""
    text = (
        "| NVIDIA-SMI 570.133.20             Driver Version: 570.133.20     CUDA Version: 12.8     |\n"
        "GPU: NVIDIA GH200 480GB\n"
        ">>> torch.cuda.is_available()\nFalse\n"
    )
    facts = parse_report(text)
    assert (facts.system.os, facts.system.machine) == ("Linux", "aarch64")
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert finding.severity.value == "warning"
    assert "PyPI's torch for Linux aarch64 has no CUDA before torch 2.11" in finding.title
    assert "does not show its build" in finding.title


def test_no_gpu_found_on_linux_x86_64_is_not_blamed_on_pypi() -> None:
    """PyPI's Linux x86_64 torch is a CUDA build: is_available() False there has other causes."""
    text = "Ubuntu 22.04 x86_64\nGPU: NVIDIA GeForce RTX 4090\n>>> torch.cuda.is_available()\nFalse\n"
    facts = parse_report(text)
    facts.system.machine = "x86_64"
    assert torch_cpu_only_build.cuda_build_where_gpu(facts, CTX) == []


def test_torch_not_compiled_with_cuda_on_a_jetson_is_an_error_pointing_at_jetpack_wheels() -> None:
    text = "Jetson Xavier NX, JetPack 5.1\nAssertionError: Torch not compiled with CUDA enabled\n"
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(parse_report(text), CTX)
    assert finding.severity.value == "error" and "JetPack" in finding.title


def test_a_cpu_build_named_under_a_condition_is_no_statement_of_the_build() -> None:
    said = "Training on the GPU fails: the portable bundle ships the CPU version of torch, so CUDA is never used.\n"
    advice = "The CUDA error below used to appear if you have the CPU-only version of PyTorch installed.\n"
    assert "torch.cpu-only-build" in [f.code for f in run_checks(parse_report(said))]
    assert "torch.cpu-only-build" not in [f.code for f in run_checks(parse_report(advice))]


def test_an_installer_said_to_default_to_the_cpu_build_states_the_build_a_later_when_notwithstanding() -> None:
    # PyPI's Windows torch wheels are CPU builds: a `pip install` of a package that needs torch pulls that one
    said = (
        "On Windows, pip brings the wrong pytorch. It falls back to the cpu build even when the NVIDIA GPU has "
        "CUDA 12.4.\n"
    )
    condition = "If pip installs the CPU version of torch, CUDA is unavailable on your GPU.\n"
    assert "torch.cpu-only-build" in [f.code for f in run_checks(parse_report(said))]
    assert "torch.cpu-only-build" not in [f.code for f in run_checks(parse_report(condition))]


def test_a_report_looking_for_cudnn_and_cublas_is_about_cuda() -> None:
    text = "On our H100 box pip gave us the CPU version of torch: pip list shows no cudnn or cublas wheels.\n"
    assert "torch.cpu-only-build" in [f.code for f in run_checks(parse_report(text))]


# Anaconda's pytorch requires `_pytorch_select` 0.1 for its CPU build, 0.2 for its GPU one (AnacondaRecipes/
# pytorch-feedstock, recipe/meta.yaml); PyTorch Lightning's "But your machine only has: []" is
# list(range(torch.cuda.device_count())) come back empty (pytorch_lightning/trainer/distrib_parts.py).
_LIGHTNING_NO_GPUS = """  File "/opt/envs/seg/lib/python3.7/site-packages/pytorch_lightning/trainer/distrib_parts.py", line 412, in sanitize_gpu_ids
    raise MisconfigurationException(message)
pytorch_lightning.utilities.exceptions.MisconfigurationException:
                You requested GPUs: [0, 1]
                But your machine only has: []
"""


def test_anacondas_cpu_selector_with_lightning_finding_no_gpus_is_a_cpu_build() -> None:
    rows = (
        "# Name                    Version                   Build  Channel\n"
        "_libgcc_mutex             0.1                        main\n"
        "_pytorch_select           0.1                       cpu_0\n"
    )
    facts = parse_report(_LIGHTNING_NO_GPUS + "```\n" + rows)
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert finding.code == "torch.cpu-only-build"
    assert "_pytorch_select" in str(finding.evidence["conda"])


def test_a_leftover_cpu_selector_beside_the_pytorch_channels_cuda_build_is_no_cpu_build() -> None:
    # a conda list of the kind JackAILab/MARNet's install notes show: the selector stayed when pytorch came from
    # the pytorch channel as a CUDA build
    rows = (
        "_pytorch_select           0.1                       cpu_0    defaults\n"
        "pytorch                   1.12.1          py3.8_cuda11.3_cudnn8.3.2_0    pytorch\n"
        "pytorch-mutex             1.0                        cuda    pytorch\n"
    )
    facts = parse_report(_LIGHTNING_NO_GPUS + rows)
    assert torch_cpu_only_build.cuda_build_where_gpu(facts, CTX) == []


# A Jetson's CUDA torch is NVIDIA's JetPack wheel; torch's own aarch64 wheels are CPU builds before 2.11 (NVIDIA,
# "Installing PyTorch for Jetson Platform"). The board is named by its product name or its JetPack release, in any
# language; torch's "no CUDA" answer is told in the reporter's words.
def test_a_jetson_named_by_model_with_torch_answering_no_cuda_points_at_nvidias_wheels() -> None:
    # the wording of pytorch/pytorch#67997 and Lmy0217/PyTorch-aarch64#3
    for text in (
        "trying to install pytorch on a jetson NX, with pip, but when running\n   torch.cuda.is_available()\ni get false",
        "I installed the torch wheel on my jetson nano (Jetpack 4.4 [L4T 32.4.3]), but cuda.is_available() returns false",
        "My board has JetPack<6 and Python 3.10; after pip3 install torch, when I checked torch.cuda.is_available, it "
        "returned false.",
    ):
        facts = parse_report(text)
        assert facts.system.jetson, text
        [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
        assert "Jetson" in finding.title and "NVIDIA's JetPack build" in finding.title


def test_a_jetson_in_chinese_prose_with_torch_found_to_be_the_cpu_version() -> None:
    facts = parse_report("在Jetson Orin上pip安装了torch，检查了pytorch版本发现是cpu版本，想用GPU")
    assert facts.system.jetson
    [finding] = torch_cpu_only_build.cuda_build_where_gpu(facts, CTX)
    assert "Jetson" in finding.title


def test_a_cpu_version_under_a_condition_in_chinese_states_no_build() -> None:
    facts = parse_report("显卡是RTX 3060，如果torch是cpu版本就要重装")
    assert "torch.cpu-build-installed-said-zh" not in {h.id for h in facts.signatures}


def test_a_torch_said_to_be_compiled_without_cuda_is_a_cpu_build_on_the_reporters_word() -> None:
    # torch's own "Torch not compiled with CUDA enabled" retold; the wording of lllyasviel/Omost#26
    for text in (
        "Pip install -r requirements.txt ... always issues in Torch 2.3.0 being compiled without CUDA?!",
        "installing the extension's dependencies swapped my torch for one that wasn't built with CUDA",
    ):
        [finding] = torch_cpu_only_build.cuda_build_where_gpu(parse_report(text), CTX)
        assert finding.severity.name == "WARNING"


def test_not_compiled_with_cuda_under_a_condition_states_no_build() -> None:
    facts = parse_report("If torch is not compiled with CUDA, the node falls back to the CPU. My GPU is an RTX 3060")
    assert torch_cpu_only_build.cuda_build_where_gpu(facts, CTX) == []


def test_torch_said_to_be_installed_without_gpu_support_beside_a_named_gpu_is_the_cpu_build() -> None:
    from torchrig.doctor import checks
    from torchrig.doctor.report import parse_report

    said = "After `pip install sometts` torch installed w/o gpu support.\nwindows 11, GPU: RTX 4070\n"
    assert checks.run_checks(parse_report(said))[0].code == "torch.cpu-only-build"
    hedged = "If torch comes without CUDA support, reinstall it.\nwindows 11, GPU: RTX 4070\nRuntimeError: CUDA error: unknown error\n"
    assert "torch.cpu-only-build" not in [f.code for f in checks.run_checks(parse_report(hedged))]


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
    assert "torch.cpu-only-build" not in [f.code for f in findings_of("如果torch默认安装的是cpu版，cuda就不能用\n")]


def test_the_pytorch_build_said_to_be_cpu_only_where_a_cuda_wheel_is_named() -> None:
    # the CUDA wheel named (PyTorch's cu121 index) is the request for CUDA
    text = (
        "I think your PyTorch version is CPU only.\n"
        "fixed it with pip3 install torch --index-url https://download.pytorch.org/whl/cu121\n"
    )
    assert "torch.build-said-cpu" in _sigs(text)
    assert _first(text) == ("torch.cpu-only-build", Severity.WARNING)


# --- each text in its program's own wording (NCCL, Fabric Manager, cuda-python, torchaudio, the dynamic
# loader) or a reporter's, written from the source, not copied from a corpus report


def test_a_reporter_saying_the_torch_shipped_is_the_cpu_version_is_a_cpu_build_warning() -> None:
    for text in (
        "The portable package ships the CPU version of torch, so my NVIDIA card is never used.",
        "安装包里自带的是cpu版本的torch，所以显卡没有被用上。",
    ):
        [finding] = run_checks(parse_report(text))
        assert (finding.code, finding.severity) == ("torch.cpu-only-build", Severity.WARNING)


def test_a_launchers_quoted_cpu_version_beside_a_geforce_is_an_error() -> None:
    # torch.__version__ as a web UI's system information prints it, quoted by the reporter
    text = 'My GPU is an RTX 2070 but generation runs on the CPU; the System Info tab shows "2.2.1+cpu".'
    assert _first(text) == ("torch.cpu-only-build", Severity.ERROR)
