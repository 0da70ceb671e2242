"""Probing mirrors: light, concurrent, bounded in time.

For each (mirror, service) pair, one worker thread does at most two requests:

1. **latency**: GET a small index page (``[probe.<service>] page`` in catalog.toml), timed to its
   response headers; its body (read up to ``page_cap`` bytes) gives the freshness signal: the newest
   version of a project it lists, or its Last-Modified header;
2. **throughput**: a ``Range`` GET of a real artifact (the newest file the page links to, or a named
   file), read up to ``range_bytes`` and then closed, whatever the server sends.

Redirects are followed by hand so every hop is seen: a hop (or a page link) to a host that is not
the mirror's, nor one it names in ``redirect_hosts``, is flagged: that is how a mirror silently hands
you upstream (SJTU's /cuXXX/ 301) or a dead campus mirror (MirrorZ's 302).

Bounds: at most ``workers`` pairs at once; every request has connect/read timeouts, and every pair
stops reading at its deadline (``timeout`` seconds after it started). Nothing here downloads a
speed-test file: mirror operators removed those over exactly that use (oh-my-mirrorz#2, chsrc#175).
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from html import unescape
from typing import Any, TypedDict, cast
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from torchrig import __version__
from torchrig._core.seams import http
from torchrig.mirrors.catalog import Catalog, Mirror, downgrades, host_of

# The cost the ranking minimises: seconds to fetch one typical wheel (latency + size / throughput).
TYPICAL_ARTIFACT = 8 << 20
# Below this many bytes a read says more about scheduling than about the link: no throughput then.
MIN_SAMPLE = 256 << 10


@dataclass(frozen=True)
class ProbeResult:
    mirror: str
    service: str
    url: str
    latency_ms: float | None = None
    throughput_bps: float | None = None  # bytes per second of the range read
    bytes_read: int = 0
    newest: str | None = None  # newest version seen, or the page's Last-Modified (ISO 8601)
    fresh: bool | None = None  # None: not measured (or nothing to compare against)
    off_host: str | None = None  # a redirect or link that left the mirror: "302 -> host" / "links to host"
    redirector: bool = False  # the site redirects by design (MirrorZ); off_host is expected there
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def flagged(self) -> bool:
        return self.fresh is False or (self.off_host is not None and not self.redirector)

    @property
    def cost_s(self) -> float:
        if self.error is not None or self.latency_ms is None:
            return math.inf
        transfer = TYPICAL_ARTIFACT / self.throughput_bps if self.throughput_bps else 0.0
        return self.latency_ms / 1000 + transfer

    def to_json(self) -> dict:
        data = asdict(self)
        data["cost_s"] = None if math.isinf(self.cost_s) else round(self.cost_s, 4)
        data["flagged"] = self.flagged
        return data


class _Known(TypedDict):
    """The :class:`ProbeResult` fields known before anything is fetched."""

    mirror: str
    service: str
    url: str
    redirector: bool


class _Partial(_Known, total=False):
    """What :func:`probe_one` has learned so far, passed on to whichever result ends the probe."""

    latency_ms: float


SCHEMA = "torchrig.mirror.probe/1"  # `torchrig mirror probe --json`


def report_json(results: Sequence[ProbeResult], skipped_insecure: Sequence[str] = ()) -> dict[str, Any]:
    """What ``mirror probe --json`` prints: every result, ranked, and the plain-http mirrors left out."""
    return {"schema": SCHEMA, "skipped_insecure": list(skipped_insecure), "results": [r.to_json() for r in results]}


def rank(results: Sequence[ProbeResult]) -> list[ProbeResult]:
    """Working before failing, clean before flagged (stale, or leaving the mirror), then cheapest."""
    return sorted(results, key=lambda r: (not r.ok, r.flagged, r.cost_s, r.mirror))


class _Deadline(Exception):
    pass


class _Downgrade(Exception):
    """A redirect or link from the https mirror to plain http: not followed."""

    def __init__(self, off_host: str, url: str) -> None:
        super().__init__(off_host)
        self.off_host = off_host
        self.url = url


@dataclass
class _Fetch:
    status: int
    url: str  # after redirects
    headers: httpx.Headers
    body: bytes
    headers_s: float  # seconds from the first request to the final response's headers
    body_s: float  # seconds spent reading the body
    off_host: str | None


def _fetch(
    client: httpx.Client,
    url: str,
    mirror: Mirror,
    base: str,
    *,
    cap: int,
    deadline: float,
    headers: dict[str, str] | None = None,
    max_hops: int = 5,
) -> _Fetch:
    start = http.monotonic()
    off_host: str | None = None
    for _hop in range(max_hops + 1):
        if http.monotonic() > deadline:
            raise _Deadline()
        with client.stream("GET", url, headers=headers, follow_redirects=False) as resp:
            headers_at = http.monotonic()
            if headers_at > deadline:
                raise _Deadline()  # an answer after the deadline counts as none
            if resp.is_redirect and "location" in resp.headers:
                nxt = urljoin(url, resp.headers["location"])
                if downgrades(url, nxt):
                    raise _Downgrade(f"{resp.status_code} -> {nxt}", url)
                if off_host is None and not mirror.redirect_allowed(nxt, base):
                    off_host = f"{resp.status_code} -> {host_of(nxt)}"
                url = nxt
                continue
            chunks: list[bytes] = []
            got = 0
            for chunk in resp.iter_bytes():
                chunks.append(chunk)
                got += len(chunk)
                if got >= cap or http.monotonic() > deadline:
                    break  # capped: closing the stream drops the rest
            done = http.monotonic()
            return _Fetch(
                resp.status_code,
                url,
                resp.headers,
                b"".join(chunks)[:cap],
                headers_at - start,
                done - headers_at,
                off_host,
            )
    raise httpx.TooManyRedirects(f"more than {max_hops} redirects")


_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.I)


def _versions(body: bytes, project: str) -> list[tuple[Version, str]]:
    """(version, href) for each file of ``project`` a simple or flat page links to (wheels and sdists)."""
    text = body.decode("utf-8", errors="replace")
    want = canonicalize_name(project)
    found = []
    for raw in _HREF.findall(text):
        href = unescape(raw)
        filename = unquote(urlsplit(href).path.rsplit("/", 1)[-1])
        try:
            if filename.endswith(".whl"):
                name, version, _build, _tags = parse_wheel_filename(filename)
            elif filename.endswith((".tar.gz", ".zip")):
                name, version = parse_sdist_filename(filename)
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if name == want:
            found.append((version, href))
    return found


def _newest_link(found: list[tuple[Version, str]]) -> tuple[Version | None, str | None]:
    if not found:
        return None, None
    releases = [f for f in found if not f[0].is_prerelease] or found
    newest = max(Version(v.public) for v, _ in releases)
    links = [h for v, h in releases if Version(v.public) == newest]
    wheels = [h for h in links if urlsplit(h).path.endswith(".whl")]
    return newest, (wheels or links)[0]


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def probe_one(
    client: httpx.Client,
    mirror: Mirror,
    service: str,
    spec: dict,
    *,
    timeout: float,
    page_cap: int,
    range_bytes: int,
) -> ProbeResult:
    base = mirror.urls[service]
    deadline = http.monotonic() + timeout
    # the shipped catalog gives the pytorch service a flat_page (probe specs come from nowhere else)
    page = (
        cast(str, spec.get("flat_page")) if service == "pytorch" and mirror.pytorch_format == "flat" else spec["page"]
    )
    page_url = _join(base, page)
    artifact = spec.get("artifact", "page")
    ranged = {"Range": f"bytes=0-{range_bytes - 1}"}
    result: _Partial = {"mirror": mirror.name, "service": service, "url": base, "redirector": mirror.redirector}
    try:
        fetched = _fetch(
            client,
            page_url,
            mirror,
            base,
            cap=range_bytes if artifact == "page" else page_cap,
            deadline=deadline,
            headers=ranged if artifact == "page" else None,
        )
        if fetched.status not in (200, 206):
            return ProbeResult(**result, error=f"HTTP {fetched.status} for {page_url}")
        result["latency_ms"] = round(fetched.headers_s * 1000, 1)
        off_host = fetched.off_host
        newest: str | None = None
        link: str | None = None
        if spec.get("freshness") == "versions":
            version, link = _newest_link(_versions(fetched.body, spec["project"]))
            newest = str(version) if version else None
            if version is None:
                return ProbeResult(**result, off_host=off_host, error=f"{page_url} lists no {spec['project']} files")
        elif spec.get("freshness") == "last-modified" and "last-modified" in fetched.headers:
            try:
                parsed = email.utils.parsedate_to_datetime(fetched.headers["last-modified"])
            except (TypeError, ValueError):
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)  # "-0000" means UTC with no zone given
            newest = parsed.isoformat() if parsed else None
        if artifact == "page":
            art = fetched
        else:
            art_url = (
                urljoin(fetched.url, link.split("#")[0])
                if artifact == "newest-link" and link
                else _join(base, artifact)
            )
            if downgrades(fetched.url, art_url):
                raise _Downgrade(f"links to {art_url}", fetched.url)
            if off_host is None and not mirror.redirect_allowed(art_url, base):
                off_host = f"links to {host_of(art_url)}"
            art = _fetch(client, art_url, mirror, base, cap=range_bytes, deadline=deadline, headers=ranged)
            if art.status not in (200, 206):
                return ProbeResult(**result, newest=newest, off_host=off_host, error=f"HTTP {art.status} for {art_url}")
            off_host = off_host or art.off_host
        throughput = len(art.body) / art.body_s if art.body_s > 0 and len(art.body) >= MIN_SAMPLE else None
        return ProbeResult(
            **result, throughput_bps=throughput, bytes_read=len(art.body), newest=newest, off_host=off_host
        )
    except _Downgrade as exc:
        return ProbeResult(
            **result,
            off_host=exc.off_host,
            error=f"{exc.url} sends the download from https to plain http; not followed",
        )
    except _Deadline:
        return ProbeResult(**result, error=f"no answer within {timeout:g} s")
    except httpx.TimeoutException:
        return ProbeResult(**result, error=f"timed out (limit {timeout:g} s)")
    except httpx.HTTPError as exc:
        reason = str(exc).split("\n")[0] or type(exc).__name__
        return ProbeResult(**result, error=f"{type(exc).__name__}: {reason}")


def _judge_freshness(results: list[ProbeResult], specs: dict[str, dict]) -> list[ProbeResult]:
    """Freshness is relative: a mirror is stale when another source it was probed with has newer."""
    out = []
    for r in results:
        spec = specs.get(r.service, {})
        peers = [p.newest for p in results if p.service == r.service and p.newest]
        fresh: bool | None = None
        if r.newest and len(peers) > 1:
            if spec.get("freshness") == "versions":
                fresh = Version(r.newest) >= max(Version(v) for v in peers)
            elif spec.get("freshness") == "last-modified":
                newest = max(datetime.fromisoformat(v) for v in peers)
                age = (newest - datetime.fromisoformat(r.newest)).total_seconds() / 3600
                fresh = age <= float(spec.get("stale_after_hours", 24))
        out.append(ProbeResult(**{**asdict(r), "fresh": fresh}))
    return out


def probe(
    catalog: Catalog,
    pairs: Sequence[tuple[Mirror, str]],
    *,
    timeout: float = 8.0,
    workers: int = 16,
    page_cap: int = 4 << 20,
    range_bytes: int = 1 << 20,
    on_done: Callable[[ProbeResult], None] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[ProbeResult]:
    """Probe every (mirror, service) pair concurrently and return them ranked per service.

    ``transport`` replaces the network (tests pass an :class:`httpx.MockTransport`; see
    :mod:`torchrig._core.seams.http`).
    """
    if not pairs:
        return []
    with (
        http.client(
            timeout=timeout,
            connections=workers,
            user_agent=f"torchrig/{__version__} (mirror probe)",
            transport=transport,
        ) as client,
        ThreadPoolExecutor(max_workers=max(1, min(workers, len(pairs))), thread_name_prefix="probe") as pool,
    ):

        def run(pair: tuple[Mirror, str]) -> ProbeResult:
            mirror, service = pair
            res = probe_one(
                client,
                mirror,
                service,
                catalog.probe_specs[service],
                timeout=timeout,
                page_cap=page_cap,
                range_bytes=range_bytes,
            )
            if on_done is not None:
                on_done(res)
            return res

        results = list(pool.map(run, pairs))
    judged = _judge_freshness(results, catalog.probe_specs)
    ranked: list[ProbeResult] = []
    for service in dict.fromkeys(s for _, s in pairs):
        ranked += rank([r for r in judged if r.service == service])
    return ranked
