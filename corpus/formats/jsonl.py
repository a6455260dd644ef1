"""JSON Lines (``.jsonl``): one article per line, ``{"id", "title", "url", "published", "text"}``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from kiji.corpus.article import Article, check_id, check_record_size, derive_title
from kiji.corpus.formats.spec import ArticleFormat
from kiji.errors import ArticleError


def _record(path: Path, lineno: int, line: str, max_bytes: int | None) -> Article:
    where = f"{path.name}:{lineno}"
    check_record_size(line, where, max_bytes)
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ArticleError(where, f"invalid JSON ({exc.msg})") from None
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise ArticleError(where, "a record needs a string 'text' field")
    body = record["text"]
    if not body.strip():
        raise ArticleError(where, "empty 'text'")
    aid = check_id(str(record.get("id") or f"{path.stem}-{lineno}"), where)
    title = record.get("title")
    return Article(
        id=aid,
        title=str(title).strip() if title else derive_title(body, aid),
        text=body,
        source=where,
        url=str(record["url"]) if record.get("url") else None,
        published=str(record["published"]) if record.get("published") else None,
    )


def read(path: Path, text: str, max_bytes: int | None) -> Iterator[Article | ArticleError]:
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield _record(path, lineno, line, max_bytes)
        except ArticleError as exc:
            yield exc


FORMAT = ArticleFormat(
    name="JSON Lines", suffixes=(".jsonl",), many=True, read=read,
    summary='one article per line: `{"id", "title", "url", "published", "text"}`, `text` required '
            "(a missing id is `<file>-<line>`)")
