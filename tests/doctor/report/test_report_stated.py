"""What a reporter states about their machine (report/stated.py): read with the source "stated", never
turned into an absence, and unknown wherever the statements disagree.

The fragments follow what people paste: PyTorch's (and many projects') old issue template, Markdown
"Environment" sections, sentences, `kubectl describe node`, tegrastats."""

from __future__ import annotations

import pytest

from torchrig._core.errors import UserError
from torchrig.doctor.checks import run_checks
from torchrig.doctor.facts import Facts
from torchrig.doctor.findings import Finding, Severity
from torchrig.doctor.render.summary import verdict
from torchrig.doctor.report import parse_report

PYTORCH_TEMPLATE = """\
## Environment

 - PyTorch Version (e.g., 1.0): 1.4.0
 - OS (e.g., Linux): Ubuntu 18.04
 - How you installed PyTorch (`conda`, `pip`, source): pip
 - Build command you used (if compiling from source):
 - Python version: 3.7
 - CUDA/cuDNN version: 10.1 / 7.6.5
 - GPU models and configuration: 2x GTX 1080 Ti
 - Any other relevant information:

RuntimeError: CUDA error: an illegal memory access was encountered
"""

UNFILLED_TEMPLATE = """\
## Environment

 - PyTorch Version (e.g., 1.0):
 - OS (e.g., Linux):
 - How you installed PyTorch (`conda`, `pip`, source):
 - Python version:
 - CUDA/cuDNN version:
 - GPU models and configuration:
 - Any other relevant information:
"""

MARKDOWN_ENVIRONMENT = """\
## Environment

- **GPUs**: 2x NVIDIA RTX 5880 Ada Generation (48 GB, SM 8.9)
- **Topology**: PCIe Gen4 x16, PHB (PCIe Host Bridge), no NVLink
- **Driver**: 580.82.09
- **CUDA**: 13.0 (host), 12.8 (container runtime)
- **NCCL**: 2.25.1 (from `apt`)
- **OS**: Ubuntu 22.04, Linux 6.16.3
- **Container**: Docker with `--gpus all --ipc=host`
"""

PROSE = (
    "Is it because Tesla T4 GPU can't run? Or is it because of cuda? I have cuda12.6 installed on my computer, "
    "but comfyui installed torch2.6.0+cu124 when configuring torch.\n"
)


def _sources(facts: Facts) -> set[str]:
    return {
        source
        for section in (facts.driver, facts.gpus, facts.torch, facts.toolkit, facts.system)
        for source in section.sources.values()
    }


def _findings(text: str) -> list[Finding]:
    try:
        return run_checks(parse_report(text))
    except UserError:  # nothing recognised: no finding either
        return []


def _first(text: str) -> tuple[str, Severity] | None:
    found = _findings(text)
    return (found[0].code, found[0].severity) if found else None


def test_the_old_pytorch_issue_template_is_read_field_by_field() -> None:
    facts = parse_report(PYTORCH_TEMPLATE)
    assert facts.torch.version == "1.4.0"
    assert facts.torch.installer == "pip" and facts.torch.sources["installer"] == "stated"
    assert facts.toolkit.version == "10.1"  # the first number of "10.1 / 7.6.5": cuDNN's is the second
    assert facts.system.python_version == "3.7"
    assert [(g.name, g.compute_capability, g.source) for g in facts.gpus.devices] == [
        ("GTX 1080 Ti", "6.1", "stated"),
        ("GTX 1080 Ti", "6.1", "stated"),
    ]


def test_a_template_left_unfilled_states_nothing() -> None:
    facts = parse_report(UNFILLED_TEMPLATE)  # its field names are collect_env's: read, and found empty
    assert facts.torch.version is None and "version" not in facts.torch.sources
    assert facts.system.python_version is None and facts.toolkit.version is None
    assert facts.gpus.devices == [] and facts.torch.installer is None
    said = verdict(facts, run_checks(facts))
    assert "No problems found" not in said and "does not show which PyTorch runs" in said


