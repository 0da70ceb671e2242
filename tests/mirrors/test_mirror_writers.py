"""Each writer changes only the lines it must: comments, order and unrelated keys survive, re-runs are no-ops."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from torchrig._core.errors import UserError
from torchrig.mirrors import condarc, hf_endpoint, pip_conf, torch_index, uv_toml

TUNA = "https://pypi.tuna.tsinghua.edu.cn/simple"
TUNA_CONDA = "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud"


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed, added) lines of a diff, without the markers."""
    removed, added = [], []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0):
        if line.startswith(("---", "+++", "@@")):
            continue
        (removed if line.startswith("-") else added).append(line[1:])
    return removed, added


# --- pip.conf ----------------------------------------------------------------------------------


def test_pip_conf_changes_only_the_index_url_line(fixtures: Path) -> None:
    path = fixtures / "pip.conf"
    before = path.read_text()
    after, warnings = pip_conf.set_index(before, TUNA, path)
    assert changed_lines(before, after) == (["index-url = https://pypi.org/simple"], [f"index-url = {TUNA}"])
    assert warnings == []
    assert pip_conf.set_index(after, TUNA, path)[0] == after  # a re-run changes nothing


def test_pip_conf_never_adds_trusted_host_for_https_and_warns_about_one_already_there(tmp_path: Path) -> None:
    path = tmp_path / "pip.conf"
    text = "[global]\n# legacy from a blog post\ntrusted-host = pypi.tuna.tsinghua.edu.cn\n"
    after, warnings = pip_conf.set_index(text, TUNA, path)
    assert after.count("trusted-host") == 1 and "trusted-host" not in changed_lines(text, after)[1][0]
    assert len(warnings) == 1 and "turns off certificate checks" in warnings[0]
    fresh, _ = pip_conf.set_index(None, TUNA, path)
    assert "trusted" not in fresh


def test_pip_conf_adds_trusted_host_only_for_an_allowed_plain_http_mirror(tmp_path: Path) -> None:
    after, _ = pip_conf.set_index("[global]\ntimeout = 5\n", "http://pypi.corp.lan/simple", tmp_path / "pip.conf")
    assert after == "[global]\ntimeout = 5\nindex-url = http://pypi.corp.lan/simple\ntrusted-host = pypi.corp.lan\n"
    assert pip_conf.set_index(after, "http://pypi.corp.lan/simple", tmp_path / "pip.conf")[0] == after


def test_pip_conf_adds_trusted_host_for_an_upper_case_http_scheme_too(tmp_path: Path) -> None:
    after, _ = pip_conf.set_index("[global]\n", "HTTP://pypi.corp.lan/simple", tmp_path / "pip.conf")
    assert after == "[global]\nindex-url = HTTP://pypi.corp.lan/simple\ntrusted-host = pypi.corp.lan\n"


def test_pip_conf_updates_an_underscore_key_in_place_and_puts_a_new_global_first(tmp_path: Path) -> None:
    path = tmp_path / "pip.conf"
    after, _ = pip_conf.set_index("[global]\nindex_url = https://old/simple\n", TUNA, path)
    assert after == f"[global]\nindex_url = {TUNA}\n"
    after, _ = pip_conf.set_index("# mine\n[install]\nuser = true\n", TUNA, path)
    assert after.index("[global]") < after.index("[install]") and after.startswith("# mine\n")


def test_pip_conf_warns_when_install_section_overrides_global(tmp_path: Path) -> None:
    _, warnings = pip_conf.set_index("[install]\nindex-url = https://other/simple\n", TUNA, tmp_path / "pip.conf")
    assert any("[install] index-url" in w for w in warnings)


def test_an_unparseable_pip_conf_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"pip.conf is not a valid pip config file .*left it untouched\.$"):
        pip_conf.set_index("index-url = https://x/simple\n[global\n", TUNA, tmp_path / "pip.conf")


# --- .condarc ----------------------------------------------------------------------------------


def test_condarc_moves_conda_forge_drops_defaults_and_keeps_everything_else(fixtures: Path) -> None:
    path = fixtures / "condarc"
    before = path.read_text()
    after, warnings = condarc.set_conda_forge(before, TUNA_CONDA, path)
    removed, added = changed_lines(before, after)
    assert removed == ["  - defaults"]
    assert added == ["custom_channels:", f"  conda-forge: {TUNA_CONDA}"]
    assert "channel_alias: https://conda.anaconda.org" in after  # alias untouched
    assert "  - bioconda   # for the genomics people" in after
    assert any("removed `defaults`" in w for w in warnings)
    assert condarc.set_conda_forge(after, TUNA_CONDA, path)[0] == after


