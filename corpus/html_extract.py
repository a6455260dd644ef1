"""Main text out of an HTML page, by trafilatura: the article body without navigation, sidebars,
share buttons, comments and recommendations, and what the page says about itself (title, author,
publication date, canonical URL, language). ``.html`` files of the corpus and pages fetched by URL
both go through it.

The extracted text becomes the article's ``text``: offsets point into it, and the API returns it, so
a quote from an HTML article is verifiable against what ``GET /v1/articles/{id}`` shows.
(``bench/extraction_bench.py`` measures it against the tag-list extractor it replaced.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LANG = re.compile(r"<html[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Extracted:
    title: str | None
    text: str
    author: str | None = None
    published: str | None = None
    canonical_url: str | None = None
    language: str | None = None


def extract(html: str, url: str | None = None) -> Extracted:
    """The main text ("" when the page has none) and its metadata."""
    import trafilatura  # lxml and its friends: only when there is a page to read

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                      include_tables=True, deduplicate=False)
    if doc is None:
        return Extracted(title=None, text="")
    meta = doc if isinstance(doc, dict) else doc.as_dict()  # as_dict=False answers a Document
    lang = meta.get("language")
    if not lang:
        found = _LANG.search(html[:4096])
        lang = found.group(1).lower() if found else None
    canonical = meta.get("url")
    return Extracted(title=(meta.get("title") or "").strip() or None, text=(meta.get("text") or "").strip(),
                     author=(meta.get("author") or "").strip() or None, published=meta.get("date") or None,
                     canonical_url=canonical if canonical and canonical.startswith(("http://", "https://"))
                     else None, language=lang)
