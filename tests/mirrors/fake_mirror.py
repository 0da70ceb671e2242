"""Mirrors a test dials misbehaviour into, on a fake network (httpx.MockTransport) with a fake clock.

    def test_x(network, user_catalog):
        with network.mirror(delay=0.2, pip_versions=("25.2", "25.3")) as m:
            m.url("pypi")      # 'http://m1.mirror.test/simple'

The ``network`` fixture installs the fake as torchrig's HTTP seam (:mod:`torchrig._core.seams.http`):
requests never open a socket, and time passes only on the fake clock, per thread, the way it would for
that request alone: ``delay`` seconds before an index page's headers, and ``len(body) / bandwidth``
while its body is read. So a test of "the slower mirror ranks last" or "a mirror past its deadline is
cut off" runs in milliseconds, the same way on a busy CI box as on a quiet laptop.

A mirror serves, like a real one: a PEP 503 page for pip (``/simple/pip/``), PyTorch pages
(``/whl/cpu/torch/`` and the flat ``/whl/torch_stable.html``), conda-forge repodata
(``/conda/conda-forge/noarch/repodata.json``) and a Hugging Face API page and file (``/hf/...``).
Files honour ``Range``. Knobs: ``delay``, ``status`` for index pages, ``redirect_to`` (another
mirror's base: index pages answer 302 there), ``link_base`` (pages link files on another host), stale
version lists, ``last_modified``, ``honour_range``, ``https``. ``served_bytes`` counts body bytes read.

:class:`LocalhostMirror` serves the same routes from a real HTTP server on 127.0.0.1, for the one test
and the benchmark that measure real sockets.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

ARTIFACT_SIZE = 4 << 20
CHUNK = 64 << 10


@dataclass
class Answer:
    status: int
    body: bytes = b""
    file_size: int = 0  # a file of zeros of this size, read lazily (Range honoured)
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Behaviour:
    """What a mirror serves and how it misbehaves (shared by the fake and the localhost mirror)."""

    delay: float = 0.0
    status: int = 200
    pip_versions: tuple[str, ...] = ("25.1", "25.2", "25.3")
    torch_versions: tuple[str, ...] = ("2.12.0", "2.13.0")
    last_modified: float = field(default_factory=time.time)
    redirect_to: str | None = None
    link_base: str | None = None
    hf_file_redirect: str | None = None
    honour_range: bool = True
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    served_bytes: int = 0

    def is_index(self, path: str) -> bool:
        return path.endswith("/") or path.endswith(".html") or path.endswith("repodata.json") or "/api/" in path

    def route(self, path: str) -> Answer:
        """The answer to ``GET path`` (after the index delay, which the caller spends)."""
        if self.is_index(path):
            if self.redirect_to:
                return Answer(302, headers={"Location": self.redirect_to + path})
            if self.status != 200:
                return Answer(self.status, b"error")
        link = (self.link_base or "") + "/packages/"
        if path == "/simple/pip/":
            rows = "".join(
                f'<a href="{link if self.link_base else "../../packages/"}pip-{v}-py3-none-any.whl#sha256=00">'
                f"pip-{v}-py3-none-any.whl</a><br/>\n"
                f'<a href="{link if self.link_base else "../../packages/"}pip-{v}.tar.gz">pip-{v}.tar.gz</a><br/>\n'
                for v in self.pip_versions
            )
            return Answer(200, f"<!DOCTYPE html><html><body><h1>Links for pip</h1>\n{rows}</body></html>".encode())
        if path == "/whl/cpu/torch/":
            rows = "".join(
                f'<a href="{link if self.link_base else "/packages/"}torch-{v}%2Bcpu-cp312-cp312-manylinux_2_28_x86_64.whl">'
                f"torch-{v}+cpu-cp312-cp312-manylinux_2_28_x86_64.whl</a><br/>\n"
                for v in self.torch_versions
            )
            return Answer(200, f"<html><body>{rows}</body></html>".encode())
        if path == "/whl/torch_stable.html":
            rows = "".join(
                f'<a href="cpu/torch-{v}%2Bcpu-cp312-none-linux_x86_64.whl">cpu/torch-{v}</a><br>\n'
                for v in self.torch_versions
            )
            return Answer(200, rows.encode())
        if path.startswith(("/whl/cpu/torch-", "/packages/")):
            return Answer(200, file_size=ARTIFACT_SIZE, content_type="application/octet-stream")
        if path == "/conda/conda-forge/noarch/repodata.json":
            modified = {"Last-Modified": formatdate(self.last_modified, usegmt=True)}
            return Answer(200, file_size=ARTIFACT_SIZE, content_type="application/json", headers=modified)
        if path == "/hf/api/models/openai-community/gpt2":
            return Answer(200, b'{"id": "openai-community/gpt2"}', content_type="application/json")
        if path == "/hf/openai-community/gpt2/resolve/main/model.safetensors":
            if self.hf_file_redirect:
                return Answer(302, headers={"Location": self.hf_file_redirect})
            return Answer(200, file_size=ARTIFACT_SIZE, content_type="application/octet-stream")
        return Answer(404, b"not found")

    def file_range(self, size: int, range_header: str | None) -> tuple[int, int, int, dict[str, str]]:
        """(status, start, length, extra headers) for a file of ``size`` and the request's Range."""
        if range_header and range_header.startswith("bytes=") and self.honour_range:
            a, _, b = range_header[6:].partition("-")
            start, end = int(a or 0), min(int(b) if b else size - 1, size - 1)
            return 206, start, end - start + 1, {"Content-Range": f"bytes {start}-{end}/{size}"}
        return 200, 0, size, {}


