"""Plain text and Markdown (``.txt``, ``.md``): the decoded file is the article's text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kiji.corpus.article import Article, check_id, derive_title
from kiji.corpus.boilerplate import content_regions
from kiji.corpus.formats.spec import ArticleFormat
from kiji.errors import ArticleError


def read(path: Path, text: str, max_bytes: int | None) -> Iterator[Article]:
    if not content_regions(text):
        raise ArticleError(path.name, "no article text found")
    aid = check_id(path.stem, path.name)
    yield Article(id=aid, title=derive_title(text, aid), text=text, source=path.name)


FORMAT = ArticleFormat(
    name="Text and Markdown", suffixes=(".txt", ".md"), many=False, read=read,
    summary="the whole file is the article; its title is the first meaningful line (a `# heading` "
            "without the `#`)")