def test_a_markdown_environment_section() -> None:
    facts = parse_report(MARKDOWN_ENVIRONMENT)
    assert [(g.name, g.compute_capability) for g in facts.gpus.devices] == [
        ("NVIDIA RTX 5880 Ada Generation", "8.9"),
        ("NVIDIA RTX 5880 Ada Generation", "8.9"),
    ]
    assert facts.driver.userspace == "580.82.09" and facts.driver.sources["userspace"] == "stated"
    assert facts.companion("nccl") is not None and facts.companion("nccl").version == "2.25.1"  # type: ignore[union-attr]
    assert facts.system.container == "docker" and facts.system.os == "Linux"
    assert _sources(facts) == {"stated"}


def test_two_cuda_versions_for_host_and_container_stay_unknown() -> None:
    """ "13.0 (host), 12.8 (container runtime)" is two values: no check may contradict either as "the" CUDA."""
    facts = parse_report(MARKDOWN_ENVIRONMENT)
    assert facts.toolkit.version is None and "version" not in facts.toolkit.sources
    assert any("13.0 and 12.8" in error for error in facts.toolkit.errors)
    assert not any(f.code == "toolkit.mismatch" for f in run_checks(facts))


def test_a_sentence_with_a_gpu_a_toolkit_and_a_torch_wheel_tag() -> None:
    facts = parse_report(PROSE)
    assert (facts.torch.version, facts.torch.cuda) == ("2.6.0+cu124", "12.4")
    assert facts.torch.sources["cuda"] == "stated"
    assert facts.toolkit.version == "12.6"
    assert [(g.name, g.compute_capability) for g in facts.gpus.devices] == [("Tesla T4", "7.5")]
    assert facts.report_format == "log"


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("I installed torch==2.5.1 from PyPI.", "2.5.1"),
        ("Running on PyTorch 1.13.1 with a GTX 1080.", "1.13.1"),
        ("pip downloaded torch-2.1.0+cu118-cp310-cp310-linux_x86_64.whl", "2.1.0+cu118"),
        ("Tried torch 2.1 first; torch 2.1.0+cu121 is what runs.", "2.1.0+cu121"),  # agree: one names more
    ],
)
def test_torch_versions_written_in_prose(text: str, version: str) -> None:
    facts = parse_report(text)
    assert (facts.torch.version, facts.torch.sources["version"]) == (version, "stated")


def test_stated_gpu_and_build_are_checked_like_printed_ones() -> None:
    """An RTX 5090 (sm_120) and a cu124 wheel: no kernels for it, whoever wrote the facts down."""
    facts = parse_report("My RTX 5090 fails with torch 2.5.1+cu124 installed.\n")
    assert run_checks(facts)[0].code == "gpu.arch-unsupported"


@pytest.mark.parametrize(
    "text",
    [
        "see https://github.com/example/bench/issues/RTX-4090 and https://example.com/?gpu=A100 for torch==2.1.0",
        "GPU 0 is at 100% while torch==2.1.0 trains",
        "cp /data/A100/run.sh . && torch==2.1.0 is installed",
        "My Apple M4 runs torch==2.1.0 fine.",
        "Works on an RTX 3090 but fails on a GTX 1080 with torch==2.1.0.",  # two models: which one is this?
    ],
)
def test_no_gpu_is_made_of_urls_paths_indices_or_several_models(text: str) -> None:
    facts = parse_report(text)
    assert facts.torch.version == "2.1.0"
    assert facts.gpus.devices == []


@pytest.mark.parametrize(
    "text",
    [
        "Training took 12.6 hours on 2.5 GB of data; accuracy 3.11 after epoch 535.10.\n",
        "We need torch>=2.0 and python>=3.9 for this project.\n",
        "I use Python 3.10 on Windows 11.\n",  # an OS and a Python: nothing a check could use
        "We bought a new workstation last week.\nOS: Ubuntu 22.04\nCPU: AMD Ryzen 9 7950X\n",
    ],
)
def test_numbers_that_are_not_versions_and_facts_nothing_checks_are_refused(text: str) -> None:
    with pytest.raises(UserError, match="nothing in the report"):
        parse_report(text)


def test_disagreeing_torch_versions_stay_unknown() -> None:
    facts = parse_report("I have torch2.6.0+cu124 now. Should I upgrade to torch2.6.0+cu126? My GPU is a Tesla T4.")
    assert facts.torch.version is None and "version" not in facts.torch.sources
    assert any("2.6.0+cu124 and 2.6.0+cu126" in error for error in facts.torch.errors)


