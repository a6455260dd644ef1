"""Candidate chunks for a question: dense (FAISS) and lexical (BM25) retrieval, fused.

The dense side understands paraphrase in both languages; the lexical side finds the passage that
actually contains the rare term or figure, which dense search often ranks below passages that are
merely "about the same thing". English questions reach Japanese text lexically through the bridge.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from kiji.retrieval.index.store import LoadedIndex
from kiji.retrieval.language import detect_language
from kiji.retrieval.lexical.bm25 import BM25
from kiji.retrieval.lexical.bridge import EnglishBridge
from kiji.retrieval.lexical.coverage import KATAKANA_TERM, CoverageChecker
from kiji.retrieval.lexical.japanese_bridge import JapaneseBridge
from kiji.retrieval.lexical.tokenizer import JapaneseTokenizer
from kiji.retrieval.models import Language

Mode = Literal["dense", "lexical", "fused", "fused+bridge"]
MODES: tuple[Mode, ...] = ("dense", "lexical", "fused", "fused+bridge")
#: Share of a corpus's sentences in English from which Japanese questions are also translated.
ENGLISH_TEXT_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """Weighted lexical terms of a question, and the ones the corpus has never seen."""

    weights: dict[str, float]
    unknown: tuple[str, ...]
    #: Distinct tokens of the question itself (before any translation).
    n_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Candidate:
    chunk_id: int
    dense: float
    lexical: float
    fused: float


class LexicalSide:
    """BM25 over Sudachi tokens of every chunk (with its title), plus per-sentence token sets."""

    def __init__(self, index: LoadedIndex) -> None:
        self.tokenizer = JapaneseTokenizer()
        docs = []
        for chunk in index.chunks:
            title = index.articles[chunk.article_id].title
            docs.append(self.tokenizer.tokens(f"{title}\n{chunk.text}"))
        self.bm25 = BM25(docs)
        self.sentence_tokens = [
            frozenset(self.tokenizer.tokens(index.articles[a].text[s:e])) for a, s, e in index.sentences
        ]
        self.vocabulary = self.bm25.vocabulary
        #: Each sentence's language, by sentence id (the answer signals read it too).
        self.sentence_languages: list[Language] = [
            detect_language(index.articles[a].text[s:e]) for a, s, e in index.sentences]
        # Japanese questions are translated into the corpus's English words only where there is
        # English text to find (none of the shipped or JSQuAD sentences is English, all of SQuAD's).
        english = self.sentence_languages.count("en")
        self.has_english = english >= ENGLISH_TEXT_SHARE * max(1, len(index.sentences))
        self._bridge: EnglishBridge | None = None
        self._japanese_bridge: JapaneseBridge | None = None
        self._bridge_lock = threading.Lock()
        self.coverage = CoverageChecker(
            self.vocabulary, self.tokenizer, lambda: self.bridge,
            english_for=(lambda term: self.japanese_bridge.translations(term)) if self.has_english else None)

    @property
    def bridge(self) -> EnglishBridge:
        # Built on first English question: JMdict lookups cost a few seconds, Japanese-only
        # deployments never pay them.
        with self._bridge_lock:
            if self._bridge is None:
                self._bridge = EnglishBridge(self.vocabulary, self.tokenizer)
            return self._bridge

    @property
    def japanese_bridge(self) -> JapaneseBridge:
        with self._bridge_lock:
            if self._japanese_bridge is None:
                self._japanese_bridge = JapaneseBridge(self.vocabulary)
            return self._japanese_bridge

    def terms(self, question: str, *, bridge: bool, to_english: bool = False) -> QueryTerms:
        """``bridge``: an English question, translated into the corpus's Japanese terms;
        ``to_english``: a Japanese one, also translated into its English words (if it has any)."""
        weights: dict[str, float] = dict.fromkeys(self.tokenizer.tokens(question), 1.0)
        own = list(weights)
        unknown = tuple(t for t in own if t not in self.vocabulary)
        n_tokens = len(own)
        if bridge:
            for term, weight in self.bridge.expand(question).items():
                weights[term] = max(weights.get(term, 0.0), weight)
        else:
            # アンソロピック in a question, Anthropic in the text: katakana meets Latin letters.
            for tok in unknown:
                latin = self.coverage.latin_for(tok) if KATAKANA_TERM.match(tok) else None
                if latin:
                    weights[latin] = max(weights.get(latin, 0.0), 0.8)
            if to_english and self.has_english:
                for term, weight in self.japanese_bridge.expand(own).items():
                    weights[term] = max(weights.get(term, 0.0), weight)
        return QueryTerms(weights={t: w for t, w in weights.items() if t in self.vocabulary},
                          unknown=unknown, n_tokens=n_tokens)

    def idf(self, term: str) -> float:
        return float(self.bm25.idf(term))


def _minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    return (values - lo) / (hi - lo)


#: Chunks each side (dense, BM25) contributes to fusion before the top ``k`` are taken.
FUSION_POOL = 30


def lexical_pool(terms: QueryTerms | None, lexical: LexicalSide | None, *, mode: Mode,
                 pool: int = FUSION_POOL) -> dict[int, float]:
    """The BM25 side of ``retrieve``: its top ``pool`` chunks with a positive score. It needs no
    query vector, so the engine works it out while the question is being embedded."""
    if mode == "dense" or lexical is None or terms is None or not terms.weights:
        return {}
    scores = lexical.bm25.scores(terms.weights)
    top = np.argsort(-scores)[:pool]
    return {int(i): float(scores[i]) for i in top if scores[i] > 0}


def dense_pool(index: LoadedIndex, qvec: np.ndarray, pool: int = FUSION_POOL) -> dict[int, float]:
    """The dense side of ``retrieve``: its top ``pool`` chunks by cosine, best first."""
    dense_scores, dense_ids = index.vectors.search(qvec[None, :], min(pool, index.vectors.size))
    return {int(i): float(s) for i, s in zip(dense_ids[0], dense_scores[0], strict=True) if i >= 0}


def retrieve(
    index: LoadedIndex,
    qvec: np.ndarray,
    terms: QueryTerms | None,
    lexical: LexicalSide | None,
    *,
    mode: Mode,
    k: int,
    pool: int = FUSION_POOL,
    dense_weight: float = 0.5,
    fusion: str = "weighted",
    per_article: int = 3,
    lexical_top: dict[int, float] | None = None,
    dense_top: dict[int, float] | None = None,
) -> list[Candidate]:
    """Top ``k`` chunks. Fusion: a weighted sum of min-max-normalised dense and BM25 scores over
    the union of both sides' top ``pool`` (chosen over RRF by measurement on the dev set).
    ``lexical_top`` and ``dense_top`` are ``lexical_pool``'s and ``dense_pool``'s answers when the
    caller worked them out beforehand, for the same ``pool``."""
    dense = dict(dense_pool(index, qvec, pool) if dense_top is None else dense_top)
    lex = lexical_pool(terms, lexical, mode=mode, pool=pool) if lexical_top is None else lexical_top
    if mode == "dense" or not lex:
        by_dense = sorted(dense.items(), key=lambda kv: -kv[1])
        return diversify(index, [Candidate(i, s, 0.0, s) for i, s in by_dense], k, per_article)
    ids = sorted(set(dense) | set(lex))
    # Chunks outside the dense top-pool still need a dense score to be comparable.
    missing = [i for i in ids if i not in dense]
    if missing:
        vecs = chunk_vectors(index, missing)
        for i, v in zip(missing, vecs @ qvec, strict=True):
            dense[i] = float(v)
    d = np.array([dense[i] for i in ids], dtype=np.float32)
    lx = np.array([lex.get(i, 0.0) for i in ids], dtype=np.float32)
    fused: np.ndarray
    if mode == "lexical":
        fused = lx
    elif fusion == "rrf":
        rank_d = np.argsort(np.argsort(-d))
        rank_l = np.argsort(np.argsort(-lx))
        fused = dense_weight / (60 + rank_d) + (1 - dense_weight) / (60 + rank_l)
    else:
        fused = dense_weight * _minmax(d) + (1 - dense_weight) * (lx / max(float(lx.max()), 1e-9))
    ranked = [Candidate(ids[j], float(d[j]), float(lx[j]), float(fused[j])) for j in np.argsort(-fused)]
    return diversify(index, ranked, k, per_article)


def diversify(index: LoadedIndex, ranked: list[Candidate], k: int, per_article: int) -> list[Candidate]:
    """Top ``k`` with at most ``per_article`` chunks of one article while others are left: one
    article whose title matches the question must not crowd out the others' answers."""
    picked: list[Candidate] = []
    count: dict[str, int] = {}
    rest: list[Candidate] = []
    for cand in ranked:
        aid = index.chunks[cand.chunk_id].article_id
        if count.get(aid, 0) < per_article:
            picked.append(cand)
            count[aid] = count.get(aid, 0) + 1
        else:
            rest.append(cand)
        if len(picked) == k:
            return picked
    return sorted(picked + rest[: k - len(picked)], key=lambda c: -c.fused)


def chunk_vectors(index: LoadedIndex, ids: Sequence[int]) -> np.ndarray:
    """Stored vectors of some chunks (rows of the FAISS index), stacked."""
    return np.stack([index.vectors.reconstruct(i) for i in ids])
