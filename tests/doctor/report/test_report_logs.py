"""Facts stated outright in logs: each test feeds lines copied from a public report (source named)."""

from __future__ import annotations

import random

from torchrig.doctor.report import logs, parse_report


def test_dmesg_api_mismatch_names_both_sides_even_with_a_client_name() -> None:
    # https://github.com/Frogging-Family/nvidia-all/issues/394
    text = """[    9.424670] NVRM: API mismatch: the client 'kwin_wayland' (pid 1005)
               NVRM: has the version 595.84, but this kernel module has
               NVRM: the version 595.80.  Please make sure that this
               NVRM: kernel module and all NVIDIA driver components
               NVRM: have the same version.
"""
    facts = parse_report(text)
    assert (facts.driver.userspace, facts.driver.kernel_module) == ("595.84", "595.80")
    assert [h.id for h in facts.signatures] == ["driver.nvrm-api-mismatch"]


def test_dmesg_loading_line_gives_the_kernel_module() -> None:
    # https://github.com/nvidiavgpuarchive/index/issues/1
    text = "[    6.252567] NVRM: loading NVIDIA UNIX x86_64 Kernel Module  570.148.06  Mon May  5 11:36:21 UTC 2025\n"
    assert parse_report(text).driver.kernel_module == "570.148.06"


def test_proc_driver_version_gives_the_kernel_module() -> None:
    # https://github.com/glucauze/sd-webui-faceswaplab/issues/168
    text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module 535.154.05 Thu Dec 28 15:37:48 UTC 2023\n"
    assert parse_report(text).driver.kernel_module == "535.154.05"


def test_found_version_is_the_newest_cuda_the_driver_supports() -> None:
    # https://github.com/zai-org/ChatGLM3/issues/100
    text = (
        "RuntimeError: The NVIDIA driver on your system is too old (found version 11060). Please update your "
        "GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx"
    )
    assert parse_report(text).driver.cuda_driver_api == "11.6"


def test_an_old_gpu_warning_gives_name_index_and_capability() -> None:
    # https://github.com/pytorch/pytorch/issues/16712
    text = """C:\\Users\\Caner\\Anaconda3\\lib\\site-packages\\torch\\cuda\\__init__.py:117: UserWarning:
    Found GPU0 GeForce GTX 670M which is of cuda capability 2.1.
    PyTorch no longer supports this GPU because it is too old. warnings.warn(old_gpu_warn % (d, name, major, capability[1]))
"""
    facts = parse_report(text)
    assert [(g.index, g.name, g.compute_capability) for g in facts.gpus.devices] == [(0, "GeForce GTX 670M", "2.1")]
    assert facts.torch.location == "C:\\Users\\Caner\\Anaconda3\\lib\\site-packages\\torch"


def test_container_banner_and_its_shm_note() -> None:
    # https://github.com/nv-tlabs/GET3D/issues/72
    text = """WARNING: The NVIDIA Driver was not detected.  GPU functionality will not be available.
   Use 'nvidia-docker run' to start this container; see
   https://github.com/NVIDIA/nvidia-docker/wiki/nvidia-docker .

NOTE: MOFED driver for multi-node communication was not detected.
      Multi-node communication performance may be reduced.

NOTE: The SHMEM allocation limit is set to the default of 64MB.  This may be
   insufficient for PyTorch.  NVIDIA recommends the use of the following flags:
   nvidia-docker run --ipc=host ...
"""
    facts = parse_report(text)
    assert facts.system.container == "docker"
    assert [h.id for h in facts.signatures] == ["container.driver-not-detected", "shm.container-default-64mb"]


def test_environment_variables_set_in_shell_or_python() -> None:
    # https://github.com/ziplab/PTQD/issues/13 and https://github.com/infiniflow/ragflow/issues/4466
    text = """as the error message No CUDA GPUs are available keeps running
`import os
os.environ['CUDA_VISIBLE_DEVICES'] = '7'
`
(ragflow-py3.12) mit@mit-FRONTIER:~/kxyRAG/ragflow$ echo $LD_LIBRARY_PATH
/usr/local/cuda-12.1/lib64:
"""
    env = parse_report(text).system.env
    assert env == {"CUDA_VISIBLE_DEVICES": "7", "LD_LIBRARY_PATH": "/usr/local/cuda-12.1/lib64:"}


