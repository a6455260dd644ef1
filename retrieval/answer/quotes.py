"""From candidate chunks to quotes: score every sentence of the candidates, pick the best (with
other sources close behind), and check each is verbatim.

Quotes are sentence spans recorded at chunking time, so they are verbatim by construction; the
final check in ``verbatim`` guards that promise anyway.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from kiji.retrieval.answer.tuning import DEFAULT_TUNING, Tuning
from kiji.retrieval.index.store import LoadedIndex
from kiji.retrieval.models import Quote
from kiji.retrieval.search.candidates import Candidate, LexicalSide, QueryTerms

#: A quote shorter than this (a heading, "なぜなのか?") is extended by the next sentence.
_MIN_QUOTE_CHARS = 12
_MAX_QUOTE_CHARS = 400


@dataclass(frozen=True, slots=True)
class Scored:
    sentence_id: int
    chunk_id: int
    article_id: str
    start: int
    end: int
    score: float
    dense: float
    coverage: float


_NUMBER_QUESTION = re.compile(
    r"(いくら|いくつ|何[%％年月日人台倍兆億万個回ドル円]|何パーセント|どれ(くらい|ぐらい|だけ)|何年|いつ|"
    r"\bhow (much|many|long|far|big)\b|\bwhen\b|\bwhat (year|date|percentage)\b|\bsince when\b)",
    re.IGNORECASE)
_DIGIT = re.compile(r"[0-9０-９一二三四五六七八九十百千万億兆]")


def score_sentences(
    index: LoadedIndex,
    candidates: list[Candidate],
    qvec: np.ndarray,
    terms: QueryTerms | None,
    lexical: LexicalSide | None,
    tuning: Tuning = DEFAULT_TUNING,
    boost: Mapping[str, float] | None = None,
    wants_figure: bool = False,
) -> list[Scored]:
    """Every sentence of the candidate chunks, scored by its own similarity to the question, its
    coverage of the question's terms, its chunk's retrieval score, and whether the question names
    its article; best first, no duplicates.

    Sentence similarities of a small multilingual model sit in a narrow band (0.75-0.9), so they are
    min-max scaled over the candidates before they are weighed against term coverage (0-1)."""
    if not candidates:
        return []
    boost = boost or {}
    weights = terms.weights if terms and lexical else {}
    # Weak dictionary guesses help find chunks (BM25) but are too noisy to pick the sentence.
    weighted = [(t, w * lexical.idf(t)) for t, w in weights.items()
                if w >= tuning.coverage_min_weight] if lexical else []
    total_weight = sum(w for _, w in weighted)
    top_fused = max(c.fused for c in candidates) or 1.0
    # Each sentence once, with the best-scoring chunk it appears in (chunks overlap by a sentence).
    rows: dict[int, tuple[Candidate, int, int]] = {}
    for cand in candidates:
        chunk = index.chunks[cand.chunk_id]
        for s, e in chunk.sentences:
            sid = index.sentence_ids[(chunk.article_id, s, e)]
            if sid not in rows or rows[sid][0].fused < cand.fused:
                rows[sid] = (cand, s, e)
    sids = list(rows)
    dense = index.sentence_vectors[sids] @ qvec  # one product for all sentences
    lo, hi = float(dense.min()), float(dense.max())
    span = hi - lo if hi - lo > 1e-6 else 1.0
    out = []
    for sid, d in zip(sids, dense.tolist(), strict=True):
        cand, s, e = rows[sid]
        aid = index.chunks[cand.chunk_id].article_id
        coverage = 0.0
        if total_weight > 0 and lexical is not None:  # weighted terms come only with a lexical side
            toks = lexical.sentence_tokens[sid]
            coverage = sum(w for t, w in weighted if t in toks) / total_weight
        article = index.articles[aid]
        text = article.text[s:e]
        score = (tuning.sentence_dense * (d - lo) / span + tuning.sentence_lexical * coverage
                 + tuning.chunk_weight * cand.fused / top_fused
                 + tuning.reference_boost * boost.get(aid, 0.0))
        if wants_figure and _DIGIT.search(text):
            score += tuning.figure_boost
        if text.strip() == article.title:
            # The headline is embedded with every chunk, so it looks relevant to every question
            # about its topic while answering none of them.
            score -= tuning.title_penalty
        out.append(Scored(sid, cand.chunk_id, aid, s, e, score, d, coverage))
    return sorted(out, key=lambda x: -x.score)


def _quote_span(index: LoadedIndex, item: Scored) -> tuple[int, int]:
    """The sentence, extended by its neighbour in the same chunk when it is too short to stand alone."""
    start, end = item.start, item.end
    if end - start < _MIN_QUOTE_CHARS:
        spans = index.chunks[item.chunk_id].sentences
        pos = spans.index((start, end))
        if pos + 1 < len(spans) and spans[pos + 1][1] - start <= _MAX_QUOTE_CHARS:
            end = spans[pos + 1][1]
    return start, end


def pick_quotes(index: LoadedIndex, scored: list[Scored], *, top_k: int, extra: int = 10,
                tuning: Tuning = DEFAULT_TUNING) -> list[Quote]:
    """Best quote first; then the best quote of each other article that scores close to it (the
    question may be answered by several sources); then the rest by score. ``top_k + extra`` long."""
    if not scored:
        return []
    first = scored[0]
    chosen: list[Scored] = [first]
    seen_articles = {first.article_id}
    for item in scored[1:]:
        if item.article_id not in seen_articles and item.score >= tuning.diversity_ratio * first.score:
            chosen.append(item)
            seen_articles.add(item.article_id)
    chosen_ids = {c.sentence_id for c in chosen}
    chosen += [s for s in scored if s.sentence_id not in chosen_ids]
    quotes: list[Quote] = []
    covered: list[tuple[str, int, int]] = []
    for item in chosen:
        start, end = _quote_span(index, item)
        if any(a == item.article_id and start < e and s < end for a, s, e in covered):
            continue  # an extended quote already includes this sentence
        covered.append((item.article_id, start, end))
        article = index.articles[item.article_id]
        quotes.append(Quote(article_id=article.id, title=article.title, text=article.text[start:end],
                            start=start, end=end, score=round(item.score, 4), url=article.url,
                            chunk_id=item.chunk_id))
        if len(quotes) >= top_k + extra:
            break
    return quotes


def asks_for_number(question: str) -> bool:
    return bool(_NUMBER_QUESTION.search(question))


def verbatim(quote: Quote, index: LoadedIndex) -> bool:
    article = index.articles.get(quote.article_id)
    return article is not None and article.text[quote.start : quote.end] == quote.text


