"""Fixtures for the mirror tests: a fake network of mirrors, and a user catalog pointing at them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch):
    """A fake network (httpx.MockTransport and a fake clock) installed as torchrig's HTTP seam."""
    from fake_mirror import FakeNetwork

    from torchrig._core.seams import http

    net = FakeNetwork()
    monkeypatch.setattr(http, "TRANSPORT", net.transport)
    monkeypatch.setattr(http, "monotonic", net.clock)
    return net


@pytest.fixture
def user_catalog(sandbox_home: Path):
    """Write $XDG_CONFIG_HOME/torchrig/mirrors.toml from fake mirror tables and return the loaded catalog."""
    from torchrig.mirrors.catalog import load_catalog, user_mirrors_file

    def write(text: str):
        path = user_mirrors_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return load_catalog()

    return write


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run `torchrig ...` in-process through the real entry point; returns (exit code, stdout, stderr)."""
    from torchrig.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["torchrig", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return run
