"""From ranked candidate sentences to quotes: the best first, other sources close behind it, each
checked to be verbatim.

Quotes are sentence spans recorded at chunking time, so they are verbatim by construction; the
final check in ``verbatim`` guards that promise anyway.
"""

from __future__ import annotations

import numpy as np

from kiji.retrieval.answer.signals import Sentence
from kiji.retrieval.index.store import LoadedIndex
from kiji.retrieval.models import Quote

#: A quote shorter than this (a heading, "なぜなのか?") is extended by the next sentence.
_MIN_QUOTE_CHARS = 12
_MAX_QUOTE_CHARS = 400


def _quote_span(index: LoadedIndex, item: Sentence) -> tuple[int, int]:
    """The sentence, extended by its neighbour in the same chunk when it is too short to stand alone."""
    start, end = item.start, item.end
    if end - start < _MIN_QUOTE_CHARS:
        spans = index.chunks[item.chunk_id].sentences
        pos = spans.index((start, end))
        if pos + 1 < len(spans) and spans[pos + 1][1] - start <= _MAX_QUOTE_CHARS:
            end = spans[pos + 1][1]
    return start, end


def order_sentences(sentences: list[Sentence], scores: np.ndarray, source_margin: float) -> list[int]:
    """Positions best first; other articles' best sentences within ``source_margin`` of the best
    come right after it, so a question several articles answer is quoted from several of them."""
    ranked = [int(i) for i in np.argsort(-scores, kind="stable")]
    if not ranked:
        return []
    best = float(scores[ranked[0]])
    first = [ranked[0]]
    seen = {sentences[ranked[0]].article_id}
    for i in ranked[1:]:
        if sentences[i].article_id not in seen and scores[i] >= best - source_margin:
            first.append(i)
            seen.add(sentences[i].article_id)
    chosen = set(first)
    return first + [i for i in ranked if i not in chosen]


def make_quotes(index: LoadedIndex, sentences: list[Sentence], scores: np.ndarray, order: list[int],
                *, limit: int) -> list[Quote]:
    """Quotes for the sentences in ``order`` (a sentence already inside an extended quote is
    skipped), at most ``limit``."""
    quotes: list[Quote] = []
    covered: list[tuple[str, int, int]] = []
    for i in order:
        item = sentences[i]
        start, end = _quote_span(index, item)
        if any(a == item.article_id and start < e and s < end for a, s, e in covered):
            continue
        covered.append((item.article_id, start, end))
        article = index.articles[item.article_id]
        quotes.append(Quote(article_id=article.id, title=article.title, text=article.text[start:end],
                            start=start, end=end, score=round(float(scores[i]), 4), url=article.url,
                            chunk_id=item.chunk_id))
        if len(quotes) >= limit:
            break
    return quotes


def verbatim(quote: Quote, index: LoadedIndex) -> bool:
    article = index.articles.get(quote.article_id)
    return article is not None and article.text[quote.start : quote.end] == quote.text


