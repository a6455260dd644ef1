"""HTML pages (``.html``, ``.htm``): the main text, without the page's navigation and furniture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kiji.corpus.article import Article, check_id, derive_title
from kiji.corpus.formats.spec import ArticleFormat
from kiji.errors import ArticleError


def read(path: Path, text: str, max_bytes: int | None) -> Iterator[Article]:
    from kiji.corpus.html_extract import extract_html  # BeautifulSoup: only when there is HTML

    title, body, url = extract_html(text)
    if not body.strip():
        raise ArticleError(path.name, "no main text found in HTML")
    aid = check_id(path.stem, path.name)
    yield Article(id=aid, title=title or derive_title(body, aid), text=body, source=path.name, url=url)


FORMAT = ArticleFormat(
    name="HTML", suffixes=(".html", ".htm"), many=False, read=read,
    summary="the main text (`<article>`, `<main>` or `<body>` without navigation, scripts and "
            "furniture); the title from `<h1>` or `<title>`, the URL from the canonical link")
