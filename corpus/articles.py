"""Articles and how they are read from a corpus folder.

An article's ``text`` is what every offset points into: the decoded file for ``.txt``/``.md``, the
extracted main text for ``.html``, the ``text`` field for ``.jsonl`` records. It is stored in the
index as it was at build time, so a quote can always be sliced from it even if the file changes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kiji.corpus.boilerplate import content_regions, is_boilerplate_line, is_footer_line
from kiji.corpus.sentences import sentence_spans
from kiji.errors import ArticleError, CorpusError

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")
_ID_RE = re.compile(r"^[\w.\-]{1,128}$")
_BYLINE_RE = re.compile(r"^(著者|作者|筆者|文|written by|by|author)\s*[:：]", re.IGNORECASE)
_TITLE_MAX = 80
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_MD_RULE = re.compile(r"[-=*_]{3,}")  # a Markdown rule or front-matter fence is not a title


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: str
    text: str
    source: str
    url: str | None = None
    published: str | None = None
    sha256: str = field(default="")

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", text_hash(self.text))

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "text": self.text, "source": self.source,
                "url": self.url, "published": self.published, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Article:
        return cls(**{k: data.get(k) for k in ("id", "title", "text", "source", "url",
                                                 "published", "sha256")})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class LoadReport:
    articles: list[Article]
    errors: list[ArticleError]


def text_hash(text: str) -> str:
    """The sha256 of a text: an article's identity in manifests, a passage's key in the vector cache."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def derive_title(text: str, fallback: str) -> str:
    """The first meaningful line: not page furniture, not a byline; its first sentence if long."""
    for raw_line in text.splitlines():
        line = _MD_HEADING.sub("", raw_line.strip())  # "# Title" in Markdown is "Title"
        if not line or is_boilerplate_line(line) or is_footer_line(line) or _BYLINE_RE.match(line) \
                or _MD_RULE.fullmatch(line):
            continue
        line = line.lstrip("。、.,・ 　")
        if len(line) > _TITLE_MAX:
            first = next(sentence_spans(line), (0, len(line)))
            line = line[first[0] : first[1]]
        if len(line) > _TITLE_MAX:
            line = line[: _TITLE_MAX - 1].rstrip() + "…"
        line = line.rstrip("。．.")
        if line:
            return line
    return fallback


def decode_bytes(data: bytes, source: str) -> str:
    """UTF-8 first (with or without BOM); other encodings only when detection is confident."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding in {"ascii"} or best.chaos > 0.2:
        raise ArticleError(source, "not UTF-8 and no other text encoding could be detected")
    return str(best)


def _check_id(article_id: str, source: str) -> str:
    if not _ID_RE.match(article_id):
        raise ArticleError(source, f"invalid article id {article_id!r} (letters, digits, _ . - only)")
    return article_id


def _plain(path: Path, text: str) -> Iterator[Article]:
    if not content_regions(text):
        raise ArticleError(path.name, "no article text found")
    aid = _check_id(path.stem, path.name)
    yield Article(id=aid, title=derive_title(text, aid), text=text, source=path.name)


def _html(path: Path, text: str) -> Iterator[Article]:
    from kiji.corpus.html_extract import extract_html

    title, body, url = extract_html(text)
    if not body.strip():
        raise ArticleError(path.name, "no main text found in HTML")
    aid = _check_id(path.stem, path.name)
    yield Article(id=aid, title=title or derive_title(body, aid), text=body, source=path.name, url=url)


def size_text(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def too_large(size: int, limit: int) -> str:
    shown, allowed = size_text(size), size_text(limit)
    if shown == allowed:  # just over: rounding would hide the difference
        shown, allowed = f"{size:,} bytes", f"{limit:,} bytes"
    return f"{shown}, over the limit of {allowed} per article (KIJI_MAX_ARTICLE_BYTES)"


def _jsonl_record(path: Path, lineno: int, line: str, max_bytes: int | None = None) -> Article:
    where = f"{path.name}:{lineno}"
    if max_bytes is not None and len(line) > max_bytes // 4 and len(line.encode("utf-8")) > max_bytes:
        raise ArticleError(where, too_large(len(line.encode("utf-8")), max_bytes))
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ArticleError(where, f"invalid JSON ({exc.msg})") from None
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise ArticleError(where, "a record needs a string 'text' field")
    body = record["text"]
    if not body.strip():
        raise ArticleError(where, "empty 'text'")
    aid = _check_id(str(record.get("id") or f"{path.stem}-{lineno}"), where)
    title = record.get("title")
    return Article(
        id=aid,
        title=str(title).strip() if title else derive_title(body, aid),
        text=body,
        source=where,
        url=str(record["url"]) if record.get("url") else None,
        published=str(record["published"]) if record.get("published") else None,
    )


def _jsonl(path: Path, text: str, errors: list[ArticleError] | None = None,
           max_bytes: int | None = None) -> Iterator[Article]:
    """One article per line. With ``errors``, a bad line is collected there and the rest are read;
    without, the first bad line rejects the file (``kiji index add`` refuses it whole)."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            article = _jsonl_record(path, lineno, line, max_bytes)
        except ArticleError as exc:
            if errors is None:
                raise
            errors.append(exc)
            continue
        yield article


_READERS = {".txt": _plain, ".md": _plain, ".html": _html, ".htm": _html, ".jsonl": _jsonl}


def read_file(path: Path, *, errors: list[ArticleError] | None = None,
              max_bytes: int | None = None) -> list[Article]:
    """All articles in one file, or ``ArticleError`` naming what is wrong with it.

    With ``errors``, bad records of a ``.jsonl`` file are appended there and its good records still
    returned (a build skips the bad lines, not the whole file); a file with no good record raises.
    ``max_bytes`` bounds one article: a ``.txt``/``.md``/``.html`` file, or one ``.jsonl`` record
    (checked before reading, so an oversized file costs no memory).
    """
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ArticleError(path.name, f"unsupported file type (use {', '.join(SUPPORTED_SUFFIXES)})")
    try:
        size = path.stat().st_size
        if max_bytes is not None and reader is not _jsonl and size > max_bytes:
            raise ArticleError(path.name, too_large(size, max_bytes))
        data = path.read_bytes()
    except OSError as exc:
        raise ArticleError(path.name, f"cannot read file ({exc.strerror})") from None
    if b"\x00" in data[:4096]:
        raise ArticleError(path.name, "binary file, not text")
    text = decode_bytes(data, path.name)
    if reader is not _jsonl:
        return list(reader(path, text))
    bad: list[ArticleError] = []
    found = list(_jsonl(path, text, bad if errors is not None else None, max_bytes))
    if not found:
        raise ArticleError(path.name, f"no valid records ({len(bad)} bad lines; first: {bad[0]})"
                           if bad else "no records")
    if errors is not None:
        errors.extend(bad)
    return found


def corpus_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()
                                and p.suffix.lower() in SUPPORTED_SUFFIXES
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
