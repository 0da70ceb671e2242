"""The HTTP seam: every request torchrig makes goes through a client built here.

    >>> with client(timeout=8.0) as http:                       # the real network
    ...     http.get("https://pypi.org/simple/torch/").status_code
    200
    >>> fake = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    >>> with client(timeout=8.0, transport=fake) as http:       # a test: no socket is opened
    ...     http.get("https://mirror.example/simple/").text
    'ok'

httpx draws the line itself: a :class:`httpx.BaseTransport` takes a request and returns a response,
and everything above it (timeouts, headers, redirects, streaming) is the client's. Tests hand in
:class:`httpx.MockTransport`; the real transport is httpx's default. Redirects are never followed
here: the mirror probe follows them by hand to see every hop.
"""

from __future__ import annotations

import httpx


def client(
    *,
    timeout: float,
    connect_timeout: float = 4.0,
    connections: int = 16,
    user_agent: str = "torchrig",
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client with per-phase timeouts, a connection pool of ``connections``, and no redirects."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, connect_timeout)),
        limits=httpx.Limits(max_connections=2 * connections, max_keepalive_connections=connections),
        headers={"User-Agent": user_agent},
        follow_redirects=False,
        transport=transport,
    )
