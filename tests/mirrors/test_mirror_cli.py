"""`torchrig mirror` end to end, on realistic commented config files in a sandboxed home."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from torchrig.mirrors import torch_index_base


@pytest.fixture
def home(sandbox_home: Path, fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with the user's own pip.conf, .condarc, uv.toml and .bashrc, as someone would have them."""
    monkeypatch.setenv("SHELL", "/bin/bash")
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    monkeypatch.chdir(sandbox_home)
    (sandbox_home / ".config" / "pip").mkdir(parents=True)
    (sandbox_home / ".config" / "uv").mkdir(parents=True)
    shutil.copy(fixtures / "pip.conf", sandbox_home / ".config" / "pip" / "pip.conf")
    shutil.copy(fixtures / "uv.toml", sandbox_home / ".config" / "uv" / "uv.toml")
    shutil.copy(fixtures / "condarc", sandbox_home / ".condarc")
    (sandbox_home / ".bashrc").write_text("# ~/.bashrc\nexport PATH=\"$HOME/bin:$PATH\"\nalias ll='ls -l'\n")
    return sandbox_home


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under the home except torchrig's own journal."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".local/state/torchrig" not in str(p)
    }


def journal_lines(home: Path) -> int:
    f = home / ".local" / "state" / "torchrig" / "mirror" / "journal.jsonl"
    return len(f.read_text().splitlines()) if f.exists() else 0


def test_use_then_restore_is_byte_identical_and_rerunning_use_changes_nothing(home: Path, cli) -> None:
    before = snapshot(home)
    code, out, err = cli("mirror", "use", "nju", "--for", "pip,uv,conda,torch")
    assert code == 0, err
    after = snapshot(home)
    assert "https://mirror.nju.edu.cn/pypi/web/simple" in after[".config/pip/pip.conf"].decode()
    assert 'url = "https://mirror.nju.edu.cn/pypi/web/simple"' in after[".config/uv/uv.toml"].decode()
    assert "conda-forge: https://mirror.nju.edu.cn/anaconda/cloud" in after[".condarc"].decode()
    assert torch_index_base() == "https://mirrors.nju.edu.cn/pytorch/whl"
    for name in (".config/pip/pip.conf", ".config/uv/uv.toml", ".condarc"):
        assert before[name].decode().splitlines()[0] == after[name].decode().splitlines()[0]  # comments survive
    entries = journal_lines(home)

    code, out, _ = cli("mirror", "use", "nju", "--for", "pip,uv,conda,torch")
    assert code == 0 and out.count("nothing changed") == 4
    assert snapshot(home) == after and journal_lines(home) == entries

    code, out, err = cli("mirror", "restore")
    assert code == 0, err
    assert snapshot(home) == before  # and config.toml, which did not exist, is gone again
    assert torch_index_base() is None


def test_dry_run_prints_a_diff_per_file_and_writes_nothing(home: Path, cli) -> None:
    before = snapshot(home)
    code, out, _ = cli("mirror", "use", "tuna", "--dry-run")
    assert code == 0
    assert snapshot(home) == before and journal_lines(home) == 0
    for name in (".config/pip/pip.conf", ".config/uv/uv.toml", ".condarc"):
        assert f"--- {home / name}\n+++ {home / name}\n" in out
    assert "-index-url = https://pypi.org/simple\n+index-url = https://pypi.tuna.tsinghua.edu.cn/simple\n" in out
    assert "-  - defaults\n" in out


def test_a_config_that_does_not_parse_is_left_untouched_and_nothing_else_is_written(home: Path, cli) -> None:
    broken = home / ".condarc"
    broken.write_text("channels:\n  - conda-forge\n bad: [indent\n")
    before = snapshot(home)
    code, _out, err = cli("mirror", "use", "tuna")
    assert code == 2
    # main() prints through rich, which wraps at 80 columns when not on a terminal: compare the words
    assert " ".join(err.split()) == f"torchrig: {broken} is not valid YAML at line 3; torchrig left it untouched."
    assert snapshot(home) == before  # not even pip.conf, which parses, was changed