def test_a_stated_cpu_wheel_is_never_a_cpu_build() -> None:
    """ "+cpu" on someone's word would make torch.cpu-only-build an error and the verdict say "CPU build"."""
    facts = parse_report("I installed torch 2.1.0+cpu on my RTX 3090 box.\n")
    assert facts.torch.version == "2.1.0" and "cuda" not in facts.torch.sources
    said = verdict(facts, findings := run_checks(facts))
    assert not [f for f in findings if f.severity.value == "error"]
    assert "CPU build" not in said and "not installed" not in said and "no NVIDIA GPU" not in said


def test_printed_output_wins_over_what_the_reporter_writes() -> None:
    text = (
        "PyTorch version: 2.1.0+cu121\nIs debug build: False\nCUDA used to build PyTorch: 12.1\n"
        "GPU models and configuration: GPU 0: NVIDIA GeForce RTX 4090\nNvidia driver version: 535.104.05\n\n"
        "I also tried torch 2.3.0 on my A100 with driver 550.54.15.\n"
    )
    facts = parse_report(text)
    assert (facts.torch.version, facts.torch.sources["version"]) == ("2.1.0+cu121", "report")
    assert [g.name for g in facts.gpus.devices] == ["NVIDIA GeForce RTX 4090"]
    assert facts.driver.userspace == "535.104.05" and facts.driver.sources["userspace"] == "report"


def test_nvidia_smi_q_cuda_version_is_the_drivers_not_a_toolkit() -> None:
    text = (
        "==============NVSMI LOG==============\n\n"
        "Driver Version                            : 535.104.05\n"
        "CUDA Version                              : 12.2\n\n"
        "Attached GPUs                             : 1\n"
        "GPU 00000000:01:00.0\n"
        "    Product Name                          : NVIDIA A100-SXM4-80GB\n"
    )
    facts = parse_report(text)
    assert facts.driver.cuda_driver_api == "12.2"
    assert facts.toolkit.version is None


def test_kubectl_describe_node_is_kubernetes() -> None:
    text = (
        "# kubectl describe node k8s\nCapacity:\n cpu:                 8\n nvidia.com/gpu:      1\n"
        "Allocatable:\n nvidia.com/gpu:      1\n\nThe node has a Nvidia GeForce GTX 1050 Ti.\n"
    )
    facts = parse_report(text)
    assert facts.system.container == "kubernetes" and facts.system.sources["container"] == "stated"
    assert [g.compute_capability for g in facts.gpus.devices] == ["6.1"]
    assert not [f for f in run_checks(facts) if f.severity.value == "error"]


def test_podmans_cdi_device_is_not_kubernetes() -> None:
    facts = parse_report("podman run --device nvidia.com/gpu=all image with torch==2.4.0\n")
    assert facts.system.container is None


def test_tegrastats_is_a_jetson_and_the_verdict_says_what_is_missing() -> None:
    text = (
        "RAM 2510/3964MB (lfb 4x2MB) SWAP 0/1982MB (cached 0MB) CPU [3%@1479,2%@1479,off,off] "
        "EMC_FREQ 0% GR3D_FREQ 0% PLL@22C CPU@24.5C PMIC@100C GPU@23C AO@31C thermal@23.75C\n"
    )
    facts = parse_report(text)
    assert facts.system.jetson is True and facts.system.sources["jetson"] == "stated"
    said = verdict(facts, run_checks(facts))
    assert said.startswith("Nothing wrong in what the report shows, but too little to check that machine")
    assert "states a Jetson" in said and "which PyTorch runs" in said
    assert "NVIDIA driver" not in said  # a Jetson's GPU comes with its L4T release: no driver to show


def test_a_thin_report_never_gets_an_all_clear() -> None:
    facts = parse_report(PROSE)
    said = verdict(facts, run_checks(facts))
    assert "No problems found" not in said
    assert "the report states PyTorch 2.6.0+cu124 (CUDA 12.4 build), Tesla T4 and CUDA 12.6" in said
    assert said.endswith("it does not show the NVIDIA driver version.")


