"""A mirror on localhost, in a thread, whose misbehaviour a test dials in.

    with FakeMirror(delay=0.2, pip_versions=["25.2", "25.3"]) as m:
        m.url("pypi")      # 'http://127.0.0.1:PORT/simple'

It serves, like a real mirror: a PEP 503 page for pip (``/simple/pip/``), PyTorch pages
(``/whl/cpu/torch/`` and the flat ``/whl/torch_stable.html``), conda-forge repodata
(``/conda/conda-forge/noarch/repodata.json``) and a Hugging Face API page and file (``/hf/...``).
Files honour ``Range``. Knobs: ``delay`` before each index page, ``status`` for index pages,
``redirect_to`` (another server's base: index pages answer 302 there), ``link_base`` (pages link
files on another host), stale version lists, ``last_modified``. ``served_bytes`` counts body bytes sent.
"""

from __future__ import annotations

import ssl
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARTIFACT_SIZE = 4 << 20


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "text/html", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            return  # the prober closed after its cap: expected
        with self.server.lock:
            self.server.fake.served_bytes += len(body)

    def _file(self, size: int, headers: dict | None = None) -> None:
        rng = self.headers.get("Range")
        data_len = size
        start, end = 0, size - 1
        status = 200
        if rng and rng.startswith("bytes=") and self.server.fake.honour_range:
            a, _, b = rng[6:].partition("-")
            start, end = int(a or 0), min(int(b) if b else size - 1, size - 1)
            status = 206
            headers = {**(headers or {}), "Content-Range": f"bytes {start}-{end}/{size}"}
        body = b"\x00" * (end - start + 1) if status == 206 else b"\x00" * data_len
        self._send(status, body, "application/octet-stream", headers)

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        fake = self.server.fake
        path = self.path.split("?")[0]
        with self.server.lock:
            fake.requests.append((path, self.headers.get("Range")))
        is_index = path.endswith("/") or path.endswith(".html") or path.endswith("repodata.json") or "/api/" in path
        if is_index:
            if fake.delay:
                time.sleep(fake.delay)
            if fake.redirect_to:
                self._send(302, b"", headers={"Location": fake.redirect_to + path})
                return
            if fake.status != 200:
                self._send(fake.status, b"error")
                return
        link = (fake.link_base or "") + "/packages/"
        if path == "/simple/pip/":
            rows = "".join(
                f'<a href="{link if fake.link_base else "../../packages/"}pip-{v}-py3-none-any.whl#sha256=00">pip-{v}-py3-none-any.whl</a><br/>\n'
                f'<a href="{link if fake.link_base else "../../packages/"}pip-{v}.tar.gz">pip-{v}.tar.gz</a><br/>\n'
                for v in fake.pip_versions
            )
            self._send(200, f"<!DOCTYPE html><html><body><h1>Links for pip</h1>\n{rows}</body></html>".encode())
        elif path == "/whl/cpu/torch/":
            rows = "".join(
                f'<a href="{link if fake.link_base else "/packages/"}torch-{v}%2Bcpu-cp312-cp312-manylinux_2_28_x86_64.whl">torch-{v}+cpu-cp312-cp312-manylinux_2_28_x86_64.whl</a><br/>\n'
                for v in fake.torch_versions
            )
            self._send(200, f"<html><body>{rows}</body></html>".encode())
        elif path == "/whl/torch_stable.html":
            rows = "".join(f'<a href="cpu/torch-{v}%2Bcpu-cp312-none-linux_x86_64.whl">cpu/torch-{v}</a><br>\n'
                           for v in fake.torch_versions)
            self._send(200, rows.encode())
        elif path.startswith("/whl/cpu/torch-") or path.startswith("/packages/"):
            self._file(ARTIFACT_SIZE)
        elif path == "/conda/conda-forge/noarch/repodata.json":
            self._file(ARTIFACT_SIZE, {"Last-Modified": formatdate(fake.last_modified, usegmt=True)})
        elif path == "/hf/api/models/openai-community/gpt2":
            self._send(200, b'{"id": "openai-community/gpt2"}', "application/json")
        elif path == "/hf/openai-community/gpt2/resolve/main/model.safetensors":
            if fake.hf_file_redirect:
                self._send(302, b"", headers={"Location": fake.hf_file_redirect})
            else:
                self._file(ARTIFACT_SIZE)
        else:
            self._send(404, b"not found")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeMirror"
    lock: threading.Lock


class FakeMirror:
    def __init__(
        self,
        *,
        delay: float = 0.0,
        status: int = 200,
        pip_versions: tuple[str, ...] = ("25.1", "25.2", "25.3"),
        torch_versions: tuple[str, ...] = ("2.12.0", "2.13.0"),
        last_modified: float | None = None,
        redirect_to: str | None = None,
        link_base: str | None = None,
        hf_file_redirect: str | None = None,
        honour_range: bool = True,
        host: str = "127.0.0.1",
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.tls = tls  # (certificate, key) PEM files: serve https
        self.host = host  # another loopback address (127.0.0.2) is "another host" for redirect checks
        self.delay = delay
        self.status = status
        self.pip_versions = pip_versions
        self.torch_versions = torch_versions
        self.last_modified = time.time() if last_modified is None else last_modified
        self.redirect_to = redirect_to
        self.link_base = link_base
        self.hf_file_redirect = hf_file_redirect
        self.honour_range = honour_range
        self.requests: list[tuple[str, str | None]] = []
        self.served_bytes = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeMirror:
        self._server = _Server((self.host, 0), _Handler)
        self._server.fake = self
        self._server.lock = threading.Lock()
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def url(self, service: str) -> str:
        return self.base + {"pypi": "/simple", "pytorch": "/whl", "conda_forge": "/conda", "hf": "/hf"}[service]

    def toml(self, name: str, services: tuple[str, ...] = ("pypi", "pytorch", "conda_forge", "hf"), **extra: str) -> str:
        """A [mirror.NAME] table for mirrors.toml pointing at this server."""
        lines = [f"[mirror.{name}]", f'title = "local {name}"']
        lines += [f'{s} = "{self.url(s)}"' for s in services]
        lines += [f'{k} = "{v}"' for k, v in extra.items()]
        return "\n".join(lines) + "\n\n"