def test_condarc_repoints_an_existing_custom_channel_in_place(tmp_path: Path) -> None:
    text = (
        "channels:\n- conda-forge\n- nvidia\ncustom_channels:\n"
        "  conda-forge: https://mirrors.bfsu.edu.cn/anaconda/cloud  # was bfsu\n"
        "  pytorch: https://mirrors.bfsu.edu.cn/anaconda/cloud\n"
    )
    after, _ = condarc.set_conda_forge(text, TUNA_CONDA, tmp_path / ".condarc")
    removed, added = changed_lines(text, after)
    assert removed == ["  conda-forge: https://mirrors.bfsu.edu.cn/anaconda/cloud  # was bfsu"]
    # the comment stays on its line (ruamel moves it right when the value grows past its column)
    assert len(added) == 1 and added[0].startswith(f"  conda-forge: {TUNA_CONDA} ") and added[0].endswith(" # was bfsu")
    assert "\n- conda-forge\n- nvidia\n" in after  # the zero-offset list style is the user's and stays


def test_condarc_from_nothing_is_the_conda_forge_only_layout(tmp_path: Path) -> None:
    after, _ = condarc.set_conda_forge(None, TUNA_CONDA, tmp_path / ".condarc")
    assert after == f"channels:\n  - conda-forge\ncustom_channels:\n  conda-forge: {TUNA_CONDA}\n"


def test_condarc_warns_about_a_channel_alias_on_a_partial_mirror(tmp_path: Path) -> None:
    _, warnings = condarc.set_conda_forge(
        "channel_alias: https://mirrors.x.edu.cn/anaconda/cloud\n", TUNA_CONDA, tmp_path / ".condarc"
    )
    assert any("channel_alias" in w and "404" in w for w in warnings)


@pytest.mark.parametrize("text", ["channels: [conda-forge\n", "- just\n- a list\n", "channels: conda-forge\n"])
def test_an_unusable_condarc_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(UserError, match=r"torchrig left (it|the file) untouched\.$"):
        condarc.set_conda_forge(text, TUNA_CONDA, tmp_path / ".condarc")


# --- uv.toml -----------------------------------------------------------------------------------


def test_uv_toml_appends_a_default_index_and_keeps_the_explicit_pytorch_one(fixtures: Path) -> None:
    path = fixtures / "uv.toml"
    before = path.read_text()
    after, _ = uv_toml.set_default_index(before, TUNA, path)
    assert after.startswith(before)  # nothing above moves
    assert after[len(before) :] == f'\n[[index]]\nurl = "{TUNA}"\ndefault = true\n'
    assert uv_toml.set_default_index(after, TUNA, path)[0] == after
    bfsu = "https://mirrors.bfsu.edu.cn/pypi/web/simple"
    again, _ = uv_toml.set_default_index(after, bfsu, path)
    assert changed_lines(after, again) == ([f'url = "{TUNA}"'], [f'url = "{bfsu}"'])  # re-pointed, not duplicated
    assert uv_toml.read(again, path).default_index == bfsu


def test_uv_toml_warns_about_the_deprecated_index_url(tmp_path: Path) -> None:
    _, warnings = uv_toml.set_default_index('index-url = "https://old/simple"\n', TUNA, tmp_path / "uv.toml")
    assert any("deprecated index-url" in w for w in warnings)


def test_an_unparseable_uv_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"uv.toml is not valid TOML .*left it untouched\.$"):
        uv_toml.set_default_index("[[index]\nurl = 1\n", TUNA, tmp_path / "uv.toml")


# --- torchrig's [torch] index and HF_ENDPOINT --------------------------------------------------


def test_torch_index_edit_keeps_other_torchrig_settings(tmp_path: Path) -> None:
    text = '# torchrig settings\n[env]\ntool = "uv"  # prefer uv\n'
    after, _ = torch_index.set_index(text, "https://mirrors.nju.edu.cn/pytorch/whl", tmp_path / "config.toml")
    assert after.startswith(text)
    assert torch_index.read(after, tmp_path / "config.toml") == "https://mirrors.nju.edu.cn/pytorch/whl"
    assert torch_index.set_index(after, "https://mirrors.nju.edu.cn/pytorch/whl", tmp_path / "c")[0] == after


def test_torch_index_base_reads_the_contract_file(sandbox_home: Path) -> None:
    assert torch_index.torch_index_base() is None
    cfg = sandbox_home / ".config" / "torchrig" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('[torch]\nindex = "https://mirrors.nju.edu.cn/pytorch/whl/"\n')
    assert torch_index.torch_index_base() == "https://mirrors.nju.edu.cn/pytorch/whl"
    cfg.write_text("[torch\n")
    with pytest.raises(UserError, match="is not valid TOML"):
        torch_index.torch_index_base()


