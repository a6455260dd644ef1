"""Main text out of an HTML page: the article body, one block per line, page chrome removed.

The extracted text becomes the article's ``text``: offsets point into it, and the API returns it, so
a quote from an HTML article is verifiable against what ``GET /v1/articles/{id}`` shows.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

_DROP = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe",
         "svg", "button", "template")
_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "tr", "div",
           "section", "article", "br", "dd", "dt", "figcaption")
_SPACES = re.compile(r"[ \t\u00a0]+")


def extract_html(html: str) -> tuple[str | None, str, str | None]:
    """Return ``(title, text, url)``."""
    soup = BeautifulSoup(html, "html.parser")
    url = None
    canonical = soup.find("link", rel="canonical")
    if canonical and canonical.get("href"):
        url = str(canonical["href"])
    else:
        og = soup.find("meta", property="og:url")
        if og and og.get("content"):
            url = str(og["content"])
    h1 = soup.find("h1")
    title = h1.get_text(" ", strip=True) if h1 else None
    if not title and soup.title and soup.title.string:
        title = soup.title.string.strip()
    for tag in soup(_DROP):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    for tag in root.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (_SPACES.sub(" ", line).strip() for line in root.get_text().splitlines())
    text = "\n".join(line for line in lines if line)
    return (title or None), text, url