def test_export_in_a_script_sets_the_variable() -> None:
    # https://github.com/thuml/Anomaly-Transformer/issues/74
    text = (
        "change the `export CUDA_VISIBLE_DEVICES=0` to your own GPU's ID.\nRuntimeError: No CUDA GPUs are available\n"
    )
    assert parse_report(text).system.env["CUDA_VISIBLE_DEVICES"] == "0"


def test_a_full_stop_after_cuda_visible_devices_in_prose_is_not_part_of_its_value() -> None:
    # the value is a comma-separated list of indices or GPU-/MIG- UUIDs (CUDA Programming Guide, "CUDA Environment
    # Variables"): none ends in a dot
    text = "The tests failed. I set CUDA_VISIBLE_DEVICES=0,1. Do they need more GPUs?\nRuntimeError: CUDA error\n"
    assert parse_report(text).system.env["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_nvidia_smi_list_gives_gpus_with_uuids() -> None:
    # https://github.com/pytorch/pytorch/issues/99137
    text = "GPU 0: Quadro K620 (UUID: GPU-56622fc6-a9b3-5594-4c6d-b0b231be656a)\npython version：3.8.16\n"
    (gpu,) = parse_report(text).gpus.devices
    assert (gpu.index, gpu.name, gpu.uuid) == (0, "Quadro K620", "GPU-56622fc6-a9b3-5594-4c6d-b0b231be656a")


def test_rich_traceback_frames_and_quoted_replies_are_unwrapped() -> None:
    # https://github.com/pytorch/pytorch/issues/16712 quotes the warning with "> "
    text = (
        "> C:\\Users\\Caner\\Anaconda3\\lib\\site-packages\\torch\\cuda\\__init__.py:117: UserWarning: \n"
        ">     Found GPU0 GeForce GTX 670M which is of cuda capability 2.1.\n"
    )
    assert parse_report(text).gpus.devices[0].compute_capability == "2.1"


def test_a_warning_repeated_through_a_long_log_names_one_gpu_not_one_per_line() -> None:
    line = "UserWarning: NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.\n"
    facts = parse_report("torch 2.4.0\n" + line * 2000)
    assert [(g.name, g.compute_capability) for g in facts.gpus.devices] == [("NVIDIA GeForce RTX 5090", "12.0")]


def test_torch_paths_are_read_from_their_end_as_the_path_pattern_reads_them() -> None:
    # The pattern tried from every "/" went quadratic on a long line without spaces (a pasted base64
    # image next to a traceback); the reader from the end must find exactly what the pattern finds.
    rng = random.Random(3)
    atoms = ["/", "~", ".", "..", " ", ":", "a", "b/", '"', "\n", "/site-packages/torch/", "/dist-packages/torch/"]
    atoms += ["site-packages/torch/", "/torch/"]
    for _ in range(20000):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(0, 10)))
        expected = [m.group("dir") for m in logs._TORCH_DIR_POSIX.finditer(text)]
        assert list(logs._torch_dirs_posix(text)) == expected, text


def test_a_torch_path_after_a_long_line_of_slashes_is_found() -> None:
    blob = "iVBORw0KGgo/AAAAN+SUhE/" * 40000  # ~1 MiB of base64 with "/" in it and no space
    text = f'{blob}\nFile "/opt/conda/lib/python3.11/site-packages/torch/__init__.py", line 1\n'
    facts = parse_report(text)
    assert facts.torch.location == "/opt/conda/lib/python3.11/site-packages/torch"
    assert facts.system.python_version == "3.11"


# --- GPU listings and Python versions other tools print --------------------------------------------------


def test_nccl_tests_devices_are_the_gpus_of_the_first_host() -> None:
    # nccl-tests' src/common.cu prints one "#  Rank ... device N [bus] <name>" line per GPU it drives
    text = """\
# Using devices
#  Rank  0 Group  0 Pid  40211 on    node-a device  0 [0x1b] NVIDIA A100-SXM4-80GB
#  Rank  1 Group  0 Pid  40211 on    node-a device  1 [0x43] NVIDIA A100-SXM4-80GB
#  Rank  2 Group  0 Pid  51877 on    node-b device  0 [0x1b] NVIDIA A100-SXM4-80GB
"""
    facts = parse_report(text)
    assert [(g.index, g.name) for g in facts.gpus.devices] == [
        (0, "NVIDIA A100-SXM4-80GB"),
        (1, "NVIDIA A100-SXM4-80GB"),
    ]
    assert facts.gpus.sources["devices"] == "report"


