"""container.no-gpu: a container meant for a GPU must be started with one."""

from __future__ import annotations

from check_facts import H100, linux_gpu_box, report, this_machine

from torchrig.doctor.checks import CheckContext, container_no_gpu
from torchrig.doctor.findings import Severity

CTX = CheckContext()


def _container_without_gpu(runtime: str, **env: str):
    # A container sees the host's PCI bus (sysfs) even when no GPU was passed in: the H100 is there.
    return linux_gpu_box(H100, driver=None, torch="2.13.0+cu130", cuda="13.0", container=runtime, env=dict(env))


def _on_a_host_without_gpus(runtime: str, **env: str):
    facts = _container_without_gpu(runtime, **env)
    facts.system.pci_gpus = []
    return facts


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
