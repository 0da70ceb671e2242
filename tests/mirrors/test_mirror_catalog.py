"""The catalog: shipped facts with sources, the user's additions, and URL validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchrig._core.errors import UserError
from torchrig.mirrors.catalog import adhoc_mirror, load_catalog, validate_url


def test_every_shipped_mirror_names_its_source_and_date_and_uses_https() -> None:
    cat = load_catalog()
    for m in cat.mirrors:
        assert m.source and len(m.as_of) == 7, m.name
        assert all(u.startswith("https://") for u in m.urls.values()), m.name
        assert not m.insecure
    assert cat.as_of and cat.sources


def test_the_catalog_knows_which_mirror_serves_what() -> None:
    cat = load_catalog()
    assert cat.get("tuna").targets == ("pip", "uv", "conda")
    assert cat.get("nju").pytorch_format == "simple" and cat.get("aliyun").pytorch_format == "flat"
    assert [m.name for m in cat.serving("hf")] == ["huggingface", "hf-mirror"]
    assert cat.get("cernet").redirector
    for name in ("tuna", "bfsu", "sjtu", "nju", "aliyun", "tencent", "huawei", "cernet"):
        assert cat.get(name).serves("pip")
    assert set(cat.probe_specs) == {"pypi", "conda_forge", "pytorch", "hf"}


def test_user_mirrors_come_from_xdg_config_home_and_may_override(sandbox_home: Path, monkeypatch) -> None:
    xdg = sandbox_home / "elsewhere"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    (xdg / "torchrig").mkdir(parents=True)
    (xdg / "torchrig" / "mirrors.toml").write_text(
        '[mirror.acme]\npypi = "https://pypi.acme.example/simple"\n'
        '[mirror.tuna]\ntitle = "TUNA via the campus proxy"\npypi = "https://tuna-proxy.campus.example/simple"\n'
    )
    cat = load_catalog()
    assert cat.get("acme").url_for("uv") == "https://pypi.acme.example/simple"
    assert cat.get("tuna").url_for("pip") == "https://tuna-proxy.campus.example/simple"
    assert cat.get("acme").origin == str(xdg / "torchrig" / "mirrors.toml")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[mirror.acme\n", "is not valid TOML"),
        ('[mirror.acme]\npypy = "https://x/simple"\n', "unknown keys ['pypy']"),
        ("[mirror.acme]\ntitle = 'nothing'\n", "serves nothing"),
        ('[mirror.ACME]\npypi = "https://x/simple"\n', "must be lower-case"),
        ('[mirror.acme]\npypi = "https://x/simple`id`"\n', "characters a mirror URL never has"),
        ('[mirror.acme]\npytorch = "https://x/whl"\npytorch_format = "wheelhouse"\n', 'must be "simple" or "flat"'),
    ],
)
def test_a_bad_user_file_is_one_sentence(sandbox_home: Path, text: str, message: str) -> None:
    path = sandbox_home / ".config" / "torchrig" / "mirrors.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(UserError, match=None) as info:
        load_catalog()
    assert message in str(info.value)


def test_plain_http_in_the_user_file_is_loaded_but_marked_insecure(sandbox_home: Path) -> None:
    path = sandbox_home / ".config" / "torchrig" / "mirrors.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[mirror.lan]\npypi = "http://10.0.0.5:8080/simple"\n')
    assert load_catalog().get("lan").insecure


def test_an_upper_case_http_scheme_is_just_as_insecure(sandbox_home: Path) -> None:
    path = sandbox_home / ".config" / "torchrig" / "mirrors.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[mirror.lan]\npypi = "HTTP://10.0.0.5:8080/simple"\n')
    assert load_catalog().get("lan").insecure
    assert adhoc_mirror("HTTP://pypi.corp.lan/simple", "pip", allow_insecure=True).insecure
    with pytest.raises(UserError, match="plain http"):
        adhoc_mirror("HTTP://pypi.corp.lan/simple", "pip", allow_insecure=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example/simple\n",
        "https://a.example/ simple",
        'https://a.example/"',
        "https://a.example/$HOME",
        "https://a.example/#frag",
        "https://a.example;rm",
        "//a.example/simple",
        "https://:99/x",
        "https://a.example:99999/",
    ],
)
def test_validate_url_rejects_anything_that_could_escape_a_config_value(url: str) -> None:
    with pytest.raises(UserError):
        validate_url(url)


def test_validate_url_accepts_ports_paths_and_credentials_and_gates_http() -> None:
    assert validate_url("https://user:tok@pypi.corp.example:8443/repository/pypi/simple/")
    with pytest.raises(UserError, match="plain http"):
        validate_url("http://pypi.corp.example/simple")
    assert validate_url("http://pypi.corp.example/simple", allow_insecure=True)
