"""container.no-gpu: a container meant for a GPU must be started with one."""

from __future__ import annotations

from check_facts import H100, codes_of, findings_of, linux_gpu_box, report, this_machine

from torchrig.doctor.checks import CheckContext, container_no_gpu, run_checks
from torchrig.doctor.findings import Severity
from torchrig.doctor.report import parse_report

CTX = CheckContext()


def _container_without_gpu(runtime: str, **env: str):
    # A container sees the host's PCI bus (sysfs) even when no GPU was passed in: the H100 is there.
    return linux_gpu_box(H100, driver=None, torch="2.13.0+cu130", cuda="13.0", container=runtime, env=dict(env))


def _on_a_host_without_gpus(runtime: str, **env: str):
    facts = _container_without_gpu(runtime, **env)
    facts.system.pci_gpus = []
    return facts


def _first(text: str) -> tuple[str, Severity] | None:
    found = findings_of(text)
    return (found[0].code, found[0].severity) if found else None


def test_a_cuda_image_run_without_gpus_all_is_an_error_with_the_docker_fix() -> None:
    facts = _container_without_gpu("docker", NVIDIA_VISIBLE_DEVICES="all")
    [finding] = container_no_gpu.container_without_gpu(facts, CTX)
    assert finding.severity is Severity.ERROR
    assert finding.evidence["meant for a GPU because"] == "an NVIDIA GPU is on the host's PCI bus"
    assert finding.title == "This Docker container was started without GPU access"
    assert finding.fix[1].startswith("docker run --gpus all --ipc=host <image>")
    assert "nvidia-ctk runtime configure --runtime=docker" in finding.fix[0]


def test_podman_gets_the_cdi_device() -> None:
    facts = _container_without_gpu("podman", NVIDIA_VISIBLE_DEVICES="all")
    [finding] = container_no_gpu.container_without_gpu(facts, CTX)
    assert finding.fix[1].startswith("podman run --device nvidia.com/gpu=all")


def test_a_kubernetes_pod_must_request_the_gpu_resource() -> None:
    facts = _container_without_gpu("kubernetes", NVIDIA_VISIBLE_DEVICES="all")
    [finding] = container_no_gpu.container_without_gpu(facts, CTX)
    assert "nvidia.com/gpu: 1" in finding.fix[0]


def test_a_cuda_image_on_a_host_without_an_nvidia_gpu_is_only_a_warning() -> None:
    # e.g. a CPU-only CI runner using a pytorch/pytorch image, which sets NVIDIA_VISIBLE_DEVICES=all
    facts = _on_a_host_without_gpus("docker", NVIDIA_VISIBLE_DEVICES="all")
    [finding] = container_no_gpu.container_without_gpu(facts, CTX)
    assert finding.severity is Severity.WARNING
    assert finding.evidence["meant for a GPU because"] == "NVIDIA_VISIBLE_DEVICES=all (a CUDA image)"
    assert "expected and harmless" in finding.detail


def test_the_hosts_kernel_module_proves_the_host_has_a_gpu() -> None:
    facts = _on_a_host_without_gpus("docker")
    facts.driver.kernel_module = "580.95.05"  # /proc/driver/nvidia is the host kernel's, visible in the container
    [finding] = container_no_gpu.container_without_gpu(facts, CTX)
    assert finding.severity is Severity.ERROR


def test_only_a_cuda_torch_in_a_container_is_a_warning() -> None:
    facts = _on_a_host_without_gpus("docker")
    [finding] = container_no_gpu.container_without_gpu(facts, CTX)
    assert finding.severity is Severity.WARNING


def test_the_nvidia_banner_in_a_log_alone_yields_the_error() -> None:
    facts = report(
        (
            "container.driver-not-detected",
            "WARNING: The NVIDIA Driver was not detected.  GPU functionality will not be available.",
        )
    )
    [finding] = container_no_gpu.container_without_gpu(facts, CTX)
    assert finding.severity is Severity.ERROR and finding.fix[1].startswith("docker run --gpus all")


def test_a_container_with_the_gpu_passed_in_is_fine() -> None:
    facts = linux_gpu_box(H100, container="docker", env={"NVIDIA_VISIBLE_DEVICES": "all"})
    assert container_no_gpu.container_without_gpu(facts, CTX) == []


def test_a_cpu_only_container_is_fine() -> None:
    facts = this_machine()
    facts.system.container = "docker"
    assert container_no_gpu.container_without_gpu(facts, CTX) == []


def test_outside_a_container_this_check_says_nothing() -> None:
    facts = _container_without_gpu("docker", NVIDIA_VISIBLE_DEVICES="all")
    facts.system.container = None
    assert container_no_gpu.container_without_gpu(facts, CTX) == []


def test_onnxruntime_finding_no_device_in_a_pod_of_unknown_runtime_gives_dockers_and_kubernetes_fix() -> None:
    facts = report(
        ("container.ort-cuda-device-count", 'Failed to parse provider option "device_id": cudaGetDeviceCount() failed.')
    )
    [finding] = container_no_gpu.container_without_gpu(facts, CheckContext())
    assert finding.severity.value == "error"
    assert any("--gpus all" in step for step in finding.fix)
    assert any("nvidia.com/gpu" in step for step in finding.fix)


