"""Finding the parts of a scraped page that are page furniture rather than the article.

Works line by line on the raw text and returns the *content regions* as spans, so chunks keep exact
offsets. Two kinds of furniture: single lines (skip links, image markdown, "3,146 文字", a lone
"Comments") and footers that start a run of unrelated material ("Popular posts from this blog" and
the other posts after it) which is dropped to the end of the text. Off-topic prose written by the
author (a chatty opening) is content and stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Page furniture that is never the author's words (the reader showed 「![見出し画像](https://…)」 and
# 「2,088 文字」 lines). Like every boilerplate line it is in no chunk, so never embedded or quoted;
# unlike the others (a lone "Comments", a bare link may be an author's) the reader hides it too.
# It stays in the article's text: quote offsets point into the file as written, so anyone can check
# a quote against the file itself (text == file[start:end]).
_FURNITURE_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"skip to (main )?content",
        r"!\[[^\]]*\]\([^)]*\)",  # markdown image
        r"<img\b[^>]*>",
        r"[\d,，]+\s*(文字|字|characters|words|chars)",  # note.com style length lines
        r"(約)?\d+\s*(分|min(ute)?s?)\s*(で読めます|read)",
    )
]

# Boilerplate lines: the furniture above, and lines that may be an author's but are no article
# content either (a lone "Comments", a bare link, a date stamp). Chunks skip every one of them.
_LINE_PATTERNS = _FURNITURE_PATTERNS + [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(comments?|コメント|share|シェア|labels?|tags?|タグ|menu|メニュー|home|ホーム|"
        r"advertisement|広告|スキ|いいね|follow|フォロー)(\s*\(?\d*\)?)?",
        r"https?://\S+",  # a bare link on its own line
        r"(posted|投稿日?|公開日|更新日)\s*[:：]?\s*[\d/年月日.\- :]+",
    )
]


# A footer line after which nothing belongs to the article.
_FOOTER_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"popular posts( from this blog)?",
        r"(related|recent|more|other) (posts|articles|stories)",
        r"you (may|might) also like",
        r"(この(ブログ|サイト)の)?人気の(投稿|記事)",
        r"(関連|おすすめ|新着|最近)の?(記事|投稿)",
        r"この記事が(気に入ったら|参加している募集)",
    )
]


def is_boilerplate_line(line: str) -> bool:
    stripped = line.strip()
    return any(p.fullmatch(stripped) for p in _LINE_PATTERNS)


def is_footer_line(line: str) -> bool:
    stripped = line.strip()
    return any(p.fullmatch(stripped) for p in _FOOTER_PATTERNS)


def is_furniture_line(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and any(p.fullmatch(stripped) for p in _FURNITURE_PATTERNS)


def furniture_spans(text: str) -> list[tuple[int, int]]:
    """The spans of ``text``'s page-furniture lines, each with its line break (what a reader hides)."""
    spans = []
    pos = 0
    for line in text.splitlines(keepends=True):
        if is_furniture_line(line):
            spans.append((pos, pos + len(line)))
        pos += len(line)
    return spans


def _lines(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for line in text.splitlines(keepends=True):
        yield pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)


def content_regions(text: str, *, include_footer_posts: bool = False) -> list[tuple[int, int]]:
    """Spans of ``text`` that hold article content; boilerplate lines split regions."""
    regions: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for start, end in _lines(text):
        line = text[start:end]
        if is_footer_line(line) and not include_footer_posts:
            break
        if is_boilerplate_line(line) or is_footer_line(line):
            if current:
                regions.append(current)
            current = None
            continue
        if not line.strip():
            continue
        current = (current[0], end) if current else (start, end)
    if current:
        regions.append(current)
    return regions