def test_a_collect_env_cut_before_the_gpus_says_what_it_lacks() -> None:
    facts = parse_report("PyTorch version: 2.1.0+cu121\nIs debug build: False\nCUDA used to build PyTorch: 12.1\n")
    said = verdict(facts, run_checks(facts))
    assert said == (
        "Nothing wrong in what the report shows, but too little to check that machine: the report shows "
        "PyTorch 2.1.0+cu121 (CUDA 12.1 build); it does not show the GPUs or the NVIDIA driver version."
    )


def test_a_whole_collect_env_still_gets_its_all_clear() -> None:
    text = (
        "PyTorch version: 2.1.0+cu121\nIs debug build: False\nCUDA used to build PyTorch: 12.1\n"
        "Is CUDA available: True\n"
        "GPU models and configuration: GPU 0: NVIDIA GeForce RTX 4090\nNvidia driver version: 535.104.05\n"
    )
    facts = parse_report(text)
    assert verdict(facts, run_checks(facts)).startswith("No problems found in what the report shows.")


def test_the_terminal_gives_a_thin_report_no_green_tick() -> None:
    import io

    from torchrig.doctor.render.console import render_console

    out = io.StringIO()
    facts = parse_report(MARKDOWN_ENVIRONMENT)
    render_console(facts, run_checks(facts), out)
    first = out.getvalue().splitlines()[0]
    assert first.startswith("! Nothing wrong in what the report shows") and "✓" not in first
    assert "stated" in out.getvalue()  # the facts table names where each value came from


@pytest.mark.parametrize(
    "text",
    [
        "torch 2." + "1" * 200_000,  # more digits than int() converts: no version, and no traceback
        "PyTorch version: 2." + "1" * 200_000 + "\nIs debug build: False\n",
        "- **CUDA**: " + "1." * 100_000 + "1",
        "- **GPUs**: " + "RTX " * 50_000,
        "Tesla T4 " * 100_000,
    ],
)
def test_floods_and_absurd_numbers_end_in_an_answer_or_one_sentence(text: str) -> None:
    try:
        facts = parse_report(text)
    except UserError:
        return
    run_checks(facts)
    assert all(len(gpu.name or "") < 200 for gpu in facts.gpus.devices)


@pytest.mark.parametrize(
    "text",
    [
        "pip install torch==2.3.0\nERROR: Could not find a version that satisfies the requirement torch==2.3.0 "
        "(from versions: 2.0.0, 2.2.2)\nERROR: No matching distribution found for torch==2.3.0\n",
        "uv add torch\nerror: Distribution `torch==2.5.1 @ registry+https://pypi.org/simple` can't be installed "
        "because it doesn't have a source distribution or wheel for the current platform\n",
    ],
)
def test_a_version_asked_for_is_not_the_version_that_runs(text: str) -> None:
    facts = parse_report(text)  # read for its installer error, not for the torch it asked for
    assert facts.torch.sources.get("version") != "stated"


def test_a_stated_cuda_that_differs_from_torchs_is_said_to_be_stated() -> None:
    """ "CUDA 12.2" in a sentence may be what nvidia-smi printed for the driver: the warning says whose word it is."""
    facts = parse_report("I have CUDA 12.2 and torch 2.0.1+cu118 on a GTX 1080 Ti with driver 535.104.05.\n")
    [finding] = [f for f in run_checks(facts) if f.code == "toolkit.mismatch"]
    assert finding.severity.value == "warning"
    assert finding.title == "The report states CUDA 12.2, but torch was built with CUDA 11.8"


def test_an_unfilled_template_label_names_nothing() -> None:
    text = (
        'Error response from daemon: could not select device driver "nvidia" with capabilities: [[gpu]]\n'
        "**Hardware / Software**\n - OS: Arch Linux\n - WSL version (if applicable):\n - GPU/VRAM: 16GB RTX A4000\n"
    )
    facts = parse_report(text)
    assert facts.system.wsl is None  # the label of an empty field is no statement
    assert facts.system.os == "Linux"


def test_a_stated_gpu_is_no_proof_that_the_container_or_the_driver_sees_it() -> None:
    from torchrig.doctor import checks

    text = (
        '$ docker compose up\nError response from daemon: could not select device driver "nvidia" with '
        "capabilities: [[gpu]]\n\n- GPU: RTX A4000\n"
    )
    assert checks.run_checks(parse_report(text))[0].code == "container.no-gpu"
    text = "I have an RTX 3090.\n$ nvidia-smi\nNVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n"
    assert checks.run_checks(parse_report(text))[0].code == "driver.missing"


