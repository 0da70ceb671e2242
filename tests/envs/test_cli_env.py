"""`torchrig env` end to end: real subprocesses, a real venv, wheels from a local directory, no network."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import wheelhouse  # tests/envs/wheelhouse.py (pytest puts this folder on sys.path)

# the one torch release the wheelhouse below has (this machine's local CPU wheel); the default release,
# the newest torchrig knows in full, may be newer
LOCAL_TORCH = "2.13"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheelhouse.build(tmp_path_factory.mktemp("wheels"), Path(__file__).resolve().parents[2])


@pytest.fixture
def envs(sandbox_home: Path) -> Path:
    return sandbox_home / ".local" / "share" / "torchrig" / "envs"


def torchrig(
    *args: str, timeout: float = 300, path: str = "/usr/bin:/bin", extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) | (extra_env or {})
    env.pop("PIP_FIND_LINKS", None)  # this machine's pip finds a real torch wheel there: keep to our directory
    env["PIP_CONFIG_FILE"] = os.devnull  # and no index from the machine's pip.conf
    env["PATH"] = path  # by default no conda, mamba or uv: the venv executor
    env["UV_PYTHON_DOWNLOADS"] = "never"  # uv must not fetch a Python from the network
    env["PIP_NO_COMPILE"] = "1"  # skip writing .pyc for numpy & co: seconds on a busy box, no behaviour change
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "torchrig", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def one_sentence(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# --- plan ----------------------------------------------------------------------------------


def test_plan_on_this_machine_says_cpu_and_why() -> None:
    # this machine has no NVIDIA GPU and no driver (the tests run on CPU-only CI)
    proc = torchrig("env", "plan", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["variant"] == "cpu"
    assert "no NVIDIA GPU was found" in data["reason"]
    assert data["rejected"] == []
    assert data["commands"]["pip"].endswith("--index-url https://download.pytorch.org/whl/cpu")
    text = torchrig("env", "plan")
    assert "build: cpu" in text.stdout and "why: no NVIDIA GPU was found" in text.stdout


def test_plan_for_another_machine_with_a_v100_and_an_a100() -> None:
    proc = torchrig(
        "env",
        "plan",
        "--torch",
        "2.13",
        "--python",
        "3.12",
        "--driver",
        "580.95.05",
        "--cc",
        "7.0",
        "--cc",
        "8.0",
        "--json",
    )
    data = json.loads(proc.stdout)
    assert proc.returncode == 0
    assert data["variant"] == "cu126"
    assert {r["variant"] for r in data["rejected"]} >= {"cu130", "cu129", "cu132"}
    assert data["commands"]["uv"] == "uv pip install 'torch==2.13.*' --index https://download.pytorch.org/whl/cu126"


def test_plan_for_gpus_named_by_model() -> None:
    proc = torchrig(
        "env", "plan", "--gpu-model", "Tesla V100-SXM2-32GB", "--gpu", "NVIDIA A100-SXM4-80GB", "--json"
    )  # --gpu: the old name still works
    data = json.loads(proc.stdout)
    assert data["machine"]["compute_capabilities"] == ["7.0", "8.0"]
    assert data["variant"] == "cu126"
    unknown = torchrig("env", "plan", "--gpu-model", "Voodoo 5")
    assert unknown.returncode == 2
    assert "does not know the GPU model 'Voodoo 5'; give its compute capability with --cc" in one_sentence(
        unknown.stderr
    )


def test_plan_and_dry_run_use_the_configured_pytorch_wheel_mirror(sandbox_home: Path, envs: Path) -> None:
    config = sandbox_home / ".config" / "torchrig" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[torch]\nindex = "https://mirrors.nju.edu.cn/pytorch/whl/"\n')
    data = json.loads(torchrig("env", "plan", "--driver", "580.95.05", "--cc", "8.6", "--json").stdout)
    assert data["index_url"] == "https://mirrors.nju.edu.cn/pytorch/whl/cu130"
    assert (
        data["commands"]["pip"]
        == "pip install 'torch==2.14.*' --index-url https://mirrors.nju.edu.cn/pytorch/whl/cu130"
    )  # the default release: the newest whose builds torchrig knows in full (2.15's are known only in part)
    dry = torchrig("env", "create", "m", "--dry-run")
    assert "'torch==2.14.*' --index-url https://mirrors.nju.edu.cn/pytorch/whl/cpu" in dry.stdout
    assert not envs.exists()


def test_plan_that_nothing_fits_exits_1_and_says_what_would() -> None:
    proc = torchrig("env", "plan", "--driver", "470.82.01", "--cc", "8.0")
    assert proc.returncode == 1
    assert "build: none fits" in proc.stdout
    assert "torch 2.7 with cu118 fits as the machine stands" in proc.stdout
    assert "install NVIDIA driver >= 580" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cc", "ampere"], "'ampere' is not a compute capability"),
        (["--driver", "latest"], "'latest' is not a driver version"),
        (["--torch", "3.0"], "torch 3.0 is not in torchrig's tables"),
        # a release the tables do not name would get an install line that fails only when it runs
        (
            ["--torch", "2.13.99", "--driver", "580.95.05", "--gpu", "A100"],
            "torchrig knows no torch 2.13.99: PyPI had 2.13.0 of torch 2.13 as of 2026-12; give --torch 2.13",
        ),
        (["--driver", "1e5", "--gpu", "A100"], "'1e5' is not a driver version"),  # a float, not 100000 or 1
        (["--driver", "580.95.05.1"], "'580.95.05.1' is not a driver version"),
    ],
)
def test_plan_bad_input_is_one_sentence(args: list[str], message: str) -> None:
    proc = torchrig("env", "plan", *args)
    assert proc.returncode == 2
    assert message in one_sentence(proc.stderr)


# --- create: refused before anything exists --------------------------------------------------


def test_invalid_name_bad_file_and_impossible_variant_create_nothing(tmp_path: Path, envs: Path) -> None:
    bad_yml = tmp_path / "environment.yml"
    bad_yml.write_text("dependencies:\n  - python=3.11\n  - [oops\n")
    cases = [
        (["env", "create", "no/slash"], "is not a valid environment name"),
        (["env", "create", "ok", "--file", str(bad_yml)], "does not parse as YAML at line 4"),
        (["env", "create", "ok", "--backend", "cu130"], "cu130 cannot run here: no NVIDIA GPU was found."),
        (["env", "create", "ok", "--torch", "2.13", "--python", "3.9"], "torch 2.13 has no wheels for Python 3.9"),
    ]
    for args, message in cases:
        proc = torchrig(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in one_sentence(proc.stderr), args
    assert not envs.exists()


def test_dry_run_prints_every_command_and_creates_nothing(envs: Path, wheels: Path) -> None:
    proc = torchrig("env", "create", "trial", "--torch", LOCAL_TORCH, "--dry-run", "--find-links", str(wheels))
    assert proc.returncode == 0, proc.stderr
    prefix = envs / "trial"
    lines = proc.stdout.splitlines()
    assert f"{sys.executable} -m venv {prefix}" in lines
    py = prefix / "bin" / "python"
    assert any(
        ln.startswith(f"{py} -m pip install") and "'torch==2.13.*' --no-index --find-links" in ln for ln in lines
    )
    assert any(ln.startswith(f"{py} -m pip install") and "torchrig==" in ln for ln in lines)
    assert f"{prefix}/bin/torchrig doctor --json" in lines
    assert "dry run: nothing was created" in proc.stdout
    assert not envs.exists()


def test_dry_run_as_json_lists_the_plan_and_steps_and_creates_nothing(envs: Path, wheels: Path) -> None:
    proc = torchrig(
        "env", "create", "trial", "--torch", LOCAL_TORCH, "--dry-run", "--json", "--find-links", str(wheels)
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # nothing but the JSON on stdout
    assert data["schema"] == "torchrig.env-create/1" and data["dry_run"] is True
    assert (data["name"], data["variant"], data["tool"]) == ("trial", "cpu", "venv")
    assert data["location"] == str(envs / "trial")
    assert data["steps"][0] == f"{sys.executable} -m venv {envs / 'trial'}"
    assert data["steps"][-1] == f"{envs / 'trial'}/bin/torchrig doctor --json"
    assert not envs.exists()


# --- create for real -----------------------------------------------------------------------


@pytest.mark.slow
def test_create_as_json_reports_the_environment_and_the_doctor_verdict(envs: Path, wheels: Path) -> None:
    proc = torchrig("env", "create", "quiet", "--torch", LOCAL_TORCH, "--json", "--find-links", str(wheels))
    data = json.loads(proc.stdout)
    assert data["prefix"] == str(envs / "quiet") and data["dry_run"] is False
    assert data["doctor"]["failing"] is True and proc.returncode == 1  # the stand-in torch refuses to import
    assert data["doctor"]["verdict"].startswith("Root cause: Importing torch fails")
    assert "ok  " not in proc.stderr  # no step lines around the JSON


@pytest.mark.slow
def test_create_makes_a_venv_from_local_wheels_and_runs_the_doctor_inside(envs: Path, wheels: Path) -> None:
    proc = torchrig("env", "create", "demo", "--torch", LOCAL_TORCH, "--find-links", str(wheels))
    prefix = envs / "demo"
    assert f"created demo at {prefix}" in proc.stdout, proc.stderr
    for step in ("create the venv", "install torch (cpu build)", "install torchrig (for the doctor)"):
        assert f"ok  {step}" in proc.stderr
    verdict = next(ln for ln in proc.stdout.splitlines() if ln.startswith("doctor in demo: "))
    # the torch in the wheel directory is a stand-in that refuses to import: the doctor inside says exactly that
    assert verdict.startswith("doctor in demo: Root cause: Importing torch fails [torch.import-failed]"), verdict
    assert proc.returncode == 1, proc.stdout

    # the environment is real and separate: its own torchrig and, per its metadata, the stand-in torch
    inside = subprocess.run(
        [
            str(prefix / "bin" / "python"),
            "-c",
            "import importlib.metadata as md, torchrig; print(torchrig.__file__); print(md.version('torch'))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    where, version = inside.stdout.split()
    assert where.startswith(str(prefix)) and version == "2.13.0+cpu"

    marker = json.loads((prefix / "torchrig-env.json").read_text())
    assert marker["variant"] == "cpu" and marker["find_links"] == str(wheels) and marker["executor"] == "venv"

    exported = torchrig("env", "export", "demo")
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.splitlines()
    assert f"--find-links {wheels}" in lines
    assert "torch==2.13.0+cpu" in lines and "torchrig==0.1.0" in lines
    as_json = json.loads(torchrig("env", "export", "demo", "--json").stdout)
    assert as_json == {
        "schema": "torchrig.env-export/1",
        "name": "demo",
        "kind": "requirements",
        "text": exported.stdout,
    }

    again = torchrig("env", "create", "demo", "--torch", LOCAL_TORCH, "--find-links", str(wheels))
    assert again.returncode == 2
    assert "an environment named demo already exists" in one_sentence(again.stderr)
    assert (prefix / "bin" / "python").exists()  # refused, and the existing one untouched


@pytest.mark.slow
def test_a_failed_install_leaves_no_half_made_environment_and_says_why(
    tmp_path: Path, envs: Path, wheels: Path
) -> None:
    # every wheel but torch: the venv is made, then the torch step cannot be met
    partial = tmp_path / "partial"
    partial.mkdir()
    for wheel in wheels.iterdir():
        if not wheel.name.startswith("torch-"):
            os.symlink(wheel, partial / wheel.name)
    proc = torchrig("env", "create", "half", "--torch", LOCAL_TORCH, "--find-links", str(partial))
    assert proc.returncode == 1
    assert "ok  create the venv" in proc.stderr  # it got that far: there was something to remove
    message = one_sentence(proc.stderr.split("ok  create the venv", 1)[1])
    assert message.startswith("torchrig: install torch (cpu build) failed (python exited 1: ERROR:")
    assert "torch==2.13.*" in message
    assert message.endswith(f"removed the half-made environment ({envs / 'half'}), nothing is left behind.")
    assert not (envs / "half").exists()
    assert not any(envs.iterdir())


@pytest.mark.slow
def test_with_uv_on_path_create_uses_uv_and_export_works_without_pip(tmp_path: Path, envs: Path, wheels: Path) -> None:
    uv = Path(sys.executable).with_name("uv")  # the uv of the dev dependencies
    if not uv.exists():
        pytest.skip("uv is not installed next to this interpreter (pip install -e '.[dev]' installs it)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").symlink_to(uv)
    path = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    proc = torchrig("env", "create", "fast", "--torch", LOCAL_TORCH, "--find-links", str(wheels), path=path)
    assert "ok  create the venv (uv)" in proc.stderr, proc.stderr
    assert "doctor in fast: Root cause: Importing torch fails [torch.import-failed]" in proc.stdout
    prefix = envs / "fast"
    assert not (prefix / "bin" / "pip").exists()  # uv's venvs have no pip
    assert json.loads((prefix / "torchrig-env.json").read_text())["executor"] == "uv"
    exported = torchrig("env", "export", "fast", path=path)
    assert exported.returncode == 0, exported.stderr
    assert "torch==2.13.0+cpu" in exported.stdout.splitlines()


_FAKE_CONDA = """#!{python}
# a conda that keeps environments as folders and logs every call, one argv per line
import json, pathlib, sys
root = pathlib.Path({root!r})
with open(root / "calls.log", "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if args[:2] == ["env", "list"]:
    envs = sorted(str(p) for p in (root / "envs").iterdir()) if (root / "envs").exists() else []
    print(json.dumps({{"envs": [str(root), *envs]}}))
elif args[0] == "create":
    (root / "envs" / args[args.index("-n") + 1] / "bin").mkdir(parents=True)
"""


def test_create_with_conda_lists_the_environments_once_before_it_starts(tmp_path: Path) -> None:
    bin_dir, root = tmp_path / "bin", tmp_path / "conda"
    bin_dir.mkdir()
    root.mkdir()
    conda = bin_dir / "conda"
    conda.write_text(_FAKE_CONDA.format(python=sys.executable, root=str(root)))
    conda.chmod(0o755)
    proc = torchrig("env", "create", "work", path=os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]))
    assert f"created work at {root / 'envs' / 'work'}" in proc.stdout, proc.stderr
    calls = (root / "calls.log").read_text().splitlines()
    assert calls[0] == "env list --json" and calls[1].startswith("create -y -n work")  # one check, then create
    assert calls.count("env list --json") == 2  # that check, and finding the new prefix afterwards


def test_export_of_an_unknown_environment_is_one_sentence() -> None:
    proc = torchrig("env", "export", "ghost")
    assert proc.returncode == 2
    assert "there is no environment named ghost" in one_sentence(proc.stderr)


def test_an_unreachable_pytorch_index_is_named_with_the_mirror_to_choose(sandbox_home: Path, envs: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on: the index refuses every connection
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = sandbox_home / ".config" / "torchrig" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[torch]\nindex = "http://127.0.0.1:{port}"\n')
    proc = torchrig("env", "create", "offline", "--backend", "cpu", extra_env={"PIP_RETRIES": "0"})
    assert proc.returncode == 1, proc.stderr
    message = one_sentence(proc.stderr.split("ok  create the venv", 1)[1])
    assert f"the index http://127.0.0.1:{port}/cpu cannot be reached from here" in message
    assert "torchrig mirror use NAME --for torch" in message
    assert not (envs / "offline").exists()
