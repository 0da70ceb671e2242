"""The system probe: container, WSL, Jetson, /dev/shm, variables, device nodes, PCI GPUs, shadowing files."""

from __future__ import annotations

import os

import pytest
from probe_fakes import FakeTree, fake_machine

from torchrig.doctor.facts import PciDevice, ShadowedModule
from torchrig.doctor.probe import Host, system


def test_a_plain_machine_is_in_no_container(tree: FakeTree) -> None:
    tree.write("/proc/1/cgroup", "0::/init.scope\n")
    tree.mkdir("/dev/shm")
    facts = system.probe(fake_machine(tree), quick=True)
    assert (facts.container, facts.wsl, facts.jetson) == (None, False, False)
    assert facts.pci_gpus == [] and facts.dev_nodes == [] and facts.shadowed_modules == []


@pytest.mark.parametrize(
    ("files", "env", "expected"),
    [
        ({"/.dockerenv": ""}, {}, "docker"),
        ({"/run/.containerenv": ""}, {"container": "podman"}, "podman"),
        ({"/.dockerenv": "", "/var/run/secrets/kubernetes.io/serviceaccount/token": "x"}, {}, "kubernetes"),
        ({}, {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, "kubernetes"),
        ({"/proc/1/cgroup": "12:devices:/docker/3f4e5d6c7b8a\n"}, {}, "docker"),  # cgroup v1 inside docker
        ({}, {"container": "lxc"}, "lxc"),
    ],
)
def test_containers_are_recognised(tree: FakeTree, files: dict[str, str], env: dict[str, str], expected: str) -> None:
    for path, text in files.items():
        tree.write(path, text)
    facts = system.probe(fake_machine(tree, env=env), quick=True)
    assert facts.container == expected


def test_wsl2_is_recognised_by_its_kernel_and_its_gpu_bridge(tree: FakeTree) -> None:
    # the kernel of https://github.com/microsoft/WSL/issues/11589 (5.15.146.1), as WSL2 names its release
    tree.write("/proc/sys/kernel/osrelease", "5.15.146.1-microsoft-standard-WSL2\n")
    tree.write("/dev/dxg")
    tree.write("/usr/lib/wsl/lib/libcuda.so.1")
    facts = system.probe(fake_machine(tree), quick=True)
    assert facts.wsl is True
    assert facts.kernel == "5.15.146.1-microsoft-standard-WSL2"
    assert "/dev/dxg" in facts.dev_nodes


def test_a_jetson_is_recognised(tree: FakeTree) -> None:
    tree.write(
        "/etc/nv_tegra_release", "# R35 (release), REVISION: 3.1, GCID: 32827747, BOARD: t186ref, EABI: aarch64\n"
    )
    assert system.probe(fake_machine(tree), quick=True).jetson is True


def test_a_gpu_without_a_driver_is_still_seen_on_the_pci_bus(tree: FakeTree) -> None:
    # the GT 640 of https://github.com/pop-os/nvidia-graphics-drivers-470/issues/18
    # (modalias pci:v000010DEd00000FC1...bc03sc00: vendor 10de, device 0fc1, class 03 00)
    gpu = "/sys/bus/pci/devices/0000:03:00.0"
    tree.write(f"{gpu}/vendor", "0x10de\n")
    tree.write(f"{gpu}/device", "0x0fc1\n")
    tree.write(f"{gpu}/class", "0x030000\n")
    audio = "/sys/bus/pci/devices/0000:03:00.1"  # the card's HDMI audio function: not a GPU
    tree.write(f"{audio}/vendor", "0x10de\n")
    tree.write(f"{audio}/device", "0x0e1b\n")
    tree.write(f"{audio}/class", "0x040300\n")
    other = "/sys/bus/pci/devices/0000:00:02.0"
    tree.write(f"{other}/vendor", "0x8086\n")
    tree.write(f"{other}/class", "0x030000\n")
    facts = system.probe(fake_machine(tree), quick=True)
    assert facts.pci_gpus == [
        PciDevice(address="0000:03:00.0", vendor="0x10de", device="0x0fc1", device_class="0x030000")
    ]
    assert facts.dev_nodes == []  # no driver: no /dev/nvidia*


def test_device_nodes_are_listed(tree: FakeTree) -> None:
    for node in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        tree.write(f"/dev/{node}")
    facts = system.probe(fake_machine(tree), quick=True)
    assert facts.dev_nodes == ["/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl"]


def test_only_the_variables_that_matter_are_kept(tree: FakeTree) -> None:
    env = {
        "CUDA_VISIBLE_DEVICES": "",
        "NCCL_P2P_DISABLE": "1",
        "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True",
        "LD_LIBRARY_PATH": "/usr/local/cuda/lib64",
        "AWS_SECRET_ACCESS_KEY": "hidden",
        "HOME": "/root",
        "VIRTUAL_ENV": "/srv/venv",
    }
    facts = system.probe(fake_machine(tree, env=env), quick=True)
    assert facts.env == {
        "CUDA_VISIBLE_DEVICES": "",
        "LD_LIBRARY_PATH": "/usr/local/cuda/lib64",
        "NCCL_P2P_DISABLE": "1",
        "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True",
        "VIRTUAL_ENV": "/srv/venv",
    }
    assert facts.venv == "/srv/venv"


def test_a_conda_python_without_activation_is_still_a_conda_env(tree: FakeTree) -> None:
    tree.mkdir("/opt/conda/conda-meta")
    facts = system.probe(fake_machine(tree, prefix="/opt/conda", base_prefix="/opt/conda"), quick=True)
    assert (facts.conda_prefix, facts.sources["conda_prefix"]) == ("/opt/conda", "conda-meta")
    assert facts.venv is None


def test_local_files_that_shadow_installed_modules_are_found(tree: FakeTree) -> None:
    tree.write("/home/user/project/torch.py", "print('my experiment')\n")
    tree.write("/home/user/project/numpy/__init__.py", "")
    tree.write("/home/user/project/train.py", "")
    tree.write("/home/user/lib/random.py", "")
    tree.mkdir("/home/user/project/torchvision")  # no __init__.py: a namespace package shadows nothing
    facts = system.probe(fake_machine(tree, env={"PYTHONPATH": "/home/user/lib"}), quick=True)
    assert facts.shadowed_modules == [
        ShadowedModule(name="torch", path="/home/user/project/torch.py"),
        ShadowedModule(name="numpy", path="/home/user/project/numpy"),
        ShadowedModule(name="random", path="/home/user/lib/random.py"),
    ]


def test_shm_of_this_machine_is_measured() -> None:
    facts = system.probe(Host.live(), quick=True)
    stat = os.statvfs("/dev/shm")
    assert facts.shm_total_bytes == stat.f_blocks * stat.f_frsize > 0
    assert facts.shm_free_bytes is not None and 0 <= facts.shm_free_bytes <= facts.shm_total_bytes
    assert facts.os == "Linux" and facts.kernel and facts.python_executable


def test_a_missing_dev_shm_is_an_error(tree: FakeTree) -> None:
    facts = system.probe(fake_machine(tree), quick=True)
    assert facts.shm_total_bytes is None
    assert facts.errors == ["/dev/shm is missing or cannot be read"]
