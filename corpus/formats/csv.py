"""CSV (``.csv``): one article per row under a header row of ``id,title,url,body``.

``body`` is required (the article's text, what quotes point into); ``id`` defaults to
``<file>-<line>``, ``title`` to the body's first meaningful line; ``url`` and ``published`` are
optional. A column kiji does not know is refused by name (``boddy`` is a typo, not data to drop).
A bad row is named by the line it starts on (``feed.csv:7``) and skipped; the other rows are read.

Python's csv module refuses a field over ``csv.field_size_limit()`` (128 KiB by default), far
below the per-article limit. The limit is process-wide, so it is only ever raised, to the size of
the file at hand (no field can be longer): the article size rule stays ``KIJI_MAX_ARTICLE_BYTES``,
checked per row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from kiji.corpus.article import Article, check_id, check_record_size, derive_title
from kiji.corpus.formats.spec import ArticleFormat
from kiji.errors import ArticleError

COLUMNS = ("id", "title", "url", "published", "body")


def _allow_fields_of(text: str) -> None:
    needed = len(text) + 1
    if csv.field_size_limit() < needed:
        csv.field_size_limit(needed)


def _article(path: Path, where: str, line: int, row: dict[str, str]) -> Article:
    body = row.get("body") or ""
    if not body.strip():
        raise ArticleError(where, "empty 'body'")
    aid = check_id((row.get("id") or "").strip() or f"{path.stem}-{line}", where)
    title = (row.get("title") or "").strip()
    return Article(id=aid, title=title or derive_title(body, aid), text=body, source=where,
                   url=(row.get("url") or "").strip() or None,
                   published=(row.get("published") or "").strip() or None)


def read(path: Path, text: str, max_bytes: int | None) -> Iterator[Article | ArticleError]:
    _allow_fields_of(text)
    # newline="": quoted fields keep their own line breaks (\r\n included) as written.
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(rows, None)
    except csv.Error as exc:
        raise ArticleError(f"{path.name}:1", f"unreadable CSV header ({exc})") from None
    names = [name.strip().lower() for name in header or []]
    if "body" not in names:
        raise ArticleError(path.name, "a CSV needs a header row naming its columns: id,title,url,body "
                                      "(body required)")
    unknown = sorted({n for n in names if n not in COLUMNS})
    if unknown or len(set(names)) != len(names):
        what = f"unknown column(s) {', '.join(map(repr, unknown))}" if unknown else "a column named twice"
        raise ArticleError(path.name, f"{what} in the header (known: {', '.join(COLUMNS)})")
    line = rows.line_num + 1  # where the next row starts
    while True:
        where = f"{path.name}:{line}"
        try:
            values = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a NUL byte: the rest of the file cannot be split into rows
            yield ArticleError(where, f"unreadable CSV from here on ({exc})")
            return
        start, line = line, rows.line_num + 1
        if not any(v.strip() for v in values):
            continue  # a blank line between rows
        if len(values) != len(names):
            yield ArticleError(where, f"{len(values)} fields, the header has {len(names)} "
                                      "(a comma in a field needs the field in double quotes)")
            continue
        try:
            check_record_size(values[names.index("body")], where, max_bytes)
            yield _article(path, where, start, dict(zip(names, values, strict=True)))
        except ArticleError as exc:
            yield exc


FORMAT = ArticleFormat(
    name="CSV", suffixes=(".csv",), many=True, read=read,
    summary="one article per row under a header row `id,title,url,body` (`published` optional; "
            "`body` required; a missing id is `<file>-<line>`)")
