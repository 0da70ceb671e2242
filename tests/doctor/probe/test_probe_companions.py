"""Companion packages are read from their metadata, never imported."""

from __future__ import annotations

from probe_fakes import FakeTree, fake_machine

from torchrig.doctor.probe import Host, companions

SITE = "/venv/lib/python3.11/site-packages"


def test_companions_carry_version_place_installer_and_requirements(tree: FakeTree) -> None:
    tree.dist(
        SITE,
        "torchvision",
        "0.20.1+cu121",
        requires=("numpy", "torch==2.5.1", "pillow!=8.3.*,>=5.3.0"),
        package="torchvision",
    )
    tree.dist(SITE, "flash-attn", "2.7.2.post1", installer="uv", requires=("torch", "einops"), package="flash_attn")
    tree.dist(SITE, "nvidia-cudnn-cu12", "9.1.0.70", requires=("nvidia-cublas-cu12",))
    tree.dist(SITE, "requests", "2.32.3")  # not a companion: left out
    found = {p.name: p for p in companions.probe(fake_machine(tree, sys_path=(SITE,)), quick=True)}
    assert set(found) == {"torchvision", "flash-attn", "nvidia-cudnn-cu12"}
    vision = found["torchvision"]
    assert (vision.version, vision.installer, vision.location) == ("0.20.1+cu121", "pip", f"{SITE}/torchvision")
    assert "torch==2.5.1" in vision.requires
    assert (found["flash-attn"].installer, found["flash-attn"].location) == ("uv", f"{SITE}/flash_attn")
    assert found["nvidia-cudnn-cu12"].location == SITE  # a namespace package: no directory of its own


def test_the_first_copy_on_sys_path_wins(tree: FakeTree) -> None:
    user_site = "/home/user/.local/lib/python3.11/site-packages"
    tree.dist(user_site, "torchvision", "0.15.2")
    tree.dist(SITE, "torchvision", "0.20.1")
    (vision,) = companions.probe(fake_machine(tree, sys_path=(user_site, SITE)), quick=True)
    assert vision.version == "0.15.2"


def test_the_packages_installed_here_are_found() -> None:
    found = {p.name: p for p in companions.probe(Host.live(), quick=True)}
    assert "numpy" in found and found["numpy"].version
    assert "nvidia-ml-py" in found  # every nvidia-* distribution is listed
    assert "torchvision" not in found  # this machine has none


def test_relative_sys_path_entries_are_read_from_the_working_directory(tree: FakeTree) -> None:
    tree.dist("/home/user/project/vendor", "xformers", "0.0.28.post3")
    (found,) = companions.probe(fake_machine(tree, sys_path=("vendor",)), quick=True)
    assert (found.name, found.location) == ("xformers", "/home/user/project/vendor")