# --- torch's answer told in a sentence, a ROCm release, an exception quoted in prose -----------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "I checked and torch.cuda.is_available() returns `True`, yet training is slow.",
        "torch.cuda.is_available() 返回 True，但是 GPU 使用率为 0",  # "returns True, but GPU use is 0"
        "Auf dem Rechner gibt torch.cuda.is_available() True zurück.",
    ],
)
def test_torch_seeing_the_gpu_told_in_any_language_is_stated(sentence: str) -> None:
    facts = parse_report(sentence)
    assert facts.torch.cuda_available is True and facts.torch.sources["cuda_available"] == "stated"
    assert [f for f in run_checks(facts) if f.severity.value == "error"] == []


@pytest.mark.parametrize(
    "sentence",
    [
        "After the fix torch.cuda.is_available() should return True.",
        "Expected behaviour: torch.cuda.is_available() returns True",
        "Make sure that torch.cuda.is_available() is True before training. The GPU is an RTX 3090.",
    ],
)
def test_a_wish_or_expectation_about_the_answer_states_none(sentence: str) -> None:
    facts = parse_report(sentence + " torch 2.1.0")
    assert facts.torch.cuda_available is None


def test_answers_that_disagree_state_nothing() -> None:
    text = "torch.cuda.is_available() returned False under Slurm; on the login node torch.cuda.is_available() returned True"
    facts = parse_report(text + ", torch 2.3.1+cu121")
    assert facts.torch.cuda_available is None


def test_false_told_in_words_is_the_reported_symptom_not_a_fact_a_check_could_rest_an_error_on() -> None:
    facts = parse_report("With torch 2.3.1+cu121 on an RTX 4090, torch.cuda.is_available() returns False.")
    assert facts.torch.cuda_available is None
    # the symptom, once: the torch.cuda-available-false signature's line, or the sentence's where none matched
    assert len(facts.failures) == 1 and "is_available()" in facts.failures[0] and "False" in facts.failures[0]


def test_a_rocm_release_in_words_is_recorded_as_the_stack_never_as_torchs_build() -> None:
    facts = parse_report("I'm on ROCm 6.0.2 with an MI210; vLLM serves 4 tokens/s.")
    rocm = facts.companion("rocm")
    assert rocm is not None and rocm.version == "6.0.2"
    assert facts.torch.hip is None


def test_an_exception_quoted_in_a_sentence_is_the_failure_shown() -> None:
    facts = parse_report('Training stops with "ValueError: too many values to unpack (expected 2)" at epoch 3.')
    assert facts.failures == ["ValueError: too many values to unpack (expected 2)"]
    assert [f.code for f in run_checks(facts)] == ["doctor.unexplained"]


def test_an_exception_quoted_with_a_cjk_colon_is_read() -> None:
    facts = parse_report("运行时出现「IndexError ：list index out of range」，请问怎么解决")
    assert facts.failures == ["IndexError :list index out of range"]


def test_an_exception_quoted_under_a_condition_shows_no_failure() -> None:
    with pytest.raises(UserError):
        parse_report('If you get "RuntimeError: Couldn\'t load custom C++ ops", reinstall the package.')


def test_an_issue_forms_heading_and_answer_are_a_field() -> None:
    # GitHub issue forms render each field as "### <label>" with the answer below it
    text = "### Python version | Python 版本\n\n3.11\n\n### GPU\n\nNVIDIA GeForce RTX 4070\n\nTraceback (most recent call last):\nKeyError: 'x'\n"
    facts = parse_report(text)
    assert facts.system.python_version == "3.11" and facts.system.sources["python_version"] == "stated"
    assert [g.name for g in facts.gpus.devices] == ["NVIDIA GeForce RTX 4070"]


def test_a_numbered_label_with_its_answer_on_the_next_line_is_a_field() -> None:
    facts = parse_report("4. CUDA version\n11.8\n5. Torch version\n2.1.2+cu118\n")
    assert (facts.torch.version, facts.toolkit.version) == ("2.1.2+cu118", "11.8")


def test_python_version_in_a_sentence_is_read() -> None:
    assert parse_report("python version 3.12, torch 2.5.1").system.python_version == "3.12"