def test_hf_block_is_replaced_not_duplicated_and_quoted_literally() -> None:
    rc = "# my bashrc\nalias ll='ls -l'"
    once = hf_endpoint.set_block(rc, "https://hf-mirror.com", "bash")
    assert once.startswith(rc + "\n\n") and "export HF_ENDPOINT='https://hf-mirror.com'\n" in once
    twice = hf_endpoint.set_block(once, "https://hf.corp.example", "bash")
    assert twice.count(hf_endpoint.BEGIN) == 1 and hf_endpoint.read_block(twice) == "https://hf.corp.example"
    assert hf_endpoint.set_block(once, "https://hf-mirror.com", "bash") == once
    assert "set -gx HF_ENDPOINT 'https://hf-mirror.com'" in hf_endpoint.set_block("", "https://hf-mirror.com", "fish")


def test_hf_conda_env_var_keeps_other_state(tmp_path: Path) -> None:
    state = json.dumps({"env_vars": {"CUDA_HOME": "/usr/local/cuda"}, "other": 1})
    after = hf_endpoint.set_conda_var(state, "https://hf-mirror.com", tmp_path / "state")
    assert json.loads(after) == {
        "env_vars": {"CUDA_HOME": "/usr/local/cuda", "HF_ENDPOINT": "https://hf-mirror.com"},
        "other": 1,
    }
    assert hf_endpoint.set_conda_var(after, "https://hf-mirror.com", tmp_path / "state") == after


@pytest.mark.parametrize(
    "text, removed, added",
    [
        # a file of comments only keeps them (ruamel's dump alone would drop them)
        (
            "# written by the cluster admins\n# ask before changing\n",
            [],
            ["channels:", "  - conda-forge", "custom_channels:", f"  conda-forge: {TUNA_CONDA}"],
        ),
        # odd spacing elsewhere and an explicit document start are not "normalised"
        (
            "---\nssl_verify:   true\nchannels:\n    - defaults   # old\n    - bioconda\n",
            ["    - defaults   # old"],
            ["    - conda-forge", "custom_channels:", f"    conda-forge: {TUNA_CONDA}"],
        ),
        # a quoted key keeps its quotes and its comment
        (
            "custom_channels:\n  'conda-forge': \"https://old/cloud\"   # was old\nchannels:\n  - conda-forge\n",
            ["  'conda-forge': \"https://old/cloud\"   # was old"],
            [f"  'conda-forge': {TUNA_CONDA}   # was old"],
        ),
    ],
)
def test_condarc_edits_touch_only_the_lines_they_must(tmp_path: Path, text: str, removed: list, added: list) -> None:
    after, _ = condarc.set_conda_forge(text, TUNA_CONDA, tmp_path / ".condarc")
    assert changed_lines(text, after) == (removed, added)
    assert condarc.set_conda_forge(after, TUNA_CONDA, tmp_path / ".condarc")[0] == after


def test_condarc_flow_lists_fall_back_to_a_round_trip_that_keeps_keys_and_comments(tmp_path: Path) -> None:
    text = "channels: [conda-forge, defaults]   # flow\nssl_verify: true\n"
    after, _ = condarc.set_conda_forge(text, TUNA_CONDA, tmp_path / ".condarc")
    assert after.startswith("channels: [conda-forge]") and "# flow" in after and "ssl_verify: true\n" in after
    assert condarc.read(after, tmp_path / ".condarc").custom_conda_forge == TUNA_CONDA


def test_a_new_pip_key_joins_its_section_not_the_blank_line_after_it(tmp_path: Path) -> None:
    text = "[global]\ntimeout = 5\n\n[install]\nuser = true\n"
    after, _ = pip_conf.set_index(text, TUNA, tmp_path / "pip.conf")
    assert after == f"[global]\ntimeout = 5\nindex-url = {TUNA}\n\n[install]\nuser = true\n"


@pytest.mark.parametrize(
    "target, text",
    [
        ("pip", "[global]\r\ntimeout = 5\r\n"),
        ("conda", "# a\r\nchannels:\r\n  - defaults\r\n"),
        ("uv", "native-tls = true\r\n"),
    ],
)
def test_a_crlf_file_stays_crlf(tmp_path: Path, target: str, text: str) -> None:
    from torchrig.mirrors.changes import _edit

    url = TUNA_CONDA if target == "conda" else TUNA
    after, _ = _edit(target, tmp_path / "f", text, url)
    assert "\n" not in after.replace("\r\n", "") and after != text
    assert _edit(target, tmp_path / "f", after, url)[0] == after
