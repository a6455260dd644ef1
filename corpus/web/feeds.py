"""A feed's entries: RSS and Atom through feedparser, a sitemap.xml (``<urlset>``) read as a list of
pages. Whatever is not one of these is named, not guessed at."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urljoin

from kiji.errors import PageUnusable

_SITEMAP = re.compile(rb"<(?:[\w-]+:)?(urlset|sitemapindex)\b")


@dataclass(frozen=True, slots=True)
class Feed:
    kind: str  # "RSS", "Atom", "sitemap"
    title: str | None
    #: entry page URLs, in the feed's order, each once
    entries: tuple[str, ...]


def _sitemap(body: bytes, url: str) -> Feed:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise PageUnusable(f"{url}: not a feed: the sitemap is not well-formed XML ({exc})") from None
    if root.tag.endswith("sitemapindex"):
        raise PageUnusable(f"{url}: a sitemap index (a list of sitemaps): add each sitemap it lists")
    locs = [el.text.strip() for el in root.iter() if el.tag.endswith("loc") and el.text and el.text.strip()]
    return Feed("sitemap", None, tuple(dict.fromkeys(urljoin(url, loc) for loc in locs)))


def parse_feed(body: bytes, url: str) -> Feed:
    if _SITEMAP.search(body[:2048]):
        return _sitemap(body, url)
    import feedparser

    parsed = feedparser.parse(body)
    version = str(parsed.get("version") or "")
    if not version:
        why = f" ({parsed.get('bozo_exception')})" if parsed.get("bozo") else ""
        raise PageUnusable(f"{url}: not a feed: neither RSS, Atom nor a sitemap{why}")
    links = []
    for entry in parsed.entries:
        link = entry.get("link")
        if isinstance(link, str) and link.strip():
            links.append(urljoin(url, link.strip()))
    if parsed.get("bozo") and not links:
        # feed readers forgive a flawed feed that still lists entries; one that lists none because
        # it is not well-formed is no feed
        raise PageUnusable(f"{url}: not a feed: not well-formed XML ({parsed.get('bozo_exception')})")
    title = parsed.feed.get("title") if parsed.get("feed") else None
    kind = "Atom" if version.startswith("atom") else "RSS"
    return Feed(kind, str(title) if title else None, tuple(dict.fromkeys(links)))