def test_a_statement_adds_the_micro_version_to_the_minor_a_path_showed() -> None:
    text = 'File "/opt/venv/lib/python3.12/site-packages/vllm/x.py", line 1\nRuntimeError: boom\n- Python: 3.12.7\n'
    facts = parse_report(text)
    assert facts.system.python_version == "3.12.7"


def test_a_wheel_tag_written_with_blanks_round_the_plus() -> None:
    facts = parse_report("Setup: RTX 2060, PyTorch 2.5.1 + cu124, fails on the first step\n")
    assert (facts.torch.version, facts.torch.cuda) == ("2.5.1+cu124", "12.4")


def test_a_gpu_named_in_chinese_prose_without_blanks() -> None:
    facts = parse_report("我的显卡是RTX 3090，训练时报错\n")
    assert [g.name for g in facts.gpus.devices] == ["RTX 3090"]


def test_a_python_2_7_stated_in_a_sentence_that_goes_on_to_a_colon_is_read() -> None:
    # Python 2's last line is 2.7 (PEP 373); torch supported it up to 1.4
    text = (
        "I built pytorch from source with python 2.7.15, and on import I get the following error:\n"
        "ImportError: libcudnn.so.7: cannot open shared object file: No such file or directory\n"
    )
    assert parse_report(text).system.python_version == "2.7.15"


def test_a_full_python_version_ending_a_sentence_without_a_space_is_read() -> None:
    # a list run together, its full stop touching the next word: "... torchvision0.2.0,python2.7.12.Thanks."
    text = "my setup: CUDA 9.0, torch 0.4.1,python3.6.8.Any idea?\nRuntimeError: CUDA error: out of memory\n"
    assert parse_report(text).system.python_version == "3.6.8"
    # a fourth number, or a letter glued to the minor, is no Python version
    assert parse_report("python 3.10.5.1, torch 2.1.0\n").system.python_version is None
    assert parse_report("python 3.1x, torch 2.1.0\n").system.python_version is None


def test_a_template_label_left_empty_still_names_no_version() -> None:
    facts = parse_report("Python 3.10 or newer required:\nRuntimeError: CUDA error: out of memory\n")
    assert facts.system.python_version is None


def test_the_l4t_and_jetpack_versions_jetson_containers_prints_name_a_jetson() -> None:
    text = "-- L4T_VERSION=35.4.1  JETPACK_VERSION=5.1.2  CUDA_VERSION=11.4\nKilled\n"
    facts = parse_report(text)
    assert facts.system.jetson is True
    assert not [f for f in run_checks(facts) if f.severity.value == "error"]


def test_a_grace_superchip_named_by_its_code_alone_is_its_gpu_on_an_arm_host() -> None:
    facts = parse_report("Our GH200 node runs the job.\nRuntimeError: CUDA error: out of memory\n")
    assert [gpu.name for gpu in facts.gpus.devices] == ["GH200"]
    assert facts.system.machine == "aarch64"


@pytest.mark.parametrize(
    ("text", "name", "cc"),
    [
        ("GPU: RTX4060 mobile.", "RTX4060", "8.9"),
        ("I train on an RTX3090 at home", "RTX3090", "8.6"),
        ("card: GTX1080Ti", "GTX1080Ti", "6.1"),
    ],
)
def test_a_geforce_model_written_as_one_word_is_read(text: str, name: str, cc: str) -> None:
    facts = parse_report(text + "\nRuntimeError: CUDA error: unknown error\n")
    assert [(g.name, g.compute_capability) for g in facts.gpus.devices] == [(name, cc)]


@pytest.mark.parametrize(
    ("text", "name", "cc"),
    [
        ("Does it support the nvidia 5070 ti?", "GeForce RTX 5070 Ti", "12.0"),
        ("My card is a GeForce 1080 Ti.", "GeForce GTX 1080 Ti", "6.1"),
        ("Nvidia 3060 12GB, Windows 11", "GeForce RTX 3060", "8.6"),
    ],
)
def test_a_geforce_model_number_after_the_brand_alone_is_that_geforce(text: str, name: str, cc: str) -> None:
    facts = parse_report(text + "\nRuntimeError: CUDA error: unknown error\n")
    assert [(g.name, g.compute_capability) for g in facts.gpus.devices] == [(name, cc)]