def test_nvidia_smi_l_run_onto_one_line_is_still_one_gpu_each() -> None:
    text = (
        "GPU 0: NVIDIA RTX A6000 (UUID: GPU-1a2b3c4d-0000-1111-2222-333344445555) "
        "GPU 1: NVIDIA RTX A6000 (UUID: GPU-5e6f7a8b-0000-1111-2222-333344445555)\n"
    )
    facts = parse_report(text)
    assert [g.name for g in facts.gpus.devices] == ["NVIDIA RTX A6000", "NVIDIA RTX A6000"]


def test_a_gpu_named_in_a_bulleted_quoted_warning_loses_the_bullet() -> None:
    text = "  - `NVIDIA GeForce RTX 5080 with CUDA capability sm_120 is not compatible with the current PyTorch installation`\n"
    assert [g.name for g in parse_report(text).gpus.devices] == ["NVIDIA GeForce RTX 5080"]


def test_the_python_of_a_tracebacks_paths_is_read_when_all_paths_agree() -> None:
    frame = '  File "/home/u/miniconda3/envs/det/lib/python3.8/site-packages/mmcv/ops/nms.py", line 9, in <module>\n'
    error = "ImportError: libcudart.so.10.1: cannot open shared object file: No such file or directory\n"
    assert parse_report(frame + error).system.python_version == "3.8"
    other = '  File "/usr/lib/python3.10/site-packages/six.py", line 1, in <module>\n'
    assert parse_report(frame + other + error).system.python_version is None  # two interpreters: unknown


def test_a_launchers_start_banner_names_torch_and_the_cuda_device() -> None:
    # lines in the format ComfyUI's comfy/model_management.py and main.py log them (logging prefix included)
    text = """2025-11-02 10:01:12,004 INFO Python version: 3.11.9 (tags/v3.11.9:de54cf5, Apr  2 2024, 10:12:12) [MSC v.1938 64 bit (AMD64)]
2025-11-02 10:01:15,310 INFO Total VRAM 6144 MB, total RAM 32617 MB
2025-11-02 10:01:15,311 INFO pytorch version: 2.9.0+cu128
2025-11-02 10:01:15,312 INFO Set vram state to: NORMAL_VRAM
2025-11-02 10:01:15,313 INFO Device: cuda:0 NVIDIA GeForce GTX 1060 6GB : cudaMallocAsync
"""
    facts = parse_report(text)
    assert (facts.torch.version, facts.torch.cuda, facts.system.python_version) == ("2.9.0+cu128", "12.8", "3.11.9")
    assert facts.torch.sources["version"] == "report"
    [gpu] = facts.gpus.devices
    assert (gpu.index, gpu.name, gpu.compute_capability) == (0, "NVIDIA GeForce GTX 1060 6GB", "6.1")


def test_a_launcher_banner_of_torch_too_new_for_a_pascal_gpu_is_arch_unsupported() -> None:
    from torchrig.doctor.checks import run_checks

    text = "pytorch version: 2.9.0+cu128\nDevice: cuda:0 NVIDIA GeForce GTX 1060 6GB : native\n"
    findings = run_checks(parse_report(text))
    assert findings[0].code == "gpu.arch-unsupported"


def test_a_device_line_of_another_form_is_no_gpu() -> None:
    # "Device: cpu" and a "Device:" label in prose name no CUDA device
    facts = parse_report("pytorch version: 2.4.1\nDevice: cpu\nDevice: cuda:0 is what I chose, it fails\n")
    assert facts.gpus.devices == []


def test_running_out_of_gpu_memory_in_prose_is_a_failure_and_no_fault() -> None:
    from torchrig.doctor.checks import run_checks

    facts = parse_report("With batch size 64 training stops with CUDA out of memory, 48 works fine.\n")
    assert facts.failures
    assert all(f.severity.value != "error" for f in run_checks(facts))


def test_the_mps_allocators_limit_quoted_alone_is_a_failure_and_no_fault() -> None:
    from torchrig.doctor.checks import run_checks

    # MPSAllocator.mm's TORCH_CHECK message, pasted without the "RuntimeError: " in front of it
    text = (
        "my workflow stops with\nMPS backend out of memory (MPS allocated: 6.10 GiB, other allocations: 1.00 MiB, "
        "max allowed: 6.80 GiB). Tried to allocate 1.20 GiB on shared pool.\n"
    )
    facts = parse_report(text)
    assert facts.failures
    assert all(f.severity.value != "error" for f in run_checks(facts))


