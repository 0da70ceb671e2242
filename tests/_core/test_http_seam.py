"""The HTTP seam: one client factory whose transport and clock a test replaces."""

from __future__ import annotations

import httpx
import pytest

from torchrig._core.seams import http


def test_a_client_uses_the_transport_it_is_given_and_never_follows_redirects() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://elsewhere.test/"})

    with http.client(timeout=2.0, transport=httpx.MockTransport(answer), user_agent="t/1") as c:
        response = c.get("https://mirror.test/simple/")
    assert response.status_code == 302 and seen == ["https://mirror.test/simple/"]
    assert response.request.headers["User-Agent"] == "t/1"


def test_the_module_transport_replaces_the_network_for_every_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "TRANSPORT", httpx.MockTransport(lambda request: httpx.Response(200, text="fake")))
    with http.client(timeout=2.0) as c:
        assert c.get("https://pypi.org/simple/").text == "fake"
