"""``kiji feed add | list | remove | sync`` through the real script against a site on 127.0.0.1: RSS
and Atom feeds whose entries change between syncs, a sitemap, conditional requests, a failing
entry, a document that is no feed, --prune, a kill half-way, and the end to end path from a feed to
an answer whose source_url leads back to the post."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from kiji.retrieval.index.store import current_version, load_current
from tests.cli.fault_walk import ARTICLES
from tests.corpus.web.pages import HATENA, NEWS, NOTE, QIITA, FixturePage
from tests.corpus.web.site import Route, Site, serve
from tests.helpers import build_fake_index, corpus_and_index
from tests.kiji_cli import KIJI, Run, fake_env, kiji

ENV = {"KIJI_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8", "KIJI_FETCH_DELAY": "0", "KIJI_FETCH_READ_TIMEOUT": "2"}


def rss(site: Site, paths: list[str]) -> str:
    items = "".join(f"<item><title>{p}</title><link>{site.url(p)}</link></item>" for p in paths)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>{items}</channel></rss>'


def atom(site: Site, paths: list[str]) -> str:
    entries = "".join(f'<entry><title>{p}</title><id>{p}</id><link href="{site.url(p)}"/>'
                      f"<updated>2025-01-01T00:00:00Z</updated></entry>" for p in paths)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>News</title><id>urn:x</id><updated>2025-01-01T00:00:00Z</updated>{entries}</feed>")


def with_etag(body: str, content_type: str = "text/html; charset=utf-8") -> Callable[[dict[str, str]], Route]:
    """A route that answers 304 to a request carrying its ETag."""
    tag = f'"{abs(hash(body))}"'

    def route(headers: dict[str, str]) -> Route:
        if headers.get("If-None-Match") == tag:
            return Route(b"", status=304, headers={"ETag": tag})
        return Route(body.encode(), headers={"Content-Type": content_type, "ETag": tag})

    return route


def own(page: FixturePage, site: Site, path: str) -> str:
    """The page with its canonical link pointing at where the test serves it."""
    return page.html.replace(page.html.split('rel="canonical" href="')[1].split('"')[0], site.url(path))


@pytest.fixture()
def site() -> Iterator[Site]:
    with serve() as s:
        yield s


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    return corpus_and_index(tmp_path, ARTICLES)


def feed(*args: str) -> Run:
    return kiji("feed", *args, env=ENV, timeout=120)


def last(run: Run) -> str:
    """The summary line (a build's own report comes before it)."""
    return run.out.strip().splitlines()[-1]


def web_files(corpus: Path) -> dict[str, dict[str, str]]:
    return {json.loads(p.read_text())["url"]: json.loads(p.read_text()) for p in corpus.glob("web-*.jsonl")}


def test_rss_and_atom_feeds_sync_new_changed_and_unchanged_entries(site: Site,
                                                                   folders: tuple[Path, Path, list[str]]) -> None:
    corpus, index_dir, where = folders
    site.routes["/blog/rss.xml"] = with_etag(rss(site, ["/blog/1", "/blog/2"]), "application/rss+xml")
    site.routes["/news/atom.xml"] = with_etag(atom(site, ["/news/a"]), "application/atom+xml")
    site.routes["/blog/1"] = with_etag(own(NOTE, site, "/blog/1"))
    site.routes["/blog/2"] = with_etag(own(HATENA, site, "/blog/2"))
    site.routes["/news/a"] = with_etag(own(NEWS, site, "/news/a"))
    assert feed("add", site.url("/blog/rss.xml"), *where).code == 0
    run = feed("add", site.url("/news/atom.xml"), *where)
    assert run.code == 0 and "Atom, 1 entries" in run.out, run.err
    listing = feed("list", *where)
    assert site.url("/blog/rss.xml") in listing.out and "RSS" in listing.out
    assert (corpus / ".kiji-feeds.json").is_file()

    run = feed("sync", *where)
    assert run.code == 0, run.err
    assert last(run) == "feed sync: 3 added, 0 changed, 0 unchanged, 0 failed"
    assert set(web_files(corpus)) == {site.url("/blog/1"), site.url("/blog/2"), site.url("/news/a")}
    first = current_version(index_dir)

    # Nothing changed: every request is conditional and answered 304; no build.
    site.hits.clear()
    run = feed("sync", *where)
    assert last(run) == "feed sync: 0 added, 0 changed, 3 unchanged, 0 failed", run.err
    assert current_version(index_dir) == first
    conditional = [h for h in site.hits if h.path != "/robots.txt"]
    assert conditional and all("If-None-Match" in h.headers for h in conditional)

    # A new post, a changed post, one removed from the feed (kept without --prune): one build.
    site.routes["/blog/rss.xml"] = with_etag(rss(site, ["/blog/3", "/blog/1"]), "application/rss+xml")
    site.routes["/blog/3"] = with_etag(own(QIITA, site, "/blog/3"))
    site.routes["/blog/1"] = with_etag(own(NOTE, site, "/blog/1").replace("三軒", "四軒"))
    run = feed("sync", *where)
    assert last(run) == "feed sync: 1 added, 1 changed, 1 unchanged, 0 failed", run.err
    files = web_files(corpus)
    assert len(files) == 4 and "四軒" in files[site.url("/blog/1")]["text"]
    assert run.out.count("published index version") == 1  # one build for the whole sync
    run = feed("sync", "--prune", *where)
    assert run.code == 0 and ", 1 removed" in run.out and site.url("/blog/2") not in web_files(corpus)

    assert feed("remove", site.url("/news/atom.xml"), *where).code == 0
    assert site.url("/news/atom.xml") not in feed("list", *where).out
    assert feed("remove", site.url("/news/atom.xml"), *where).code == 2


def test_a_sitemap_is_a_feed_and_failing_entries_are_listed(site: Site,
                                                            folders: tuple[Path, Path, list[str]]) -> None:
    corpus, _, where = folders
    urls = "".join(f"<url><loc>{site.url(p)}</loc></url>" for p in ("/a", "/missing", "/pdf"))
    site.page("/sitemap.xml", f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                              f'sitemap/0.9">{urls}</urlset>', headers={"Content-Type": "application/xml"})
    site.page("/a", own(NEWS, site, "/a"))
    site.routes["/pdf"] = Route(b"%PDF", headers={"Content-Type": "application/pdf"})
    assert feed("add", site.url("/sitemap.xml"), *where).code == 0
    run = feed("sync", *where)
    assert run.code == 0
    assert last(run) == "feed sync: 1 added, 0 changed, 0 unchanged, 2 failed"
    assert f"failed {site.url('/missing')}: " in run.err and "HTTP 404" in run.err
    assert "not an HTML page but a PDF" in run.err
    assert list(web_files(corpus)) == [site.url("/a")]


def test_a_document_that_is_no_feed_is_refused(site: Site, folders: tuple[Path, Path, list[str]]) -> None:
    corpus, _, where = folders
    site.page("/page", NEWS.html)
    site.page("/broken.xml", "<rss><channel><item>", headers={"Content-Type": "application/rss+xml"})
    for path in ("/page", "/broken.xml"):
        run = feed("add", site.url(path), *where)
        assert run.code == 2 and "not a feed" in run.err, run.err
    assert not (corpus / ".kiji-feeds.json").exists()
    assert feed("sync", *where).code == 2  # no feeds: said so


def test_a_sync_killed_half_way_changes_nothing(site: Site, folders: tuple[Path, Path, list[str]]) -> None:
    corpus, index_dir, where = folders
    site.page("/rss.xml", rss(site, ["/p1", "/p2"]), headers={"Content-Type": "application/rss+xml"})
    site.page("/p1", own(NOTE, site, "/p1"))
    site.routes["/p2"] = Route(own(NEWS, site, "/p2").encode(), delay=30)
    assert feed("add", site.url("/rss.xml"), *where).code == 0
    before = {p.name: p.read_bytes() for p in corpus.iterdir()}
    version = current_version(index_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIJI_")}
    env.update({**fake_env(), **ENV, "KIJI_FETCH_READ_TIMEOUT": "60"})
    proc = subprocess.Popen([str(KIJI), "feed", "sync", *where], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while "/p2" not in site.paths() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert {p.name: p.read_bytes() for p in corpus.iterdir()} == before
    assert current_version(index_dir) == version
    site.routes["/p2"] = Route(own(NEWS, site, "/p2").encode())
    assert last(feed("sync", *where)) == "feed sync: 2 added, 0 changed, 0 unchanged, 0 failed"


def test_end_to_end_a_new_post_answers_and_its_source_url_leads_to_it(
        site: Site, folders: tuple[Path, Path, list[str]]) -> None:
    _, index_dir, where = folders
    site.page("/rss.xml", rss(site, ["/post/1"]), headers={"Content-Type": "application/rss+xml"})
    site.page("/post/1", own(HATENA, site, "/post/1"))
    assert feed("add", site.url("/rss.xml"), *where).code == 0
    assert feed("sync", *where).code == 0
    # a new post appears in the feed
    site.page("/rss.xml", rss(site, ["/post/2", "/post/1"]), headers={"Content-Type": "application/rss+xml"})
    site.page("/post/2", own(NEWS, site, "/post/2"))
    assert last(feed("sync", *where)).startswith("feed sync: 1 added")
    assert any(a.url == site.url("/post/2") for a in load_current(index_dir).articles.values())
    run = kiji("ask", "--json", "How much will the night bus extension cost a year?", *where)
    result = json.loads(run.out)
    quote = next(q for q in result["quotes"] + result["related"] if q["url"] == site.url("/post/2"))
    assert quote["source_url"].startswith(site.url("/post/2") + "#:~:text=")
    page = httpx.get(quote["source_url"])
    assert page.status_code == 200 and quote["text"] in page.text


def test_a_sync_killed_during_its_build_leaves_corpus_and_index_as_before(
        site: Site, folders: tuple[Path, Path, list[str]]) -> None:
    """Killed while the corpus change is in flight (its journal exists, the build runs): the served
    version is the old one, and the next command that reads the corpus restores it first."""
    corpus, index_dir, where = folders
    posts = [f"/p{i}" for i in range(12)]
    site.page("/rss.xml", rss(site, posts), headers={"Content-Type": "application/rss+xml"})
    for i, path in enumerate(posts):
        site.page(path, own(NEWS, site, path).replace("twelve districts", f"{i + 2} districts"))
    assert feed("add", site.url("/rss.xml"), *where).code == 0
    before = {p.name: p.read_bytes() for p in corpus.iterdir() if p.is_file()}
    version = current_version(index_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIJI_")}
    env.update({**fake_env(), **ENV})
    journal = corpus / ".kiji-transaction"
    caught = False
    for _ in range(5):  # the window is short with the fake embedder: try until the kill lands in it
        proc = subprocess.Popen([str(KIJI), "feed", "sync", *where], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        while proc.poll() is None and not journal.exists():
            time.sleep(0.001)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            caught = True
        proc.wait()
        if caught:
            break
        # it finished first: back to the start for another try
        for p in corpus.glob("web-*.jsonl"):
            p.unlink()
        build_fake_index(index_dir, corpus=corpus)
        version = current_version(index_dir)
    assert caught, "the sync never got killed inside its build"
    assert current_version(index_dir) == version  # nothing half-published is served
    assert kiji("index", "build", "--if-changed", *where).code == 0  # recovers the folder first
    assert {p.name: p.read_bytes() for p in corpus.iterdir() if p.is_file()} == before
    assert current_version(index_dir) == version
    assert last(feed("sync", *where)) == "feed sync: 12 added, 0 changed, 0 unchanged, 0 failed"