def test_docker_asked_for_gpus_on_an_apple_silicon_mac_is_a_warning_to_drop_the_flag() -> None:
    # Docker Desktop's GPU support is for Linux and WSL 2 hosts with NVIDIA GPUs; a Mac's containers run in a VM
    from torchrig.doctor.report import parse_report

    text = (
        "My MacBook Pro has Apple Silicon (M2 Pro), and Docker fails:\n"
        "$ docker run --gpus all -p 8080:8080 myorg/llm-server:latest\n"
        'docker: Error response from daemon: could not select device driver "" with capabilities: [[gpu]].\n'
    )
    facts = parse_report(text)
    assert facts.system.os == "Darwin"
    [finding] = container_no_gpu.container_without_gpu(facts, CheckContext())
    assert finding.severity is Severity.WARNING and "Mac" in finding.detail
    assert "without --gpus" in finding.fix[0] and not any("nvidia-container-toolkit" in line for line in finding.fix)


# --- onnxruntime's "cudaGetDeviceCount() failed" has a cause CUDA_CALL logged first


def test_onnxruntime_in_a_container_whose_driver_is_too_old_is_not_a_container_without_gpus() -> None:
    text = (
        "docker run --gpus all my-ort-image\n"
        "CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version ; GPU=0 ; "
        "expr=cudaGetDeviceCount(&num_devices);\n"
        'Failed to parse provider option "device_id": cudaGetDeviceCount() failed.\n'
    )
    assert codes_of(text)[0] != "container.no-gpu"
    # the same in one line, as provider_options_utils.h's Parse prints it (iperov/DeepFaceLive#155: "upd video drivers")
    one_line = (
        'in the container: ProviderOptionsParser::Parse Failed to parse provider option "device_id": CUDA failure '
        "35: CUDA driver version is insufficient for CUDA runtime version ; GPU=2 ; expr=cudaGetDeviceCount(&num_devices);\n"
    )
    assert codes_of(one_line)[0] != "container.no-gpu"


# --- container.no-gpu: a program run from Docker finds no CUDA, and nothing hands the container a GPU --------------


def test_torch_in_a_docker_container_answering_false_is_a_container_without_gpu() -> None:
    # xinnan-tech/xiaozhi-esp32-server#1166: "inside docker, torch's cuda.is_available() is false"
    text = "## 🐛 问题描述\n进入docker内部，发现torch 的cuda.is_available() 为false。\n"
    found = findings_of(text)
    assert found and found[0].code == "container.no-gpu"


def test_a_compose_service_without_a_device_reservation_is_a_container_without_gpu() -> None:
    # written from Docker's "GPU support in Docker Compose": the service below requests no GPU
    text = (
        "services:\n  app:\n    image: myorg/app:latest\n    ports:\n      - 8000:8000\n"
        "$ docker compose up\n"
        "app-1  | /usr/local/lib/python3.11/site-packages/torch/amp/autocast_mode.py:266: UserWarning: User provided "
        "device_type of 'cuda', but CUDA is not available. Disabling\n"
    )
    found = findings_of(text)
    assert found and found[0].code == "container.no-gpu"
    assert any("capabilities: [gpu]" in line for line in found[0].fix)


# --- container.no-gpu: `docker run` without --gpus, then torch inside answering False ------------------------------


def test_plain_docker_run_then_is_available_false_is_a_container_without_gpu() -> None:
    # open-edge-platform/anomalib#584 (`docker run -it test`, then torch.cuda.is_available() False inside) and
    # zzzyuqing/DreamMat#14 ("torch.cuda.is_available() = False" in the image; the fix was `--gpus all`)
    prompt = "$ docker run -it test\nroot@00921839c781:/anomalib# python\n>>> import torch\n>>> torch.cuda.is_available()\nFalse\n"
    assert _first(prompt) == ("container.no-gpu", Severity.ERROR)
    prose = "I started it with `docker run -it --rm dreammat:latest bash` and got torch.cuda.is_available() = False.\n"
    assert _first(prose) is not None and _first(prose)[0] == "container.no-gpu"  # type: ignore[index]


# --- each text in its program's own wording (NCCL, Fabric Manager, cuda-python, torchaudio, the dynamic
# loader) or a reporter's, written from the source, not copied from a corpus report


def test_a_docker_run_without_gpus_whose_container_finds_none_is_a_container_without_gpu() -> None:
    text = (
        "$ docker run --rm -v /srv/models:/models ghcr.io/acme/infer:2.1 serve\n"
        "RuntimeError: No CUDA GPUs are available\n"
        "$ docker run --rm --gpus all -v /srv/models:/models ghcr.io/acme/infer:2.1 serve\n"
        "serving on cuda:0\n"
    )
    first = run_checks(parse_report(text))[0]
    assert (first.code, first.severity) == ("container.no-gpu", Severity.ERROR)
    assert any("--gpus all" in step for step in first.fix)


