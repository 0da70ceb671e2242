"""`show` follows each tool's own precedence and names whatever beats torchrig's setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchrig._core.seams import Root
from torchrig.mirrors.show import resolve

TUNA = "https://pypi.tuna.tsinghua.edu.cn/simple"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def env(sandbox_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for var in (
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "UV_NO_CONFIG",
        "UV_CONFIG_FILE",
        "XDG_CONFIG_DIRS",
        "CONDA_CHANNEL_ALIAS",
    ):
        monkeypatch.delenv(var, raising=False)
    project = tmp_path / "project"
    project.mkdir()
    machine = Root(tmp_path / "machine")  # stands in for /etc
    return sandbox_home, project, machine


def view(tool: str, env, **kw):
    _home, project, machine = env
    return resolve((tool,), root=machine, cwd=project, **kw)[0]


def test_pip_user_file_beats_etc_and_the_venv_beats_the_user(env, monkeypatch) -> None:
    home, _, machine = env
    write(machine.path("/etc/pip.conf"), "[global]\nindex-url = https://etc.example/simple\n")
    assert view("pip", env).value == "https://etc.example/simple"
    user = write(home / ".config/pip/pip.conf", f"[global]\nindex-url = {TUNA}\n")
    assert view("pip", env).value == TUNA
    venv = write(home / "venv/pip.conf", "[global]\nindex-url = https://venv.example/simple\n").parent
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    v = view("pip", env, ours={"pip": user})
    assert v.value == "https://venv.example/simple" and v.source == f"{venv / 'pip.conf'} [global]"
    assert v.warnings[0] == f"{v.source} overrides {user} [global]: pip uses https://venv.example/simple, not {TUNA}."


def test_pip_config_file_wins_and_hides_the_user_files(env, monkeypatch) -> None:
    home, _, _ = env
    write(home / ".config/pip/pip.conf", f"[global]\nindex-url = {TUNA}\n")
    site = write(home / "cluster-pip.conf", "[global]\ntimeout = 30\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(site))
    v = view("pip", env)
    assert v.value == "https://pypi.org/simple" and v.source == "default"  # the user's file is not even read
    assert any("skips your user pip.conf" in lay.note for lay in v.layers)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    assert view("pip", env).layers[0].note.startswith("set to /dev/null")


def test_pip_install_section_beats_global_and_trusted_host_is_called_out(env) -> None:
    home, _, _ = env
    write(
        home / ".config/pip/pip.conf",
        f"[global]\nindex-url = {TUNA}\ntrusted-host = pypi.tuna.tsinghua.edu.cn\n[install]\nindex-url = https://i/simple\n",
    )
    v = view("pip", env)
    assert v.value == "https://i/simple" and v.source.endswith("[install]")
    assert any("trusted-host" in w and "certificate" in w for w in v.warnings)


def test_uv_environment_and_project_layers(env, monkeypatch) -> None:
    home, project, _ = env
    user = write(home / ".config/uv/uv.toml", f'[[index]]\nurl = "{TUNA}"\ndefault = true\n')
    assert view("uv", env).value == TUNA
    write(project / "pyproject.toml", '[project]\nname = "x"\n')
    assert view("uv", env).value == TUNA  # no [tool.uv]: uv skips the file
    write(
        project / "pyproject.toml",
        '[project]\nname = "x"\n[[tool.uv.index]]\nurl = "https://proj/simple"\ndefault = true\n',
    )
    v = view("uv", env, ours={"uv": user})
    assert v.value == "https://proj/simple" and v.source == f"{project / 'pyproject.toml'} [tool.uv]"
    monkeypatch.setenv("UV_INDEX_URL", "https://deprecated/simple")
    assert view("uv", env).source == "UV_INDEX_URL"
    monkeypatch.setenv("UV_DEFAULT_INDEX", "https://env/simple")
    monkeypatch.setenv("PIP_INDEX_URL", "https://pip-only/simple")
    v = view("uv", env, ours={"uv": user})
    assert v.value == "https://env/simple" and any(lay.note == "uv ignores pip's settings" for lay in v.layers)
    assert v.warnings[0].startswith("UV_DEFAULT_INDEX overrides")


def test_conda_custom_channel_beats_a_later_alias_and_condarc_env_var_is_last(env, monkeypatch) -> None:
    home, _, machine = env
    write(machine.path("/etc/conda/.condarc"), "channel_alias: https://mirrors.x.edu.cn/anaconda/cloud\n")
    user = write(
        home / ".condarc", "custom_channels:\n  conda-forge: https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud\n"
    )
    v = view("conda", env, ours={"conda": user})
    assert v.value == "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge"
    assert any("channel_alias" in w and "404" in w for w in v.warnings)
    team = write(
        home / "team.condarc",
        "mirrored_channels:\n  conda-forge: [https://prefix.dev/conda-forge]\n"
        "custom_channels:\n  conda-forge: https://mirrors.bfsu.edu.cn/anaconda/cloud\n",
    )
    monkeypatch.setenv("CONDARC", str(team))
    v = view("conda", env, ours={"conda": user})
    assert v.value == "https://mirrors.bfsu.edu.cn/anaconda/cloud/conda-forge"
    assert v.warnings[0].startswith(f"{team} [custom_channels] overrides {user}")
    assert any("mirrored_channels" in w for w in v.warnings)


def test_hf_shell_block_versus_the_running_shell(env, monkeypatch) -> None:
    home, _, _ = env
    monkeypatch.setenv("SHELL", "/usr/bin/zsh")
    monkeypatch.delenv("ZDOTDIR", raising=False)
    write(
        home / ".zshrc",
        "# >>> torchrig mirror: HF_ENDPOINT >>>\nexport HF_ENDPOINT='https://hf-mirror.com'\n"
        "# <<< torchrig mirror: HF_ENDPOINT <<<\n",
    )
    v = view("hf", env)
    assert v.value == "https://huggingface.co" and any("open a new shell" in w for w in v.warnings)
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.com")
    v = view("hf", env)
    assert v.value == "https://hf-mirror.com" and not any("new shell" in w for w in v.warnings)
    assert any("HF_HUB_DISABLE_XET" in w for w in v.warnings)


def test_an_unparseable_file_is_reported_not_fatal(env) -> None:
    home, _, _ = env
    write(home / ".condarc", "channels: [oops\n")
    v = view("conda", env)
    assert v.value == "https://conda.anaconda.org/conda-forge"
    assert v.warnings == (f"{home / '.condarc'} is not valid YAML at line 2.",)
