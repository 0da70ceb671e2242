"""Probing ranks mirrors by what a download would cost, and flags the ones that mislead."""

from __future__ import annotations

import time

from fake_mirror import ARTIFACT_SIZE, LocalhostMirror

from torchrig._core.seams import http
from torchrig.mirrors.probe import ProbeResult, probe, probe_one, rank


def _pairs(catalog, names, service):
    return [(catalog.get(n), service) for n in names]


def test_ranks_pypi_mirrors_by_their_known_latency(network, user_catalog) -> None:
    with network.mirror(delay=1.0) as slow, network.mirror(delay=0.0) as fast, network.mirror(delay=0.5) as mid:
        cat = user_catalog(slow.toml("slow") + fast.toml("fast") + mid.toml("mid"))
        results = probe(cat, _pairs(cat, ["slow", "fast", "mid"], "pypi"), timeout=5)
    assert [r.mirror for r in results] == ["fast", "mid", "slow"]
    assert all(r.ok and r.fresh is True and r.off_host is None for r in results)
    # each latency is its mirror's delay, plus the few KiB of its index page at the network's bandwidth
    assert [round(r.latency_ms) for r in results] == [0, 500, 1000]
    assert all(r.newest == "25.3" for r in results)


def test_a_real_localhost_server_is_measured_through_real_sockets(user_catalog) -> None:
    # the one probe over real sockets and real time (bench/mirror_probe.py times many of them)
    with LocalhostMirror(delay=0.3) as slow, LocalhostMirror() as fast:
        cat = user_catalog(slow.toml("slow", services=("pypi",)) + fast.toml("fast", services=("pypi",)))
        results = probe(cat, _pairs(cat, ["slow", "fast"], "pypi"), timeout=10)
    assert [r.mirror for r in results] == ["fast", "slow"] and all(r.ok for r in results)
    assert results[1].latency_ms >= 300 and all(r.bytes_read == 1 << 20 for r in results)


def test_a_stale_index_ranks_below_a_fresh_one_even_when_faster(network, user_catalog) -> None:
    with network.mirror(delay=0.0, pip_versions=("25.1", "25.2")) as stale, network.mirror(delay=0.1) as fresh:
        cat = user_catalog(stale.toml("stale") + fresh.toml("fresh"))
        results = probe(cat, _pairs(cat, ["stale", "fresh"], "pypi"), timeout=5)
    assert [r.mirror for r in results] == ["fresh", "stale"]
    assert results[1].fresh is False and results[1].newest == "25.2" and results[1].flagged


def test_failing_and_unreachable_mirrors_rank_last_with_the_reason(network, user_catalog) -> None:
    with network.mirror(status=503) as broken, network.mirror() as good:
        cat = user_catalog(
            broken.toml("broken") + good.toml("good") + '[mirror.gone]\npypi = "http://gone.mirror.test/simple"\n'
        )
        results = probe(cat, _pairs(cat, ["broken", "gone", "good"], "pypi"), timeout=3)
    assert results[0].mirror == "good" and results[0].ok
    by = {r.mirror: r for r in results}
    assert by["broken"].error == f"HTTP 503 for {broken.url('pypi')}/pip/"
    assert by["gone"].error is not None and "Connect" in by["gone"].error


def test_a_redirect_off_the_mirror_host_is_flagged(network, user_catalog) -> None:
    with network.mirror() as upstream, network.mirror() as mirror:
        mirror.redirect_to = upstream.base  # every index page answers "302 -> the upstream host"
        cat = user_catalog(mirror.toml("sneaky") + upstream.toml("upstream"))
        results = probe(cat, _pairs(cat, ["sneaky", "upstream"], "pypi"), timeout=5)
    by = {r.mirror: r for r in results}
    assert by["sneaky"].off_host == f"302 -> {upstream.host}" and by["sneaky"].flagged
    assert by["upstream"].off_host is None
    assert [r.mirror for r in results] == ["upstream", "sneaky"]


def test_a_redirector_by_design_is_noted_but_not_demoted(network, user_catalog) -> None:
    with network.mirror() as campus, network.mirror() as redirector:
        redirector.redirect_to = campus.base
        cat = user_catalog(redirector.toml("hub", services=("pypi",)) + "redirector = true\n")
        (result,) = probe(cat, _pairs(cat, ["hub"], "pypi"), timeout=5)
    assert result.ok and result.off_host == f"302 -> {campus.host}" and result.redirector and not result.flagged


def _probe_one(cat, name: str, service: str) -> ProbeResult:
    with http.client(timeout=5) as client:
        return probe_one(
            client, cat.get(name), service, cat.probe_specs[service], timeout=5, page_cap=1 << 20, range_bytes=1 << 16
        )


def test_a_redirect_from_https_to_http_on_the_same_host_is_flagged_and_not_followed(network, user_catalog) -> None:
    with network.mirror() as plain, network.mirror(https=True) as mirror:
        mirror.redirect_to = plain.base  # https://m2.mirror.test/simple/pip/ -> http://m1.mirror.test/simple/pip/
        cat = user_catalog(mirror.toml("downgrader", services=("pypi",)))
        result = _probe_one(cat, "downgrader", "pypi")
        assert plain.requests == []  # never followed
    assert result.off_host == f"302 -> {plain.base}/simple/pip/" and not result.ok
    assert "from https to plain http" in (result.error or "")
    assert not cat.get("downgrader").redirect_allowed(plain.base + "/x", mirror.url("pypi"))


