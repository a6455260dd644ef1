"""The fetcher against a web site the test serves on 127.0.0.1: the address rule, redirects, size,
timeouts, status codes, content types, robots.txt, the per-host pause, the User-Agent, charsets."""

from __future__ import annotations

import ipaddress
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from kiji.corpus.web.fetch import FetchConfig, Fetcher
from kiji.corpus.web.guard import AddressGuard, kind_of, parse_networks
from kiji.corpus.web.pages import canonical_form, fetch_page
from kiji.corpus.web.politeness import HostGates
from kiji.errors import FetchFailed, FetchRefused, InvalidInput, PageUnusable
from tests.corpus.web.pages import NEWS, NOTE
from tests.corpus.web.site import Route, Site, serve

LOOPBACK = parse_networks("127.0.0.0/8")


def config(**kw: object) -> FetchConfig:
    values: dict[str, object] = {"user_agent": "kiji/9.9 (article indexer)", "max_bytes": 1_000_000,
                                 "connect_timeout": 2.0, "read_timeout": 1.0, "delay": 0.0,
                                 "allowed_networks": LOOPBACK}
    values.update(kw)
    return FetchConfig(**values)  # type: ignore[arg-type]


@pytest.fixture()
def site() -> Iterator[Site]:
    with serve() as s:
        yield s


def fetcher(**kw: object) -> Fetcher:
    return Fetcher(config(**kw), gates=HostGates())


def test_a_page_is_fetched_with_kijis_user_agent_and_extracted(site: Site) -> None:
    site.page("/news", NEWS.html)
    with fetcher() as f:
        page = fetch_page(f, site.url("/news"))
    assert all(p in page.extracted.text for p in NEWS.body)
    assert not any(c in page.extracted.text for c in ("Most read", "Share on Facebook", "Subscribe"))
    assert page.extracted.title == "Night buses to reach every district"
    assert page.extracted.author == "Jane Doe" and page.extracted.published == "2025-02-03"
    assert page.canonical == "https://news.example/city/night-buses" and page.extracted.language == "en"
    assert {h.user_agent for h in site.hits} == {"kiji/9.9 (article indexer)"}
    assert site.paths() == ["/robots.txt", "/news"]


@pytest.mark.parametrize("text", ["", "10.0.0.0/8"])
def test_loopback_is_refused_unless_its_network_is_allowed(site: Site, text: str) -> None:
    site.page("/news", NEWS.html)
    with fetcher(allowed_networks=parse_networks(text)) as f, \
            pytest.raises(PageUnusable, match="refused to fetch from 127.0.0.1, a loopback address"):
        f.get(site.url("/news"))
    assert site.hits == []  # refused before any connection


def test_a_redirect_to_a_forbidden_address_is_refused_after_the_hop(site: Site) -> None:
    site.routes["/go"] = Route(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with fetcher() as f, pytest.raises(PageUnusable, match="169.254.169.254, a cloud metadata address"):
        f.get(site.url("/go"))
    assert site.paths() == ["/robots.txt", "/go"]


@pytest.mark.parametrize(("address", "kind"), [
    ("10.1.2.3", "a private address"), ("192.168.0.1", "a private address"), ("::1", "a loopback address"),
    ("fe80::1", "a link-local address"), ("169.254.169.254", "a cloud metadata address"),
    ("100.64.0.1", "a non-public address"), ("::ffff:127.0.0.1", "a loopback address"),
    ("0.0.0.0", "an unspecified address"), ("93.184.216.34", None)])
def test_the_address_rule(address: str, kind: str | None) -> None:
    assert kind_of(ipaddress.ip_address(address)) == kind
    guard = AddressGuard(parse_networks("10.0.0.0/8"))
    if kind is None or address.startswith("10."):
        guard.check(ipaddress.ip_address(address), "u")
    else:
        with pytest.raises(PageUnusable, match="KIJI_FETCH_ALLOWED_NETWORKS"):
            guard.check(ipaddress.ip_address(address), "u")


def test_a_name_is_checked_after_dns_resolution(site: Site) -> None:
    site.page("/news", NEWS.html)
    with fetcher(allowed_networks=()) as f, pytest.raises(PageUnusable, match="loopback"):
        f.get(f"http://localhost:{site.port}/news")
    with fetcher() as f:
        assert f.get(f"http://localhost:{site.port}/news").status == 200


def test_a_bad_network_setting_is_named() -> None:
    with pytest.raises(InvalidInput, match="'nonsense' is not a network"):
        parse_networks("127.0.0.0/8, nonsense")


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://example.com/a", "only http and https"), ("file:///etc/passwd", "only http and https"),
    ("http://", "invalid URL"), ("http://exa mple.com/", "invalid URL")])
