"""A URL to an article: fetch it, check it is an HTML page, decode it, extract its main text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from kiji.corpus.boilerplate import content_regions
from kiji.corpus.html_extract import Extracted, extract
from kiji.corpus.web.charset import decode_page
from kiji.corpus.web.fetch import Fetcher
from kiji.errors import PageUnusable

_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True, slots=True)
class WebPage:
    requested: str
    url: str  # after redirects
    canonical: str  # the article's identity: the page's canonical URL, else where it was fetched
    fetched_at: str
    extracted: Extracted
    encoding: str
    #: the server's validators, for the next conditional request (``kiji feed sync``)
    etag: str | None = None
    last_modified: str | None = None


def canonical_form(url: str) -> str:
    """Scheme and host in lower case, no fragment, no default port, a path of at least '/'."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


def check_html(content_type: str, url: str) -> None:
    kind = content_type.split(";")[0].strip().lower()
    if kind and kind not in _HTML_TYPES:
        what = "a PDF" if kind == "application/pdf" else f"{kind!r}"
        raise PageUnusable(f"{url}: not an HTML page but {what}",
                           hint="kiji reads web pages; save other documents as text and `kiji index add` "
                                "the file")


_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"


def conditional(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {"If-None-Match": etag} if etag else {}
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def fetch_page(fetcher: Fetcher, url: str) -> WebPage:
    page = fetch_changed_page(fetcher, url, None, None)
    assert page is not None  # without validators no server answers 304
    return page


def fetch_changed_page(fetcher: Fetcher, url: str, etag: str | None,
                       last_modified: str | None) -> WebPage | None:
    """The page, or None when the server says it has not changed since ``etag`` / ``last_modified``."""
    got = fetcher.get(url, {"Accept": _ACCEPT, **conditional(etag, last_modified)})
    if got.status == 304:
        return None
    check_html(got.content_type, url)
    html, encoding = decode_page(got.body, got.content_type, url)
    found = extract(html, got.url)
    if not content_regions(found.text):  # the rule for text files: nothing but furniture
        raise PageUnusable(f"{url}: no main text found on the page")
    canonical = canonical_form(found.canonical_url or got.url)
    return WebPage(requested=url, url=got.url, canonical=canonical,
                   fetched_at=datetime.now(UTC).isoformat(timespec="seconds"), extracted=found,
                   encoding=encoding, etag=got.headers.get("etag"),
                   last_modified=got.headers.get("last-modified"))