def test_a_page_linking_a_file_over_plain_http_is_flagged_and_not_fetched(network, user_catalog) -> None:
    with network.mirror() as plain, network.mirror(https=True) as mirror:
        mirror.link_base = plain.base  # the https page links http://m1.mirror.test/packages/...
        cat = user_catalog(mirror.toml("mixed", services=("pytorch",)))
        result = _probe_one(cat, "mixed", "pytorch")
        assert plain.requests == []
    assert result.off_host is not None and result.off_host.startswith(f"links to {plain.base}/packages/torch-2.13.0")
    assert not result.ok


def test_pages_linking_files_on_another_host_are_flagged(network, user_catalog) -> None:
    # a PyTorch mirror whose pages still link download-r2.pytorch.org (ustcmirror-images PR #154)
    with network.mirror() as r2, network.mirror() as mirror:
        mirror.link_base = r2.base
        cat = user_catalog(mirror.toml("nolinkfix"))
        (result,) = probe(cat, _pairs(cat, ["nolinkfix"], "pytorch"), timeout=5)
        assert any(path.startswith("/packages/torch-2.13.0") for path, _ in r2.requests)
    assert result.off_host == f"links to {r2.host}" and result.flagged


def test_a_read_too_small_to_measure_gives_no_throughput(network, user_catalog) -> None:
    with network.mirror() as m:
        cat = user_catalog(m.toml("m"))
        (result,) = probe(cat, _pairs(cat, ["m"], "pypi"), timeout=5, range_bytes=16 << 10)
    assert result.ok and result.bytes_read == 16 << 10 and result.throughput_bps is None
    assert result.cost_s == result.latency_ms / 1000


def test_throughput_comes_from_a_capped_range_read_of_the_newest_artifact(network, user_catalog) -> None:
    with network.mirror() as m:
        cat = user_catalog(m.toml("m"))
        (result,) = probe(cat, _pairs(cat, ["m"], "pypi"), timeout=5, range_bytes=256 << 10)
        artifact_requests = [(p, r) for p, r in m.requests if p.startswith("/packages/")]
    assert artifact_requests == [("/packages/pip-25.3-py3-none-any.whl", "bytes=0-262143")]
    assert result.bytes_read == 256 << 10 and result.throughput_bps and result.throughput_bps > 0


def test_a_server_ignoring_range_is_still_read_only_up_to_the_cap(network, user_catalog) -> None:
    with network.mirror(honour_range=False) as m:
        cat = user_catalog(m.toml("m"))
        (result,) = probe(cat, _pairs(cat, ["m"], "pypi"), timeout=5, range_bytes=128 << 10)
    assert result.ok and result.bytes_read == 128 << 10
    assert ARTIFACT_SIZE > 128 << 10  # the server offered more; the prober stopped at its cap


def test_conda_freshness_compares_last_modified(network, user_catalog) -> None:
    now = time.time()
    with network.mirror(last_modified=now - 3 * 86400) as old, network.mirror(last_modified=now - 600) as new:
        cat = user_catalog(old.toml("old") + new.toml("new"))
        results = probe(cat, _pairs(cat, ["old", "new"], "conda_forge"), timeout=5)
    by = {r.mirror: r for r in results}
    assert by["new"].fresh is True and by["old"].fresh is False
    assert [r.mirror for r in results] == ["new", "old"]
    assert all(r.bytes_read == 1 << 20 for r in results)  # the range read of repodata.json, capped


def test_flat_pytorch_pages_are_probed_through_their_flat_page(network, user_catalog) -> None:
    with network.mirror() as m:
        cat = user_catalog(m.toml("flat", services=("pytorch",), pytorch_format="flat"))
        (result,) = probe(cat, _pairs(cat, ["flat"], "pytorch"), timeout=5)
        paths = [p for p, _ in m.requests]
    assert result.ok and result.newest == "2.13.0"
    assert paths[0] == "/whl/torch_stable.html" and paths[1].startswith("/whl/cpu/torch-2.13.0")


def test_hf_file_redirect_to_a_foreign_cdn_is_flagged(network, user_catalog) -> None:
    # Xet-backed files redirect to Hugging Face's own CDN, past the mirror (hf-mirror-site#50)
    with network.mirror() as cdn, network.mirror() as hf:
        hf.hf_file_redirect = cdn.base + "/packages/model.safetensors"
        cat = user_catalog(hf.toml("hfm", services=("hf",)))
        (result,) = probe(cat, _pairs(cat, ["hfm"], "hf"), timeout=5)
    assert result.ok and result.off_host == f"302 -> {cdn.host}"


def test_a_slow_mirror_is_cut_off_at_the_timeout(network, user_catalog) -> None:
    with network.mirror(delay=3.0) as stuck, network.mirror() as ok:
        cat = user_catalog(stuck.toml("stuck") + ok.toml("ok"))
        results = probe(cat, _pairs(cat, ["stuck", "ok"], "pypi"), timeout=0.5)
        artifacts = [path for path, _ in stuck.requests if path.startswith("/packages/")]
    by = {r.mirror: r for r in results}
    assert by["stuck"].error is not None and "0.5 s" in by["stuck"].error
    assert artifacts == [] and by["ok"].ok  # nothing more is asked of a mirror past its deadline


def test_rank_orders_working_then_clean_then_cheapest() -> None:
    rows = [
        ProbeResult("err", "pypi", "u", error="HTTP 500"),
        ProbeResult("stale", "pypi", "u", latency_ms=1, fresh=False),
        ProbeResult("slow", "pypi", "u", latency_ms=300, throughput_bps=50e6, fresh=True),
        ProbeResult("fast", "pypi", "u", latency_ms=20, throughput_bps=50e6, fresh=True),
        ProbeResult("fat-pipe", "pypi", "u", latency_ms=40, throughput_bps=500e6, fresh=True),
    ]
    assert [r.mirror for r in rank(rows)] == ["fat-pipe", "fast", "slow", "stale", "err"]
