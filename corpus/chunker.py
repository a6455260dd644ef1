"""Chunks: runs of whole sentences inside one content region, with offsets into the article text.

Chunks never cross a region boundary, so a chunk's ``text`` (``article.text[start:end]``) never
contains a boilerplate line that sat between two paragraphs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from kiji.corpus.article import Article
from kiji.corpus.boilerplate import content_regions
from kiji.corpus.sentences import sentence_spans

#: Where an overlong sentence is cut: after a clause break if one is far enough in, else at a space.
_CLAUSE_BREAKS = "、，,;；：:"
_SPACES = " 　"


@dataclass(frozen=True, slots=True)
class ChunkParams:
    min_chars: int = 150
    max_chars: int = 400
    overlap_sentences: int = 1
    include_footer_posts: bool = False
    #: Longest quotable unit: a longer sentence is cut at its last soft break (comma, semicolon)
    #: before this length, so a quote stays a citation (see ``article_sentences``).
    max_quote_chars: int = 300

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Chunk:
    article_id: str
    start: int
    end: int
    text: str
    #: Sentence spans (absolute offsets) inside the chunk; quotes are picked from these.
    sentences: tuple[tuple[int, int], ...]


def _split_long(text: str, s: int, e: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than ``max_chars`` after its last clause break (comma, semicolon)
    in reach, else at a space, else hard at max_chars."""
    pieces: list[tuple[int, int]] = []
    while e - s > max_chars:
        window = text[s : s + max_chars]
        cut = -1
        for breaks in (_CLAUSE_BREAKS, _SPACES):
            cut = max(window.rfind(ch) for ch in breaks)
            if cut > max_chars // 3:
                break
        cut = s + cut + 1 if cut > max_chars // 3 else s + max_chars
        pieces.append((s, cut))
        s = cut
        while s < e and text[s].isspace():
            s += 1
    if e > s:
        pieces.append((s, e))
    return pieces


def article_sentences(article: Article, params: ChunkParams) -> list[list[tuple[int, int]]]:
    """Sentences grouped by content region."""
    groups = []
    for rs, re_ in content_regions(article.text, include_footer_posts=params.include_footer_posts):
        spans: list[tuple[int, int]] = []
        for s, e in sentence_spans(article.text, rs, re_):
            spans.extend(_split_long(article.text, s, e, min(params.max_chars, params.max_quote_chars)))
        if spans:
            groups.append(spans)
    return groups


def chunk_article(article: Article, params: ChunkParams) -> list[Chunk]:
    chunks: list[Chunk] = []
    for spans in article_sentences(article, params):
        i = 0
        while i < len(spans):
            j = i + 1
            while j < len(spans) and spans[j][1] - spans[i][0] <= params.max_chars:
                j += 1
            # Greedy to max_chars; then back off towards the target if a smaller chunk still
            # reaches min_chars, so chunks stay focused (a fact is easier to find in 250 chars).
            target = (params.min_chars + params.max_chars) // 2
            while j - 1 > i and spans[j - 1][1] - spans[i][0] > target \
                    and spans[j - 2][1] - spans[i][0] >= params.min_chars:
                j -= 1
            start, end = spans[i][0], spans[j - 1][1]
            chunks.append(Chunk(article.id, start, end, article.text[start:end],
                                tuple(spans[i:j])))
            if j >= len(spans):
                break
            i = max(i + 1, j - params.overlap_sentences)
    return chunks