def test_broken_file_exits_non_zero_without_a_traceback_in_a_real_process(home: Path) -> None:
    (home / ".config" / "pip" / "pip.conf").write_text("[global\nindex-url = x\n")
    proc = subprocess.run(
        [sys.executable, "-m", "torchrig", "mirror", "use", "tuna", "--for", "pip"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())
    assert message.startswith(f"torchrig: {home / '.config/pip/pip.conf'} is not a valid pip config file")
    assert message.endswith("torchrig left it untouched.") and message.count(". ") == 0


def test_hf_block_needs_approval_and_restores_byte_identical(home: Path, cli) -> None:
    rc = home / ".bashrc"
    original = rc.read_bytes()
    code, _, err = cli("mirror", "use", "hf-mirror")
    assert code == 0 and rc.read_bytes() == original  # not approved (no --yes, no terminal)
    assert "export HF_ENDPOINT='https://hf-mirror.com'" in err
    code, _, err = cli("mirror", "use", "hf-mirror", "--yes")
    assert code == 0
    assert "export HF_ENDPOINT='https://hf-mirror.com'\n# <<< torchrig mirror: HF_ENDPOINT <<<\n" in rc.read_text()
    assert "this shell has HF_ENDPOINT=(unset)" in err  # the running shell does not have it yet
    cli("mirror", "restore", "--for", "hf")
    assert rc.read_bytes() == original


def test_hf_endpoint_in_a_conda_env_goes_to_its_env_vars(home: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = home / "miniforge3" / "envs" / "train"
    (prefix / "conda-meta").mkdir(parents=True)
    monkeypatch.setenv("CONDA_PREFIX", str(prefix))
    code, _, err = cli("mirror", "use", "hf-mirror", "--scope", "env")
    assert code == 0, err
    state = json.loads((prefix / "conda-meta" / "state").read_text())
    assert state == {"env_vars": {"HF_ENDPOINT": "https://hf-mirror.com"}}
    cli("mirror", "restore", "--for", "hf")
    assert not (prefix / "conda-meta" / "state").exists()


def test_a_symlinked_condarc_stays_a_symlink(home: Path, cli) -> None:
    dotfiles = home / "dotfiles"
    dotfiles.mkdir()
    (home / ".condarc").rename(dotfiles / "condarc")
    (home / ".condarc").symlink_to(dotfiles / "condarc")
    original = (dotfiles / "condarc").read_bytes()
    assert cli("mirror", "use", "tuna", "--for", "conda")[0] == 0
    assert (home / ".condarc").is_symlink() and b"mirrors.tuna" in (dotfiles / "condarc").read_bytes()
    assert cli("mirror", "restore")[0] == 0
    assert (home / ".condarc").is_symlink() and (dotfiles / "condarc").read_bytes() == original


def test_restore_refuses_after_a_hand_edit_and_force_overrides(home: Path, cli) -> None:
    pip = home / ".config" / "pip" / "pip.conf"
    original = pip.read_bytes()
    cli("mirror", "use", "tuna", "--for", "pip")
    pip.write_text(pip.read_text() + "\n[list]\nformat = columns\n")
    code, _, err = cli("mirror", "restore", "--for", "pip")
    err = " ".join(err.split())
    assert code == 2 and "was edited after torchrig changed it" in err and "--force" in err
    assert b"[list]" in pip.read_bytes()
    assert cli("mirror", "restore", "--for", "pip", "--force")[0] == 0
    assert pip.read_bytes() == original


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://pypi.corp.lan/simple", "plain http"),
        ("https://evil.example/simple$(touch /tmp/pwned)", "characters a mirror URL never has"),
        ("https://evil.example/simple\n[global]\ntrusted-host = evil.example", "characters a mirror URL never has"),
        ("https://a.example/simple'; rm -rf ~; '", "characters a mirror URL never has"),
        ("ftp://a.example/simple", "not an http(s) URL"),
    ],
)
def test_user_supplied_urls_are_validated(home: Path, cli, url: str, message: str) -> None:
    before = snapshot(home)
    code, _, err = cli("mirror", "use", url, "--for", "pip")
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err
    assert snapshot(home) == before