# --- container.no-gpu: dockerd refusing the nvidia runtime it does not know ------------------------------------------


def test_docker_refusing_an_unregistered_nvidia_runtime_is_a_container_without_gpu() -> None:
    # dockerd's two wordings (moby getRuntime since 23.0, verifyPlatformContainerSettings before), as reported in
    # NVIDIA/nvidia-docker#1056 (docker run --runtime=nvidia), rinongal/StyleGAN-nada#62 (compose v1),
    # HaveAGitGat/Tdarr#801 (upper-case runtime name) and Zonos-v0.1-hybrid discussion 5 (compose v2)
    reports = (
        "$ docker run --runtime=nvidia --rm nvidia/cuda nvidia-smi\n"
        "docker: Error response from daemon: Unknown runtime specified nvidia.\n",
        "ERROR: for nada  Cannot create container for service nada: Unknown runtime specified nvidia\n"
        "ERROR: Encountered errors while bringing up the project.\n",
        "docker: Error response from daemon: unknown or invalid runtime name: NVIDIA.\n",
        "$ docker compose up -d\n - Container zonos_container  Creating   0.0s\n"
        "Error response from daemon: unknown or invalid runtime name: nvidia\n",
    )
    for text in reports:
        found = findings_of(text)
        assert found and (found[0].code, found[0].severity) == ("container.no-gpu", Severity.ERROR), text
        assert any("nvidia-ctk runtime configure --runtime=docker" in step for step in found[0].fix)


def test_another_unknown_runtime_is_not_the_nvidia_one() -> None:
    # gVisor's runsc unregistered is a sandbox's setup, not a GPU's
    assert "container.no-gpu" not in codes_of(
        "docker: Error response from daemon: unknown or invalid runtime name: runsc.\n"
    )


def test_nvidia_smi_failing_in_a_container_started_without_gpus_is_a_container_without_gpu() -> None:
    # ameli/manylinux-cuda#5: "docker run -it <image>", then inside it nvidia-smi cannot reach the driver: without
    # --gpus the container has no /dev/nvidiactl, whatever the host's driver
    text = (
        "$ docker run -it sameli/manylinux2014_x86_64_cuda_12.3\n"
        "[root@24c96d985c30 /]# nvidia-smi\n"
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest "
        "NVIDIA driver is installed and running.\n"
    )
    found = findings_of(text)
    assert found and found[0].code == "container.no-gpu"
    assert any("--gpus all" in step for step in found[0].fix)


# --- container.no-gpu: no nvidia-smi in a container or pod (the toolkit mounts it with the GPU) ----------------------


def test_nvidia_smi_missing_in_a_container_started_without_a_gpu_is_a_container_without_gpu() -> None:
    # NVIDIA/nvidia-docker#341 (a plain `docker run`, then "bash: nvidia-smi: command not found" in an nvidia/cuda image)
    # and mmartial/ComfyUI-Nvidia-Docker#57 (the image's own "nvidia-smi not found"; the answer was --gpus all)
    reports = (
        "$ docker run --rm -it --name trainer -p 3000:3000 myorg/trainer:1.0 bash\n"
        "root@4f2a:/# nvidia-smi\nbash: nvidia-smi: command not found\n",
        "docker compose up\ncomfyui-nvidia  | !! ERROR: nvidia-smi not found\n",
    )
    for text in reports:
        found = findings_of(text)
        assert found and (found[0].code, found[0].severity) == ("container.no-gpu", Severity.WARNING), text
        assert any("--gpus all" in step for step in found[0].fix)


def test_nvidia_smi_missing_in_a_pod_gives_the_pod_spec_fix() -> None:
    # written from the NVIDIA device plugin and GPU Operator docs: a pod on a GPU node without the GPU request
    text = "kubectl logs llm-0\n/entrypoint.sh: line 9: nvidia-smi: command not found\nFalling back to CPU.\n"
    found = findings_of(text)
    assert found and found[0].code == "container.no-gpu"
    assert any("nvidia.com/gpu" in step for step in found[0].fix)
    assert any("runtimeClassName: nvidia" in step for step in found[0].fix)


def test_nvidia_smi_missing_where_the_gpu_was_requested_or_outside_a_container_is_not_this() -> None:
    # gw0/docker-keras#7: --runtime=nvidia was given, so the GPU was requested (the image lacked the tool)
    requested = (
        "$ docker run --runtime=nvidia -it --rm gw000/keras:2.1.4-py3-tf-gpu nvidia-smi\n"
        'docker: Error response from daemon: OCI runtime create failed: starting container process caused "exec: '
        '\\"nvidia-smi\\": executable file not found in $PATH": unknown.\n'
    )
    assert "container.no-gpu" not in codes_of(requested)
    assert "container.no-gpu" not in codes_of("$ nvidia-smi\nbash: nvidia-smi: command not found\n")