def catalog_table(name: str, base: str, services: tuple[str, ...], extra: dict[str, str]) -> str:
    """A [mirror.NAME] table for mirrors.toml pointing at ``base``."""
    paths = {"pypi": "/simple", "pytorch": "/whl", "conda_forge": "/conda", "hf": "/hf"}
    lines = [f"[mirror.{name}]", f'title = "local {name}"']
    lines += [f'{s} = "{base}{paths[s]}"' for s in services]
    lines += [f'{k} = "{v}"' for k, v in extra.items()]
    return "\n".join(lines) + "\n\n"


ALL_SERVICES = ("pypi", "pytorch", "conda_forge", "hf")


class FakeMirror(Behaviour):
    """One mirror on a :class:`FakeNetwork`, at its own host name."""

    def __init__(self, network: FakeNetwork, host: str, https: bool, **behaviour: object) -> None:
        super().__init__(**behaviour)  # type: ignore[arg-type]
        self.network = network
        self.host = host
        self.base = f"{'https' if https else 'http'}://{host}"

    def __enter__(self) -> FakeMirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.network.hosts.pop(self.host, None)

    def url(self, service: str) -> str:
        return self.base + {"pypi": "/simple", "pytorch": "/whl", "conda_forge": "/conda", "hf": "/hf"}[service]

    def toml(self, name: str, services: tuple[str, ...] = ALL_SERVICES, **extra: str) -> str:
        return catalog_table(name, self.base, services, extra)


class FakeNetwork:
    """Hosts that answer through an httpx.MockTransport, and a per-thread clock that only they advance."""

    def __init__(self, bandwidth: float = 200e6) -> None:
        self.hosts: dict[str, FakeMirror] = {}
        self.bandwidth = bandwidth  # bytes per second of every body
        self._numbers = itertools.count(1)
        self._time = threading.local()
        self.transport = httpx.MockTransport(self._handle)

    def clock(self) -> float:
        return getattr(self._time, "now", 1000.0)

    def _spend(self, seconds: float) -> None:
        self._time.now = self.clock() + seconds

    def mirror(self, *, https: bool = False, **behaviour: object) -> FakeMirror:
        host = f"m{next(self._numbers)}.mirror.test"
        fake = FakeMirror(self, host, https, **behaviour)
        self.hosts[host] = fake
        return fake

    def _handle(self, request: httpx.Request) -> httpx.Response:
        fake = self.hosts.get(request.url.host)
        if fake is None:
            raise httpx.ConnectError(f"[Errno 111] Connection refused: {request.url.host}", request=request)
        path = request.url.path
        fake.requests.append((path, request.headers.get("Range")))
        if fake.is_index(path):
            self._spend(fake.delay)
        answer = fake.route(path)
        headers = {"Content-Type": answer.content_type, **answer.headers}
        if not answer.file_size:
            self._spend(len(answer.body) / self.bandwidth)
            fake.served_bytes += len(answer.body)
            return httpx.Response(answer.status, headers=headers, content=answer.body)
        status, _start, length, extra = fake.file_range(answer.file_size, request.headers.get("Range"))
        headers.update(extra, **{"Content-Length": str(length)})
        return httpx.Response(status, headers=headers, content=self._zeros(fake, length))

    def _zeros(self, fake: FakeMirror, length: int) -> Iterator[bytes]:
        """A body read lazily: the clock and ``served_bytes`` move only as far as the client reads."""
        left = length
        while left > 0:
            n = min(CHUNK, left)
            self._spend(n / self.bandwidth)
            fake.served_bytes += n
            left -= n
            yield b"\x00" * n


# --- the same routes on a real localhost server (one test and bench/mirror_probe.py) ------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        fake = self.server.behaviour
        path = self.path.split("?")[0]
        with self.server.lock:
            fake.requests.append((path, self.headers.get("Range")))
        if fake.is_index(path) and fake.delay:
            time.sleep(fake.delay)
        answer = fake.route(path)
        if answer.file_size:
            status, _start, length, extra = fake.file_range(answer.file_size, self.headers.get("Range"))
            body = b"\x00" * length
        else:
            status, body, extra = answer.status, answer.body, {}
        self.send_response(status)
        for k, v in {
            "Content-Type": answer.content_type,
            "Content-Length": str(len(body)),
            **answer.headers,
            **extra,
        }.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return  # the prober closed after its cap: expected
        with self.server.lock:
            fake.served_bytes += len(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Behaviour
    lock: threading.Lock


class LocalhostMirror:
    """The fake's routes served by a real HTTP server on 127.0.0.1, in a thread (real sockets, real time)."""

    def __init__(self, **behaviour: object) -> None:
        self.behaviour = Behaviour(**behaviour)  # type: ignore[arg-type]
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LocalhostMirror:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.behaviour = self.behaviour
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def toml(self, name: str, services: tuple[str, ...] = ALL_SERVICES, **extra: str) -> str:
        return catalog_table(name, self.base, services, extra)