def test_invalid_urls(url: str, why: str) -> None:
    with fetcher() as f, pytest.raises(PageUnusable, match=why):
        f.get(url)


def test_redirects_are_followed_up_to_five(site: Site) -> None:
    for i in range(6):
        site.routes[f"/r{i}"] = Route(status=301, headers={"Location": f"/r{i + 1}"})
    site.page("/r6", NEWS.html)
    with fetcher() as f:
        assert f.get(site.url("/r1")).url == site.url("/r6")  # five hops
        with pytest.raises(PageUnusable, match="more than 5 redirects"):
            f.get(site.url("/r0"))  # six hops


def test_a_redirect_loop_is_named(site: Site) -> None:
    site.routes["/a"] = Route(status=302, headers={"Location": "/b"})
    site.routes["/b"] = Route(status=302, headers={"Location": "/a"})
    with fetcher() as f, pytest.raises(PageUnusable, match="redirect loop"):
        f.get(site.url("/a"))


@pytest.mark.parametrize(("status", "error", "words"), [
    (404, PageUnusable, "HTTP 404 not found"), (410, PageUnusable, "HTTP 410 gone"),
    (503, FetchFailed, "the server failed \\(HTTP 503\\)")])
def test_status_codes_are_named(site: Site, status: int, error: type[Exception], words: str) -> None:
    site.routes["/x"] = Route(b"<p>no</p>", status=status)
    with fetcher() as f, pytest.raises(error, match=words):
        f.get(site.url("/x"))


def test_a_slow_server_times_out(site: Site) -> None:
    site.routes["/slow"] = Route(NEWS.html.encode(), delay=3.0)
    started = time.monotonic()
    with fetcher(read_timeout=0.5) as f, pytest.raises(FetchFailed, match=r"timed out waiting .*0.5 s"):
        f.get(site.url("/slow"))
    assert time.monotonic() - started < 2.5


def test_an_unreachable_host_is_a_network_failure() -> None:
    with serve() as gone:
        port = gone.port
    with fetcher() as f, pytest.raises(FetchFailed, match="cannot connect"):
        f.get(f"http://127.0.0.1:{port}/")
    with fetcher(allowed_networks=()) as f, pytest.raises(FetchFailed, match="cannot resolve host"):
        f.get("http://no-such-host.invalid/")


def test_a_page_over_the_size_limit_is_refused_while_it_streams(site: Site) -> None:
    site.routes["/huge"] = Route(b"<p>" + b"x" * (1 << 20) + b"</p>", repeat=20)  # 20 MB
    with fetcher(max_bytes=5_000_000) as f, pytest.raises(PageUnusable, match="KIJI_MAX_ARTICLE_BYTES"):
        f.get(site.url("/huge"))


@pytest.mark.parametrize(("ctype", "words"), [("application/pdf", "not an HTML page but a PDF"),
                                              ("image/png", "not an HTML page but 'image/png'")])
def test_a_non_html_page_is_named(site: Site, ctype: str, words: str) -> None:
    site.routes["/doc"] = Route(b"%PDF-1.4", headers={"Content-Type": ctype})
    with fetcher() as f, pytest.raises(PageUnusable, match=words):
        fetch_page(f, site.url("/doc"))


