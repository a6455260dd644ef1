"""One article and the rules every format reader shares: its id, its title, its text's encoding,
its size limit.

An article's ``text`` is what every offset points into. It is stored in the index as it was at
build time, so a quote can always be sliced from it even if the file changes. The readers that
make articles out of files are in ``kiji.corpus.formats``; reading a folder is ``kiji.corpus.articles``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from kiji.corpus.boilerplate import is_boilerplate_line, is_footer_line
from kiji.corpus.sentences import sentence_spans
from kiji.errors import ArticleError

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


def check_id(article_id: str, source: str) -> str:
    """Ids become parts of URLs and quote ids (``id:start-end``): letters, digits, ``_ . -`` only."""
    if not _ID_RE.match(article_id):
        raise ArticleError(source, f"invalid article id {article_id!r} (letters, digits, _ . - only)")
    return article_id


def size_text(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def too_large(size: int, limit: int) -> str:
    shown, allowed = size_text(size), size_text(limit)
    if shown == allowed:  # just over: rounding would hide the difference
        shown, allowed = f"{size:,} bytes", f"{limit:,} bytes"
    return f"{shown}, over the limit of {allowed} per article (KIJI_MAX_ARTICLE_BYTES)"


def check_record_size(record: str, where: str, max_bytes: int | None) -> None:
    """One record of a many-article file over the per-article limit is refused by name. (Counting
    characters first skips the encode for the usual small record.)"""
    if max_bytes is not None and len(record) > max_bytes // 4 and len(record.encode("utf-8")) > max_bytes:
        raise ArticleError(where, too_large(len(record.encode("utf-8")), max_bytes))
