"""``kiji index add URL`` through the real script against a site on 127.0.0.1: the page becomes an
article file recording where and when it was fetched, the same canonical URL is the same article,
and every failure is named with its exit status and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiji.retrieval.index.store import current_version, load_current
from tests.cli.fault_walk import ARTICLES
from tests.corpus.web.pages import HATENA, NEWS, NOTE, QIITA
from tests.corpus.web.site import Route, Site, serve
from tests.helpers import corpus_and_index
from tests.kiji_cli import Run, kiji

ALLOW = {"KIJI_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8", "KIJI_FETCH_DELAY": "0",
         "KIJI_FETCH_READ_TIMEOUT": "1"}


@pytest.fixture()
def site() -> Iterator[Site]:
    with serve() as s:
        for page in (NOTE, HATENA, QIITA, NEWS):
            s.page(f"/{page.name}", page.html)
        yield s


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    return corpus_and_index(tmp_path, ARTICLES)


def add(*args: str, env: dict[str, str] | None = None) -> Run:
    return kiji("index", "add", *args, env={**ALLOW, **(env or {})}, timeout=120)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_pages_by_url_are_fetched_extracted_and_published(site: Site, folders: tuple[Path, Path, list[str]]) \
        -> None:
    corpus, index_dir, where = folders
    run = add(site.url("/note"), site.url("/news"), *where)
    assert run.code == 0, run.err
    files = sorted(corpus.glob("web-*.jsonl"))
    assert len(files) == 2
    records = {json.loads(f.read_text())["url"]: json.loads(f.read_text()) for f in files}
    news = records["https://news.example/city/night-buses"]
    assert news["fetched_from"] == site.url("/news") and news["fetched_at"].endswith("+00:00")
    assert news["title"] == "Night buses to reach every district" and news["author"] == "Jane Doe"
    assert all(p in news["text"] for p in NEWS.body) and "Most read" not in news["text"]
    loaded = load_current(index_dir)
    article = loaded.articles[news["id"]]
    assert article.url == "https://news.example/city/night-buses" and article.text == news["text"]
    assert f"added {site.url('/news')} as {news['id']}" in run.err
    # A rebuild never needs the network: the site is gone, the build reads the files.
    site.routes.clear()
    assert kiji("index", "build", "--full", *where).code == 0
    assert news["id"] in load_current(index_dir).articles


def test_the_same_canonical_url_is_the_same_article(site: Site, folders: tuple[Path, Path, list[str]]) -> None:
    corpus, index_dir, where = folders
    assert add(site.url("/qiita"), *where).code == 0
    version, before = current_version(index_dir), snapshot(corpus)
    # Another address of the same page (its canonical link names the same URL): unchanged, no build.
    site.page("/qiita-amp", QIITA.html)
    run = add(site.url("/qiita-amp"), *where)
    assert run.code == 0 and "unchanged" in run.err and "nothing to do" in run.err
    assert current_version(index_dir) == version and snapshot(corpus) == before
    # The page changes: the article is replaced, and the output says so.
    site.page("/qiita", QIITA.html.replace("十に制限", "二十に制限"))
    run = add(site.url("/qiita"), *where)
    assert run.code == 0 and "changed" in run.err and "replaced" in run.err, run.err
    assert current_version(index_dir) != version
    files = list(corpus.glob("web-*.jsonl"))
    assert len(files) == 1 and "二十に制限" in files[0].read_text()


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/missing", 2, "HTTP 404 not found"), ("/gone", 2, "HTTP 410 gone"), ("/broken", 7, "HTTP 503"),
    ("/pdf", 2, "not an HTML page but a PDF"), ("/empty", 2, "no main text"), ("/loop", 2, "redirect loop"),
    ("/private/x", 8, "robots.txt disallows"), ("/slow", 7, "timed out"), ("/huge", 2, "KIJI_MAX_ARTICLE_BYTES")])
def test_bad_pages_are_named_and_change_nothing(site: Site, folders: tuple[Path, Path, list[str]], path: str,
                                                status: int, words: str) -> None:
    corpus, index_dir, where = folders
    site.routes.update({
        "/gone": Route(b"", status=410), "/broken": Route(b"", status=503),
        "/pdf": Route(b"%PDF-1.4", headers={"Content-Type": "application/pdf"}),
        "/empty": Route(b"<html><body><nav>Home</nav></body></html>"),
        "/loop": Route(status=302, headers={"Location": "/loop2"}),
        "/loop2": Route(status=302, headers={"Location": "/loop"}),
        "/robots.txt": Route(b"User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"}),
        "/slow": Route(NEWS.html.encode(), delay=3), "/huge": Route(b"x" * (1 << 20), repeat=20)})
    before, version = snapshot(corpus), current_version(index_dir)
    # the good page beside the bad one is not added either: nothing changes
    run = add(site.url("/news"), site.url(path), *where, env={"KIJI_MAX_ARTICLE_BYTES": "5000000"})
    assert run.code == status, (run.code, run.err)
    assert run.err.startswith("kiji: error: ") and words in run.err and len(run.err_lines) == 1, run.err
    assert snapshot(corpus) == before and current_version(index_dir) == version


def test_loopback_needs_the_allowed_networks_setting(site: Site, folders: tuple[Path, Path, list[str]]) -> None:
    corpus, _, where = folders
    run = add(site.url("/news"), *where, env={"KIJI_FETCH_ALLOWED_NETWORKS": ""})
    assert run.code == 2 and "a loopback address" in run.err and "KIJI_FETCH_ALLOWED_NETWORKS" in run.err
    assert site.hits == [] and not list(corpus.glob("web-*"))


def test_unreachable_hosts_and_invalid_urls(folders: tuple[Path, Path, list[str]]) -> None:
    _, _, where = folders
    with serve() as gone:
        port = gone.port
    run = add(f"http://127.0.0.1:{port}/a", *where)
    assert run.code == 7 and "cannot connect to 127.0.0.1" in run.err, run.err
    run = add("http://no-such-host.invalid/a", *where, env={"KIJI_FETCH_ALLOWED_NETWORKS": ""})
    assert run.code == 7 and "cannot resolve host 'no-such-host.invalid'" in run.err, run.err
    run = add("ftp://example.com/a", *where)
    assert run.code == 2 and "only http and https" in run.err


def test_end_to_end_a_page_by_url_answers_and_its_source_url_leads_back(
        site: Site, folders: tuple[Path, Path, list[str]]) -> None:
    import httpx

    _, _, where = folders
    assert add(site.url("/news"), *where).code == 0
    # the canonical link names news.example, which the test cannot serve: the page says it lives here
    site.page("/city/night-buses", NEWS.html.replace("https://news.example", site.base))
    assert add(site.url("/city/night-buses"), *where).code == 0
    run = kiji("ask", "--json", "How much will the night bus extension cost a year?", *where)
    assert run.code == 0, run.err
    result = json.loads(run.out)
    quotes = [q for q in result["quotes"] + result["related"] if q["url"] and q["url"].startswith(site.base)]
    assert quotes, result
    quote = quotes[0]
    assert quote["source_url"].startswith(site.url("/city/night-buses") + "#:~:text=")
    page = httpx.get(quote["source_url"])  # the fragment stays in the browser: the page is fetched
    assert page.status_code == 200 and quote["text"] in page.text