def test_a_page_without_main_text_is_named(site: Site) -> None:
    site.page("/empty", "<html><body><nav><a href='/'>Home</a></nav></body></html>")
    with fetcher() as f, pytest.raises(PageUnusable, match="no main text"):
        fetch_page(f, site.url("/empty"))


def test_robots_txt_is_obeyed_with_its_crawl_delay(site: Site) -> None:
    site.routes["/robots.txt"] = Route(b"User-agent: kiji\nDisallow: /private/\nCrawl-delay: 1\n",
                                       headers={"Content-Type": "text/plain"})
    site.page("/private/a", NEWS.html)
    site.page("/public/a", NEWS.html)
    site.page("/public/b", NOTE.html)
    with fetcher() as f:
        with pytest.raises(FetchRefused, match="robots.txt disallows"):
            f.get(site.url("/private/a"))
        f.get(site.url("/public/a"))
        f.get(site.url("/public/b"))
    assert "/private/a" not in site.paths() and site.paths().count("/robots.txt") == 1
    times = [h.at for h in site.hits]
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:], strict=False))


def test_a_robots_txt_the_server_fails_to_serve_disallows_everything(site: Site) -> None:
    site.routes["/robots.txt"] = Route(b"", status=500)
    site.page("/a", NEWS.html)
    with fetcher() as f, pytest.raises(FetchRefused):
        f.get(site.url("/a"))


def test_one_request_per_host_at_a_time_with_a_pause(site: Site) -> None:
    import threading

    for i in range(4):
        site.routes[f"/p{i}"] = Route(NEWS.html.encode(), delay=0.1)
    gates = HostGates()
    with Fetcher(config(delay=0.2), gates=gates) as f:
        threads = [threading.Thread(target=f.get, args=(site.url(f"/p{i}"),)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert site.most_active == 1
    pages = sorted(h.at for h in site.hits)
    assert all(b - a >= 0.19 for a, b in zip(pages, pages[1:], strict=False))  # the 0.2 s pause


@pytest.mark.parametrize(("encoding", "declared"), [
    ("shift_jis", "header"), ("shift_jis", "meta"), ("euc_jp", "meta"), ("shift_jis", "none")])
def test_japanese_charsets(site: Site, encoding: str, declared: str) -> None:
    html = NOTE.html.replace('<meta charset="utf-8">',
                             f'<meta charset="{encoding}">' if declared == "meta" else "")
    ctype = f"text/html; charset={encoding}" if declared == "header" else "text/html"
    site.routes["/sjis"] = Route(html.encode(encoding), headers={"Content-Type": ctype})
    with fetcher() as f:
        page = fetch_page(f, site.url("/sjis"))
    assert NOTE.body[0] in page.extracted.text


def test_canonical_form() -> None:
    assert canonical_form("HTTPS://Example.COM:443/a?b=1#frag") == "https://example.com/a?b=1"
    assert canonical_form("http://example.com") == "http://example.com/"
    assert canonical_form("http://example.com:8080/x") == "http://example.com:8080/x"


def test_https_connects_to_the_checked_address_and_verifies_the_name(tmp_path: Path) -> None:
    """The fetcher connects to the IP it checked, with the host name as SNI and for the certificate
    check: a certificate for another name is refused."""
    authority = trustme.CA()
    ca = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    with serve(tls=context) as site:
        site.page("/news", NEWS.html)
        with fetcher(ca_bundle=str(ca)) as f:
            page = fetch_page(f, f"https://localhost:{site.port}/news")
            assert NEWS.body[0] in page.extracted.text
            assert {h.headers.get("Host") for h in site.hits} == {f"localhost:{site.port}"}
            with pytest.raises(FetchFailed, match="cannot connect"):  # the certificate names localhost only
                f.get(f"https://127.0.0.1:{site.port}/news")
