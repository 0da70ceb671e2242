"""`torchrig env install` (what `make run` uses to put torch into .venv): a real venv, real pip, and a
real PEP 503 index served on localhost as the configured PyTorch mirror. No network."""

from __future__ import annotations

import functools
import http.server
import os
import platform
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import wheelhouse  # tests/envs/wheelhouse.py (pytest puts this folder on sys.path)

from torchrig.envs.into import install_argv, install_attempts, requirement
from torchrig.knowledge.builds import BuildPlan, Target

X86_64 = platform.machine().lower() in ("x86_64", "amd64")


def _plan(torch: str = "2.13.0", variant: str | None = "cpu", **target: str) -> BuildPlan:
    return BuildPlan(torch=torch, python="3.11", target=Target(**target), variant=variant, reason="test")


# --- the requirement ---------------------------------------------------------------------------


def test_a_cpu_plan_asks_for_the_cpu_build_by_name_where_pytorch_labels_it() -> None:
    assert requirement(_plan(platform="linux", cpu_arch="x86_64")) == "torch==2.13.0+cpu"
    assert requirement(_plan(platform="windows", cpu_arch="AMD64")) == "torch==2.13.0+cpu"
    # PyTorch's aarch64 and macOS CPU wheels carry no label; a series cannot take one
    assert requirement(_plan(platform="linux", cpu_arch="aarch64")) == "torch==2.13.0"
    assert requirement(_plan(platform="darwin", cpu_arch="arm64")) == "torch==2.13.0"
    assert requirement(_plan(torch="2.13", platform="linux")) == "torch==2.13.*"
    # a CUDA plan is chosen by its index
    assert requirement(_plan(variant="cu130")) == "torch==2.13.0"


def test_the_pip_command_uses_the_plans_index_and_none_on_macos() -> None:
    plan = BuildPlan("2.13.0", "3.11", Target(), "cu130", "test", index_base="https://mirror.example/whl")
    assert install_argv(plan, "/v/bin/python") == (
        "/v/bin/python",
        "-m",
        "pip",
        "install",
        "torch==2.13.0",
        "--index-url",
        "https://mirror.example/whl/cu130",
    )
    mac = _plan(platform="darwin", cpu_arch="arm64")
    assert install_argv(mac, "python") == ("python", "-m", "pip", "install", "torch==2.13.0")


# --- end to end ----------------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path, sandbox_home: Path) -> Iterator[Path]:
    """A PyTorch-wheel mirror on localhost (``<base>/cpu/torch/``), configured as torchrig's [torch] index."""
    root = tmp_path / "whl"
    (root / "cpu" / "torch").mkdir(parents=True)
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = sandbox_home / ".config" / "torchrig" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[torch]\nindex = "http://127.0.0.1:{server.server_address[1]}"\n')
    try:
        yield root / "cpu" / "torch"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True, timeout=300)
    return tmp_path / "venv" / "bin" / "python"


def _installed_torch(python: Path) -> str:
    probe = "from importlib import metadata as m\ntry: print(m.version('torch'))\nexcept m.PackageNotFoundError: print('none')"
    return subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


