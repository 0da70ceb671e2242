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

A fake network needs a fake clock, or latencies are measured on the test machine's scheduler: so the
seam also owns the time that requests are timed with (:func:`monotonic`). Tests replace both module
attributes, :data:`TRANSPORT` and :data:`monotonic`, for the duration of a test.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

TRANSPORT: httpx.BaseTransport | None = None  # None: httpx's own, the network
monotonic: Callable[[], float] = time.monotonic  # the clock requests are timed and bounded with


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
        transport=transport or TRANSPORT,
    )