def test_plain_http_with_allow_insecure_gets_trusted_host(home: Path, cli) -> None:
    assert cli("mirror", "use", "http://pypi.corp.lan/simple", "--for", "pip", "--allow-insecure")[0] == 0
    text = (home / ".config" / "pip" / "pip.conf").read_text()
    assert "index-url = http://pypi.corp.lan/simple\n" in text and "trusted-host = pypi.corp.lan\n" in text


def test_use_warns_about_environment_overrides_and_show_explains_them(home: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.org/simple")
    monkeypatch.setenv("UV_DEFAULT_INDEX", "https://pypi.org/simple")
    code, _, err = cli("mirror", "use", "tuna", "--for", "pip,uv")
    assert code == 0
    pip_file = home / ".config" / "pip" / "pip.conf"
    assert f"warning: PIP_INDEX_URL overrides {pip_file} [global]: pip uses https://pypi.org/simple" in err
    assert f"warning: UV_DEFAULT_INDEX overrides {home / '.config/uv/uv.toml'}" in err
    code, out, _ = cli("mirror", "show", "--json")
    tools = {t["tool"]: t for t in json.loads(out)["tools"]}
    assert tools["pip"]["source"] == "PIP_INDEX_URL" and tools["uv"]["source"] == "UV_DEFAULT_INDEX"
    assert any(lay["value"] == "https://pypi.tuna.tsinghua.edu.cn/simple" for lay in tools["pip"]["layers"])


def test_show_names_a_venv_pip_conf_and_another_condarc(home: Path, cli, monkeypatch) -> None:
    venv = home / "venvs" / "train"
    venv.mkdir(parents=True)
    (venv / "pip.conf").write_text("[global]\nindex-url = https://mirrors.aliyun.com/pypi/simple\n")
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    other = home / "team.condarc"
    other.write_text("custom_channels:\n  conda-forge: https://mirrors.bfsu.edu.cn/anaconda/cloud\n")
    monkeypatch.setenv("CONDARC", str(other))
    cli("mirror", "use", "tuna", "--for", "pip,conda")
    code, out, _ = cli("mirror", "show")
    assert code == 0
    assert f"pip: https://mirrors.aliyun.com/pypi/simple\n  from {venv / 'pip.conf'} [global]" in out
    assert f"conda: https://mirrors.bfsu.edu.cn/anaconda/cloud/conda-forge\n  from {other} [custom_channels]" in out
    assert f"overrides {home / '.condarc'}" in out


def test_scopes_each_tool_cannot_hold_are_refused_or_skipped(home: Path, cli, monkeypatch) -> None:
    code, _, err = cli("mirror", "use", "tuna", "--for", "pip", "--scope", "project")
    assert code == 2 and "pip has no project-scope setting" in err
    code, _out, err = cli("mirror", "use", "tuna", "--scope", "project")
    assert code == 0 and "left pip alone" in err and "left conda alone" in err
    assert (
        home / "uv.toml"
    ).read_text() == '[[index]]\nurl = "https://pypi.tuna.tsinghua.edu.cn/simple"\ndefault = true\n'


def test_a_mirror_that_does_not_serve_a_target_says_who_does(home: Path, cli) -> None:
    code, _, err = cli("mirror", "use", "tuna", "--for", "torch")
    err = " ".join(err.split())
    assert code == 2 and "tuna does not serve torch; mirrors that do: pytorch, sjtu, nju, aliyun." in err
    code, _, err = cli("mirror", "use", "aliyun", "--for", "torch")
    assert code == 2 and "flat page" in err


def test_list_includes_the_users_own_mirrors(home: Path, cli) -> None:
    cfg = home / ".config" / "torchrig" / "mirrors.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('[mirror.acme]\ntitle = "ACME internal"\npypi = "https://pypi.acme.example/simple"\n')
    _code, out, _ = cli("mirror", "list", "--json")
    data = json.loads(out)
    names = [m["name"] for m in data["mirrors"]]
    assert {"tuna", "bfsu", "sjtu", "nju", "aliyun", "tencent", "huawei", "cernet", "pypi", "hf-mirror", "acme"} <= set(
        names
    )
    acme = next(m for m in data["mirrors"] if m["name"] == "acme")
    assert acme["targets"] == {"pip": "https://pypi.acme.example/simple", "uv": "https://pypi.acme.example/simple"}
    assert acme["origin"] == str(cfg)
    assert all(m["source"] and m["as_of"] for m in data["mirrors"] if m["origin"] == "catalog")


def test_probe_json_and_use_fastest_against_local_mirrors(home: Path, cli, network) -> None:
    with network.mirror(delay=0.6) as slow, network.mirror(delay=0.0) as fast:
        cfg = home / ".config" / "torchrig" / "mirrors.toml"
        cfg.parent.mkdir(parents=True)
        cfg.write_text(slow.toml("slow", services=("pypi",)) + fast.toml("fast", services=("pypi",)))
        code, _, err = cli("mirror", "probe", "slow", "fast", "--for", "pip")
        assert code == 2 and "plain http" in err  # insecure mirrors need the opt-in, even to probe
        code, out, _ = cli("mirror", "probe", "slow", "fast", "--for", "pip", "--json", "--allow-insecure")
        assert code == 0
        ranked = [r["mirror"] for r in json.loads(out)["results"]]
        assert ranked == ["fast", "slow"]
        code, _, err = cli("mirror", "use", "fastest", "--among", "slow,fast", "--for", "pip", "--allow-insecure")
        assert code == 0, err
        assert f"index-url = {fast.url('pypi')}\n" in (home / ".config" / "pip" / "pip.conf").read_text()
        assert "fastest for pip: fast" in err


def test_restore_dry_run_shows_the_way_back_and_writes_nothing(home: Path, cli) -> None:
    code, out, _ = cli("mirror", "restore")
    assert code == 0 and out.startswith("nothing to restore")
    cli("mirror", "use", "bfsu", "--for", "uv")
    after = snapshot(home)
    code, out, _ = cli("mirror", "restore", "--dry-run")
    uv = home / ".config" / "uv" / "uv.toml"
    assert (
        code == 0 and f"--- {uv}\n+++ {uv}\n" in out and '-url = "https://mirrors.bfsu.edu.cn/pypi/web/simple"' in out
    )
    assert snapshot(home) == after


def test_env_scope_writes_the_active_environments_files(home: Path, cli, monkeypatch) -> None:
    venv = home / "venvs" / "train"
    venv.mkdir(parents=True)
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    user_pip = (home / ".config" / "pip" / "pip.conf").read_bytes()
    code, _, err = cli("mirror", "use", "bfsu", "--scope", "env", "--for", "pip")
    assert code == 0, err
    assert (venv / "pip.conf").read_text() == "[global]\nindex-url = https://mirrors.bfsu.edu.cn/pypi/web/simple\n"
    assert (home / ".config" / "pip" / "pip.conf").read_bytes() == user_pip
    monkeypatch.delenv("VIRTUAL_ENV")
    code, _, err = cli("mirror", "use", "bfsu", "--scope", "env", "--for", "conda")
    assert code == 2 and "CONDA_PREFIX is not set" in " ".join(err.split())


def test_probe_covers_every_service_a_mirror_serves(home: Path, cli, network) -> None:
    with network.mirror() as m:
        cfg = home / ".config" / "torchrig" / "mirrors.toml"
        cfg.parent.mkdir(parents=True)
        cfg.write_text(m.toml("local"))
        code, out, _ = cli("mirror", "probe", "local", "--json", "--allow-insecure")
    results = json.loads(out)["results"]
    assert code == 0 and sorted(r["service"] for r in results) == ["conda_forge", "hf", "pypi", "pytorch"]
    assert all(r["error"] is None and r["bytes_read"] > 0 for r in results)
    assert all(r["bytes_read"] <= 1 << 20 for r in results)  # capped range reads, never a whole file


def test_a_read_only_config_file_is_refused_and_nothing_is_written(home: Path, cli) -> None:
    pip_conf = home / ".config" / "pip" / "pip.conf"
    pip_conf.chmod(0o444)
    before = snapshot(home)
    code, _, err = cli("mirror", "use", "nju", "--for", "uv,pip")
    assert code == 2, err
    message = " ".join(err.split())
    assert message == (
        f"torchrig: {pip_conf} is read-only (mode 0444), so torchrig changed nothing; make it writable "
        "(chmod u+w) or pass --force to rewrite it anyway."
    )
    assert snapshot(home) == before and journal_lines(home) == 0  # uv.toml untouched too

    code, _, err = cli("mirror", "use", "nju", "--for", "uv,pip", "--force")
    assert code == 0, err
    assert "mirror.nju.edu.cn" in pip_conf.read_text()
    assert pip_conf.stat().st_mode & 0o777 == 0o444  # still read-only, as its owner wanted
    cli("mirror", "restore")
    assert snapshot(home) == before


def test_dry_run_says_a_read_only_file_would_be_refused(home: Path, cli) -> None:
    (home / ".condarc").chmod(0o400)
    code, out, err = cli("mirror", "use", "nju", "--for", "conda", "--dry-run")
    assert code == 0 and "+++" in out
    assert f"warning: {home / '.condarc'} is read-only; a real run refuses it unless --force." in err


def test_a_file_where_the_config_folder_should_be_is_one_sentence(home: Path, cli) -> None:
    shutil.rmtree(home / ".config" / "pip")
    (home / ".config" / "pip").write_text("not a folder\n")
    before = snapshot(home)
    code, _, err = cli("mirror", "use", "nju", "--for", "pip")
    assert code == 2 and "internal error" not in err, err
    message = " ".join(err.split())
    assert message.startswith(f"torchrig: {home / '.config' / 'pip'} is a file, but pip's settings go in ")
    assert message.endswith("move the file aside and run the command again (torchrig changed nothing).")
    assert snapshot(home) == before
    code, _, err = cli("mirror", "show")
    assert code == 0, err


def test_restore_after_the_user_put_the_bytes_back_says_nothing_to_do(home: Path, cli) -> None:
    pip = home / ".config" / "pip" / "pip.conf"
    original = pip.read_bytes()
    cli("mirror", "use", "tuna", "--for", "pip")
    pip.write_bytes(original)
    code, out, err = cli("mirror", "restore", "--for", "pip")
    assert code == 0, err
    assert " ".join(out.split()) == (
        f"pip: {pip} already holds its bytes from before torchrig's change; nothing to do."
    )
    cli("mirror", "use", "nju", "--for", "pip")  # and the next use/restore pair works as ever
    assert cli("mirror", "restore", "--for", "pip")[0] == 0 and pip.read_bytes() == original


def test_the_catalog_footer_shows_the_table_name_literally(home: Path, cli) -> None:
    code, out, _ = cli("mirror", "list", "--for", "hf")
    assert code == 0 and "([mirror.NAME] tables, same keys)" in " ".join(out.split())


@pytest.mark.parametrize("command", [("probe",), ("use", "fastest")])
@pytest.mark.parametrize("value", ["0.1", "61"])
def test_a_timeout_out_of_range_is_one_sentence(home: Path, cli, command: tuple[str, ...], value: str) -> None:
    before = snapshot(home)
    code, _, err = cli("mirror", *command, "--timeout", value)
    assert code == 2
    assert " ".join(err.split()) == f"torchrig: --timeout takes 0.5 to 60 seconds (each mirror's share), not {value}."
    assert snapshot(home) == before