def test_a_brand_and_a_number_that_names_no_single_geforce_is_no_gpu() -> None:
    # "NVIDIA 4000" may be the workstation RTX 4000 or a GeForce RTX 40 series card
    facts = parse_report("It runs on an NVIDIA 4000 here.\nRuntimeError: CUDA error: unknown error\n")
    assert facts.gpus.devices == []


def test_a_model_number_inside_a_url_is_no_gpu() -> None:
    facts = parse_report("see https://example.org/rtx4090/setup\nRuntimeError: CUDA error: unknown error\n")
    assert facts.gpus.devices == []


# --- torch.cpu-only-build: the build said, in English and Chinese --------------------------------------------------


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


@pytest.mark.parametrize(
    "text",
    [
        # a web UI's system page and a launcher's log, quoted: torch.__version__ as the program printed it
        'RTX 3070 here, but images are made on the CPU. The system page says "2.1.2+cpu" next to torch.',
        "GTX 1660 Super, everything is slow; the startup log shows `torch: 2.3.0+cpu` and then loads the model.",
    ],
)
def test_a_cpu_tagged_version_a_program_printed_and_the_reporter_quoted_is_a_cpu_build(text: str) -> None:
    facts = parse_report(text)
    assert (facts.torch.version or "").endswith("+cpu")
    assert _first(text) == ("torch.cpu-only-build", Severity.ERROR)


def test_a_cpu_tag_the_reporter_only_guesses_at_is_no_build() -> None:
    # the safeguard stands: "+cpu" in the reporter's own words, unquoted, is a statement
    facts = parse_report("RTX 3060 here; maybe I installed torch 2.0.0+cpu by mistake?\nRuntimeError: CUDA error\n")
    assert facts.torch.version == "2.0.0"


# --- healthy controls: read and answered, never refused, never an error ---------------------------------------------


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


# --- stated platforms that make a report read, never an error


def test_a_stated_wsl_is_read_and_named_in_the_verdict() -> None:
    facts = parse_report("Running vLLM under WSL2 on Windows 11 is slower than native Linux.\n")
    findings = run_checks(facts)
    assert not [f for f in findings if f.severity is Severity.ERROR]
    assert "WSL" in verdict(facts, findings) and "No problems found" not in verdict(facts, findings)


@pytest.mark.parametrize(
    "text",
    [
        "Can this run on a laptop without a dedicated GPU?\n",
        "We deploy on a CPU-only server; how do I set the device?\n",
    ],
)
def test_a_machine_described_without_a_gpu_is_read_and_nothing_is_claimed(text: str) -> None:
    facts = parse_report(text)
    findings = run_checks(facts)
    assert not [f for f in findings if f.severity is Severity.ERROR]
    assert facts.gpus.devices == [] and "gpus" not in facts.gpus.sources  # nothing recorded as absent
    assert "No problems found" not in verdict(facts, findings)


def test_a_program_answering_no_gpu_found_is_no_statement_about_the_machine() -> None:
    with pytest.raises(UserError):
        parse_report("It printed: no GPU found, exiting.\n")


def test_a_datacenter_code_in_lower_case_counts_where_the_word_gpu_follows_it() -> None:
    facts = parse_report(
        "It fails at the first step. I have p40 GPUs and cannot find where to change this, torch 2.1.2."
    )
    assert [(g.name, g.compute_capability) for g in facts.gpus.devices] == [("p40", "6.1")]


@pytest.mark.parametrize("text", ["the t5 model fails with torch 2.1.2", "p100 latency rose after torch 2.1.2"])
def test_a_lower_case_code_without_the_word_gpu_is_no_gpu(text: str) -> None:
    assert not parse_report(text).gpus.devices


@pytest.mark.parametrize("text", ["I use a Mac mini M4 pro with 24 GB", "on my MacBook Air M2", "the M4 Pro is fast"])
def test_apples_chips_are_no_tesla_boards(text: str) -> None:
    facts = parse_report(text + "\nRuntimeError: CUDA error: unknown error\n")
    assert facts.gpus.devices == []


def test_a_tesla_m_board_is_still_read() -> None:
    facts = parse_report("Server with a Tesla M40 24GB card\nRuntimeError: CUDA error: unknown error\n")
    assert [g.name for g in facts.gpus.devices] == ["Tesla M40"]