def _torchrig(*args: str, find_links: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PIP_FIND_LINKS", None)  # this machine's pip finds a real torch wheel there
    if find_links is not None:
        env.update(PIP_FIND_LINKS=str(find_links), PIP_NO_INDEX="1")
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_RETRIES="0", PIP_NO_COMPILE="1", COLUMNS="300")
    env["PIP_INDEX_URL"] = "http://127.0.0.1:9/simple"  # pip's own index: nothing there, and never PyPI
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    return subprocess.run(
        [sys.executable, "-m", "torchrig", "env", "install", "--torch", "2.13.0", "--backend", "cpu", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.skipif(not X86_64, reason="PyTorch labels its CPU wheels +cpu on x86_64 only")
def test_installs_the_cpu_build_from_the_configured_mirror_then_has_nothing_to_do(mirror: Path, venv: Path) -> None:
    wheelhouse.fake_torch(mirror, "2.13.0+cpu")
    done = _torchrig("--interpreter", str(venv))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{venv} -m pip install torch==2.13.0+cpu --index-url http://127.0.0.1:" in done.stdout
    assert _installed_torch(venv) == "2.13.0+cpu"
    again = _torchrig("--interpreter", str(venv))
    assert again.returncode == 0
    assert "torch 2.13.0+cpu is already installed" in again.stdout
    assert "pip install" not in again.stdout


@pytest.mark.skipif(not X86_64, reason="PyTorch labels its CPU wheels +cpu on x86_64 only")
def test_an_index_with_only_the_unlabelled_build_installs_nothing_and_points_at_mirrors(
    mirror: Path, venv: Path
) -> None:
    # torch 2.13.0 without a label is what PyPI serves on Linux x86_64: the CUDA build, several GB.
    wheelhouse.fake_torch(mirror, "2.13.0")
    done = _torchrig("--interpreter", str(venv))
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "pip could not install torch==2.13.0+cpu from http://127.0.0.1:" in last
    assert "torchrig mirror use NAME --for torch" in last
    assert "Traceback" not in done.stderr
    assert _installed_torch(venv) == "none"


def test_dry_run_installs_nothing(mirror: Path, venv: Path) -> None:
    wheelhouse.fake_torch(mirror, "2.13.0+cpu")
    done = _torchrig("--interpreter", str(venv), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "-m pip install torch==2.13.0" in done.stdout
    assert "dry run: nothing was installed." in done.stdout
    assert _installed_torch(venv) == "none"


def test_a_path_that_is_not_a_python_is_one_sentence(tmp_path: Path, sandbox_home: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    for bad in (tmp_path / "missing", text):
        done = _torchrig("--interpreter", str(bad))
        assert done.returncode == 2
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "could not be run as a Python interpreter" in lines[0], done.stderr


def test_an_unreachable_index_is_left_out_only_for_the_labelled_cpu_build() -> None:
    def dead(url: str) -> str:
        return "[Errno -2] Name or service not known"

    cpu = _plan(platform="linux", cpu_arch="x86_64")
    (first, note), (then, again) = install_attempts(cpu, "python", unreachable=dead)
    assert first == ("python", "-m", "pip", "install", "torch==2.13.0+cpu")
    assert note is not None and "https://download.pytorch.org/whl/cpu cannot be reached" in note
    # our request knows no proxy set only in pip's configuration: the index is still tried after
    assert "--index-url" in then and again is not None
    # the variant is the index: a CUDA plan, or an unlabelled CPU one, keeps it and lets pip report it
    for plan in (_plan(variant="cu130"), _plan(platform="linux", cpu_arch="aarch64"), _plan(torch="2.13")):
        assert [("--index-url" in argv, note) for argv, note in install_attempts(plan, "python", unreachable=dead)] == [
            (True, None)
        ]
    # reachable: the index first, pip's own indexes only if pip fails there
    (first, note), (then, _) = install_attempts(cpu, "python", unreachable=lambda url: None)
    assert "--index-url" in first and note is None and "--index-url" not in then
    # a dry run asks nothing of the network: the planned command, first
    ((first, note), _) = install_attempts(cpu, "python", unreachable=None)
    assert "--index-url" in first and note is None


@pytest.mark.skipif(not X86_64, reason="PyTorch labels its CPU wheels +cpu on x86_64 only")
def test_a_dead_mirror_falls_back_to_pips_find_links_for_the_cpu_build(
    tmp_path: Path, sandbox_home: Path, venv: Path
) -> None:
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = sandbox_home / ".config" / "torchrig" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[torch]\nindex = "http://127.0.0.1:{port}"\n')
    links = tmp_path / "links"
    links.mkdir()
    wheelhouse.fake_torch(links, "2.13.0+cpu")
    done = _torchrig("--interpreter", str(venv), find_links=links)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"http://127.0.0.1:{port}/cpu cannot be reached" in done.stdout
    assert f"{venv} -m pip install torch==2.13.0+cpu\n" in done.stdout
    assert _installed_torch(venv) == "2.13.0+cpu"