def test_a_version_in_someones_list_item_is_stated_not_printed() -> None:
    facts = parse_report("- pytorch version: 2.0.1\n- GPU: RTX 3090\n")
    assert facts.torch.sources["version"] == "stated"


def test_torchs_arch_list_cut_off_by_the_paste_loses_its_last_entry_and_the_gpu_is_still_checked() -> None:
    from torchrig import knowledge
    from torchrig.doctor.checks import run_checks

    text = (
        "NVIDIA GeForce GTX 1080 Ti with CUDA capability sm_61 is not compatible with the current\n"
        "PyTorch installation. The current PyTorch install supports CUDA capabilities sm_70 sm_75\nsm_80 sm_8"
    )
    facts = parse_report(text)
    assert facts.torch.arch_list == ["sm_70", "sm_75", "sm_80"]
    assert run_checks(facts)[0].code == "gpu.arch-unsupported"
    assert not knowledge.build_covers(["sm_8", "sm_"], "8.6")  # no architecture names: they cover nothing


def test_the_ultralytics_device_banner_is_torch_own_version_with_its_local_tag() -> None:
    # ultralytics/utils/torch_utils.py select_device: f"Ultralytics {__version__} 🚀 Python-{PYTHON_VERSION} torch-{TORCH_VERSION} "
    facts = parse_report(
        "Ultralytics 8.3.40 🚀 Python-3.11.9 torch-2.5.1+cpu CPU (AMD Ryzen 7 5800X 8-Core Processor)\n"
    )
    assert (facts.torch.version, facts.system.python_version) == ("2.5.1+cpu", "3.11.9")
    assert facts.torch.sources["version"] == "report"  # printed by the program, not a person's word
    facts = parse_report("YOLOv5 🚀 v7.0-0 Python-3.8.10 torch-1.13.1+cu117 CUDA:0 (NVIDIA A10G, 22732MiB)\n")
    assert (facts.torch.version, facts.torch.cuda) == ("1.13.1+cu117", "11.7")


def test_of_several_device_banners_the_last_printed_is_the_latest_run() -> None:
    # the banner's format from ultralytics/utils/torch_utils.py select_device; a run that used the GPU, then one
    # after `pip install -U ultralytics` pulled another torch (the pattern of ultralytics/ultralytics#8869)
    text = (
        "Ultralytics YOLOv8.0.150 🚀 Python-3.10.11 torch-2.0.1+cu118 CUDA:0 (NVIDIA GeForce RTX 4060, 8188MiB)\n"
        "after the upgrade:\n"
        "Ultralytics YOLOv8.1.27 🚀 Python-3.10.11 torch-2.2.1+cpu CPU (12th Gen Intel Core(TM) i5-12600KF)\n"
    )
    facts = parse_report(text)
    assert facts.torch.version == "2.2.1+cpu"


def test_torch_imported_from_a_source_checkout_without_its_c_extension_shadows_the_installed_one() -> None:
    # torch/__init__.py's own message (its C-extension check) after `python setup.py install` run from the checkout
    text = """Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/home/ada/src/pytorch/torch/__init__.py", line 451, in <module>
    raise ImportError(textwrap.dedent('''
ImportError: Failed to load PyTorch C extensions:
    It appears that PyTorch has loaded the `torch/_C` folder
    of the PyTorch repository rather than the C extensions which
"""
    [shadow] = parse_report(text).system.shadowed_modules
    assert (shadow.name, shadow.path) == ("torch", "/home/ada/src/pytorch/torch/__init__.py")


def test_an_installed_torch_missing_its_c_extension_is_no_shadowing() -> None:
    text = """Traceback (most recent call last):
  File "/opt/conda/envs/x/lib/python3.11/site-packages/torch/__init__.py", line 451, in <module>
ImportError: Failed to load PyTorch C extensions:
"""
    assert parse_report(text).system.shadowed_modules == []


# --- a program's label spelled like pip show's field


def test_a_version_label_is_not_read_from_pip_show_of_another_package() -> None:
    text = (
        "$ cat check.py\n"
        'import torch\nprint("Version:", torch.__version__)\n'
        "$ pip show torchvision\n"
        "Name: torchvision\n"
        "Version: 0.20.1\n"
        "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    )
    assert parse_report(text).torch.version != "0.20.1"
