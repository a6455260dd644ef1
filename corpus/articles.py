"""Reading a corpus folder: which files are articles, and the articles each one holds.

Which suffixes are articles and how each is read is the format registry's
(``kiji.corpus.formats.registry``); this module applies the rules every format shares: the size
limit, binary files, encodings, duplicate ids, bad files collected instead of fatal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Article and text_hash are imported from here by the index (kiji.retrieval.index): kept as names
# of this module.
from kiji.corpus.article import Article, decode_bytes, derive_title, text_hash, too_large
from kiji.corpus.formats.registry import SUPPORTED_SUFFIXES, format_of
from kiji.errors import ArticleError, CorpusError

__all__ = ["Article", "LoadReport", "corpus_files", "derive_title", "load_corpus", "read_file",
           "text_hash", "unsupported"]


@dataclass(frozen=True, slots=True)
class LoadReport:
    articles: list[Article]
    errors: list[ArticleError]


def unsupported(path: Path) -> ArticleError:
    return ArticleError(path.name, f"unsupported file type (use {', '.join(SUPPORTED_SUFFIXES)})")


def read_file(path: Path, *, errors: list[ArticleError] | None = None,
              max_bytes: int | None = None) -> list[Article]:
    """All articles in one file, or ``ArticleError`` naming what is wrong with it.

    With ``errors``, bad records of a many-article file (``.jsonl``, ``.csv``) are appended there and
    its good records still returned (a build skips the bad records, not the whole file); without,
    the first bad record rejects the file (``kiji index add`` refuses it whole). A file with no good
    record raises. ``max_bytes`` bounds one article: a one-article file is checked before it is
    read (an oversized file costs no memory), a many-article file record by record.
    """
    fmt = format_of(path)
    if fmt is None:
        raise unsupported(path)
    try:
        size = path.stat().st_size
        if max_bytes is not None and not fmt.many and size > max_bytes:
            raise ArticleError(path.name, too_large(size, max_bytes))
        data = path.read_bytes()
    except OSError as exc:
        raise ArticleError(path.name, f"cannot read file ({exc.strerror})") from None
    if b"\x00" in data[:4096]:
        raise ArticleError(path.name, "binary file, not text")
    text = decode_bytes(data, path.name)
    found: list[Article] = []
    bad: list[ArticleError] = []
    for item in fmt.read(path, text, max_bytes):
        if isinstance(item, ArticleError):
            if errors is None:
                raise item
            bad.append(item)
        else:
            found.append(item)
    if not found:
        if not fmt.many:  # a reader that found nothing says why; this is only a safety net
            raise bad[0] if bad else ArticleError(path.name, "no article text found")
        raise ArticleError(path.name, f"no valid records ({len(bad)} bad lines; first: {bad[0]})"
                           if bad else "no records")
    if errors is not None:
        errors.extend(bad)
    return found


def corpus_files(paths: Iterable[Path]) -> list[Path]:
    """The article files under ``paths``: a folder's files of a registered suffix (hidden ones
    left out), and files named one by one whatever their suffix (``read_file`` names the problem)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()
                                and format_of(p) is not None
                                and not any(part.startswith(".") for part in p.relative_to(path).parts)))
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(f"corpus path not found: {path}")
    return files


def load_corpus(paths: Iterable[Path] | Path, *, max_article_bytes: int | None = None) -> LoadReport:
    """Read every supported file; broken or oversized files are collected, not fatal. Duplicate
    ids are errors."""
    if isinstance(paths, Path):
        paths = [paths]
    articles: list[Article] = []
    errors: list[ArticleError] = []
    seen: dict[str, str] = {}
    for path in corpus_files(paths):
        try:
            found = read_file(path, errors=errors, max_bytes=max_article_bytes)
        except ArticleError as exc:
            errors.append(exc)
            continue
        for article in found:
            if article.id in seen:
                errors.append(ArticleError(article.source,
                                           f"duplicate article id {article.id!r} (also in {seen[article.id]})"))
                continue
            seen[article.id] = article.source
            articles.append(article)
    return LoadReport(articles=articles, errors=errors)
