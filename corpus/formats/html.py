"""HTML pages (``.html``, ``.htm``): the main text by trafilatura, as for pages fetched by URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kiji.corpus.article import Article, check_id, derive_title
from kiji.corpus.boilerplate import content_regions
from kiji.corpus.formats.spec import ArticleFormat
from kiji.errors import ArticleError


def read(path: Path, text: str, max_bytes: int | None) -> Iterator[Article]:
    from kiji.corpus.html_extract import extract  # trafilatura and lxml: only when there is HTML

    found = extract(text)
    if not content_regions(found.text):
        raise ArticleError(path.name, "no main text found in HTML")
    aid = check_id(path.stem, path.name)
    yield Article(id=aid, title=found.title or derive_title(found.text, aid), text=found.text,
                  source=path.name, url=found.canonical_url, published=found.published)


FORMAT = ArticleFormat(
    name="HTML", suffixes=(".html", ".htm"), many=False, read=read,
    summary="the main text by trafilatura (without navigation, sidebars, share buttons, comments "
            "and recommendations); title, publication date and canonical URL from the page")
