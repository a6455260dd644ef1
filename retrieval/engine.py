"""The retrieval core every edge shares: one loaded index + one embedder → answers and passages.

An ``Engine`` is immutable once built. Reloading means building a new one and swapping the
reference, so a request that started on one version finishes on it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from kiji.corpus.articles import Article
from kiji.errors import NotFound
from kiji.retrieval.answer.compose import (
    compose,
    example_questions,
    help_answer,
    sources_differ,
    weaker_marked,
)
from kiji.retrieval.answer.conflicts import instruction_quotes, settle
from kiji.retrieval.answer.contentless import contentless_kind
from kiji.retrieval.answer.model import AnswerModel
from kiji.retrieval.answer.question_signals import question_signals
from kiji.retrieval.answer.quotes import make_quotes, order_sentences, verbatim
from kiji.retrieval.answer.reading_aids import ReadingAids
from kiji.retrieval.answer.signals import Candidates, SignalExtractor
from kiji.retrieval.answer.tuning import DEFAULT_TUNING, RetrievalTuning
from kiji.retrieval.embedding.embedder import Embedder
from kiji.retrieval.index.store import LoadedIndex, check_compatible
from kiji.retrieval.language import detect_language
from kiji.retrieval.models import ArticleInfo, AskResult, Language, Passage
from kiji.retrieval.search.candidates import (
    FUSION_POOL,
    Candidate,
    LexicalSide,
    Mode,
    QueryTerms,
    chunk_vectors,
    dense_pool,
    lexical_pool,
    retrieve,
)
from kiji.retrieval.search.references import drop_reference_words, referenced_articles, without_quoted_titles
from kiji.retrieval.validation import (
    DEFAULT_TOP_K,
    MAX_QUESTION_CHARS,
    MAX_SEARCH_K,
    echo,
    validate_question,
    validate_top_k,
)

#: Example questions in the help reply, and how many composed questions may be asked to find them.
EXAMPLES = 3
EXAMPLE_TRIES = 12

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _lexical_pool() -> ThreadPoolExecutor:
    """Threads that work out a question's lexical side while its asker embeds it; shared by every
    engine."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2),
                                       thread_name_prefix="kiji-lexical")
        return _POOL


@dataclass(frozen=True, slots=True)
class _LexicalPart:
    terms: QueryTerms | None
    missing: list[str]
    specific: int
    lexical_top: dict[int, float]


@dataclass(frozen=True, slots=True)
class Retrieval:
    candidates: list[Candidate]
    terms: QueryTerms | None
    qvec: np.ndarray
    refs: dict[str, float]
    #: Specific question terms the corpus never mentions (see retrieval.coverage).
    missing: list[str]
    #: How many specific terms (names, codes) the question has.
    specific: int = 0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How an engine answers; plain values (kiji.runtime fills them from the settings)."""

    max_question_chars: int = MAX_QUESTION_CHARS
    default_top_k: int = DEFAULT_TOP_K
    #: An extra floor: decline when the best sentence's cosine is below it (``None``: the learned
    #: answer model decides alone).
    min_similarity: float | None = None
    #: The answer model; ``None`` is the shipped one.
    answer_model: AnswerModel | None = None


@dataclass
class Engine:
    index: LoadedIndex
    embedder: Embedder
    max_question_chars: int = MAX_QUESTION_CHARS
    default_top_k: int = DEFAULT_TOP_K
    mode: Mode = "fused+bridge"
    tuning: RetrievalTuning = DEFAULT_TUNING
    model: AnswerModel = field(default_factory=AnswerModel.load)
    min_similarity: float | None = None
    lexical: LexicalSide | None = field(default=None)

    def __post_init__(self) -> None:
        check_compatible(self.index.manifest, fingerprint=self.embedder.fingerprint,
                         dim=self.embedder.dim, runtime=self.embedder.runtime,
                         titled=self.embedder.uses_titles)
        if self.lexical is None:
            self.lexical = LexicalSide(self.index)
        self._titles = {aid: a.title for aid, a in self.index.articles.items()}
        # The language of input in neither script (😂, "?"): the one most of the articles are in.
        languages = self.lexical.sentence_languages
        self._language: Language = "ja" if languages.count("ja") > languages.count("en") else "en"
        self._chunks_of: dict[str, list[int]] = {}
        for i, chunk in enumerate(self.index.chunks):
            self._chunks_of.setdefault(chunk.article_id, []).append(i)
        self._signals = SignalExtractor(self.index, self.lexical)
        self._aids = ReadingAids(self.lexical)
        self._examples: dict[Language, list[str]] = {}
        self._examples_lock = threading.Lock()

    @classmethod
    def configured(cls, config: EngineConfig, index: LoadedIndex, embedder: Embedder) -> Engine:
        return cls(index=index, embedder=embedder, max_question_chars=config.max_question_chars,
                   default_top_k=config.default_top_k, min_similarity=config.min_similarity,
                   model=config.answer_model or AnswerModel.load())

    def with_index(self, index: LoadedIndex) -> Engine:
        """A new engine on another index version, sharing the loaded model."""
        return dataclasses.replace(self, index=index, lexical=None)

    def with_model(self, model: AnswerModel) -> Engine:
        """The same index and embedder, another answer model (cross-validation)."""
        return dataclasses.replace(self, model=model)

    def warm_up(self) -> None:
        """Build what the first English or katakana question would otherwise wait for (the JMdict
        bridges, the katakana → Latin map) and run one query through every stage."""
        if self.lexical is not None:
            _ = self.lexical.bridge
            self.lexical.coverage.latin_for("カタカナ")
            if self.lexical.has_english:
                self.lexical.japanese_bridge.expand(["記事"])
        self.ask("warm-up question about the articles", top_k=1)
        for language in ("ja", "en"):
            self.examples(language)

    def examples(self, language: Language, count: int = EXAMPLES) -> list[str]:
        """Up to ``count`` example questions in ``language``, one per article, each asked through
        this engine and kept only when answered (a composed question the articles do not answer
        would teach a newcomer the wrong thing). Worked out once per engine (index version), at
        warm-up; at most ``EXAMPLE_TRIES`` questions asked."""
        with self._examples_lock:
            found = self._examples.get(language)
            if found is None:
                found, tried = [], 0
                for title in sorted(self._titles.values()):
                    for question in example_questions(language, title):
                        tried += 1
                        if question in found:
                            continue
                        # Asked exactly as a person clicking it will ask it (language detected).
                        reply = self.ask(question)
                        if reply.answered and reply.language == language:
                            found.append(question)
                            break
                    if len(found) >= count or tried >= EXAMPLE_TRIES:
                        break
                self._examples[language] = found
            return list(found)

    @property
    def version(self) -> str:
        return self.index.version

    # --- queries -----------------------------------------------------------------------------

    def language_of(self, text: str) -> Language:
        """The language of a question; text in neither script takes the articles' language."""
        return detect_language(text, self._language)

    def _terms(self, question: str, language: Language, mode: Mode) -> QueryTerms | None:
        if mode == "dense" or self.lexical is None:
            return None
        bridged = mode == "fused+bridge"
        return self.lexical.terms(question, bridge=bridged and language == "en",
                                  to_english=bridged and language == "ja")

    def _lexical(self, question: str, original: str, language: Language, mode: Mode,
                 refs: dict[str, float]) -> _LexicalPart:
        """Everything retrieval needs that does not need the query vector."""
        terms = self._terms(question, language, mode)
        if refs and terms:
            terms = drop_reference_words(terms)
        coverage = self.lexical.coverage if self.lexical is not None and mode != "dense" else None
        named = coverage.specific_terms(original) if coverage else []
        missing = coverage.missing(question, named if question == original else None) if coverage else []
        top = lexical_pool(terms, self.lexical, mode=mode, pool=FUSION_POOL)
        return _LexicalPart(terms, missing, len(named), top)

    def _retrieve(self, question: str, language: Language, k: int, mode: Mode, sentence_hits: int = 0
                  ) -> Retrieval:
        """The top ``k`` chunks, then those of the ``sentence_hits`` best sentences (``_add_sentence_hits``)."""
        original = question
        refs = referenced_articles(question, self._titles)
        if refs:
            # 「DeepSeekその②」を書いた人は? asks about the author: the title only says where to look.
            question = without_quoted_titles(question, self._titles)
        # The lexical side is worked out on another thread while this one embeds the question: the
        # model runs in native code without the GIL. This way round, not the embedding on the pool,
        # because the embedding is the critical path: on the pool it first waited for the GIL that
        # the lexical work held, then for this thread to wake from its wait on the result. The
        # lexical side (~0.5 ms) is done long before the vector. Measured on two cores: ask over a
        # bare encode 1.20-1.23x -> 1.17x in-process; /v1/ask p50 1.30-1.32x -> 1.22-1.28x, and
        # 99 -> 120 requests/s at 8 clients (bench/api_bench.py).
        lexical = _lexical_pool().submit(self._lexical, question, original, language, mode, refs)
        qvec = self.embedder.embed_queries([question])[0]
        part = lexical.result()
        dense_top = dense_pool(self.index, qvec, FUSION_POOL)
        candidates = retrieve(self.index, qvec, part.terms, self.lexical, mode=mode, k=k,
                              dense_weight=self.tuning.fusion_dense_weight, fusion=self.tuning.fusion,
                              per_article=self.tuning.per_article, pool=FUSION_POOL,
                              lexical_top=part.lexical_top, dense_top=dense_top)
        if refs:
            candidates = self._add_referenced(candidates, qvec, refs)
        if mode != "lexical" and sentence_hits:
            candidates = self._add_sentence_hits(candidates, qvec, dense_top, sentence_hits)
        return Retrieval(candidates, part.terms, qvec, refs, part.missing, part.specific)

    def _add_referenced(self, candidates: list[Candidate], qvec: np.ndarray,
                        refs: dict[str, float]) -> list[Candidate]:
        """A named article's best chunks join the candidates even when retrieval missed them."""
        have = {c.chunk_id for c in candidates}
        floor = min((c.fused for c in candidates), default=0.0)
        extra = []
        for aid in refs:
            ids = [i for i in self.chunks_of(aid) if i not in have]
            if not ids:
                continue
            sims = chunk_vectors(self.index, ids) @ qvec
            for j in np.argsort(-sims)[:3]:
                extra.append(Candidate(ids[j], float(sims[j]), 0.0, floor))
        return candidates + extra

    def _add_sentence_hits(self, candidates: list[Candidate], qvec: np.ndarray,
                           dense_top: dict[int, float], count: int) -> list[Candidate]:
        """The chunks of the question's best sentences join the candidates even when fusion left
        them out: a chunk's vector averages its sentences, so the one sentence that answers can sit
        in a chunk ranked low. Sentences are looked for in the dense side's chunks (a bounded cost
        however large the corpus)."""
        chunk_of: dict[int, int] = {}  # each sentence once, with the first pool chunk holding it
        for chunk in dense_top:
            for sid, _, _ in self._signals.chunk_sentences[chunk]:
                chunk_of.setdefault(sid, chunk)
        if not chunk_of:
            return candidates
        sids = np.fromiter(chunk_of, dtype=np.int64, count=len(chunk_of))
        sims = np.asarray(self.index.sentence_vectors[sids] @ qvec)
        have = {c.chunk_id for c in candidates}
        floor = min((c.fused for c in candidates), default=0.0)
        extra = []
        for j in np.argsort(-sims)[:count]:
            chunk = chunk_of[int(sids[j])]
            if chunk not in have:
                have.add(chunk)
                extra.append(Candidate(chunk, dense_top[chunk], 0.0, floor))
        return candidates + extra

    def candidates(self, question: str, language: Language, mode: Mode | None = None, *,
                   within: str | None = None) -> Candidates:
        """The candidate sentences of ``question`` with their signals (what the ranker reads);
        ``within``: only from that article (its best chunks join when retrieval missed them)."""
        mode = mode or self.mode
        r = self._retrieve(question, language, self.tuning.candidate_chunks, mode, self.tuning.sentence_hits)
        if within is not None:
            chunks = self.index.chunks
            kept = [c for c in self._add_referenced(r.candidates, r.qvec, {within: 1.0})
                    if chunks[c.chunk_id].article_id == within]
            r = dataclasses.replace(r, candidates=kept)
        return self._signals.extract(question, r.candidates, r.qvec, r.terms, r.refs, language=language,
                                     missing=len(r.missing), specific=r.specific)

    def ask(self, question: str, *, top_k: int | None = None, language: Language | None = None,
            mode: Mode | None = None, article: str | None = None) -> AskResult:
        """``article``: answer from that article only (an id of ``articles()``; ``NotFound`` else)."""
        started = time.perf_counter()
        if article is not None:
            self.article(article)  # NotFound for an unknown id, before any work
        text = validate_question(question, self.max_question_chars)
        top_k = validate_top_k(self.default_top_k if top_k is None else top_k)
        lang: Language = language or self.language_of(text)
        kind = contentless_kind(text)
        if kind is not None:
            examples = self.examples(lang)
            return AskResult(question=question, language=lang, answered=False,
                             answer=help_answer(lang, examples), quotes=[], contentless=True,
                             examples=examples, index_version=self.version,
                             decision=f"contentless input ({kind})", confidence=0.0,
                             took_ms=round((time.perf_counter() - started) * 1000, 2))
        self.index.mapped.check()  # a mapped file changed under us: IndexCorrupt, not a SIGBUS
        cands = self.candidates(text, lang, mode, within=article)
        model = self.model
        scores = model.ranker.score(cands.matrix) if cands.sentences else np.zeros(0)
        probability = model.answer_probability(question_signals(cands.sentences, scores, cands.facts))
        best_cosine = max((s.dense for s in cands.sentences), default=-1.0)
        answered = probability >= model.threshold and bool(cands.sentences)
        reason = f"answer probability {probability:.3f} (threshold {model.threshold:.3f})"
        if answered and self.min_similarity is not None and best_cosine < self.min_similarity:
            answered = False
            reason += f"; best cosine {best_cosine:.3f} under KIJI_MIN_SIMILARITY"
        order = order_sentences(cands.sentences, scores, model.source_margin)
        considered = [q for q in make_quotes(self.index, cands.sentences, scores, order, limit=top_k + 10)
                      if verbatim(q, self.index)]
        # A relevance floor: a quote far below the best is not shown just to fill top_k.
        floor = (considered[0].score - model.quote_margin) if considered else 0.0
        relevant = [q for q in considered if q.score >= floor]
        if answered and not relevant:  # never "answered" with nothing to quote
            answered = False
            reason += "; no quote to show"
        shown = relevant[:top_k] if answered else []
        # Articles that disagree on the figure asked for: one quote from each, and say so.
        shown, disagree = settle(text, shown, relevant, top_k)
        differ = answered and (disagree or sources_differ(shown))
        facts = cands.facts
        aids = functools.partial(self._aids.annotate, question=text, language=lang, weights=cands.weights,
                                 every_figure=facts.wants_figure or bool(facts.asked & {"number", "date"}))
        more = [q for q in relevant if q not in shown] if answered else []
        shown, more, related = aids(shown), aids(more), aids([] if answered else relevant[:top_k])
        shown = weaker_marked(shown, None if differ else model.source_margin)
        return AskResult(
            question=question, language=lang, answered=answered,
            answer=compose(lang, shown, answered=answered, differ=differ, margin=model.source_margin),
            quotes=shown, more_quotes=more, instruction_quotes=instruction_quotes(shown), related=related,
            sources_differ=differ, index_version=self.version,
            considered=considered, decision=reason, confidence=round(probability, 4),
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    def search(self, query: str, *, k: int = 5, mode: Mode | None = None) -> list[Passage]:
        text = validate_question(query, self.max_question_chars)
        k = validate_top_k(k, MAX_SEARCH_K)
        self.index.mapped.check()
        out = []
        for cand in self._retrieve(text, self.language_of(text), k, mode or self.mode).candidates:
            chunk = self.index.chunks[cand.chunk_id]
            article = self.index.articles[chunk.article_id]
            out.append(Passage(chunk_id=cand.chunk_id, article_id=article.id, title=article.title,
                               text=chunk.text, start=chunk.start, end=chunk.end,
                               score=round(cand.fused, 4), url=article.url))
        return out

    # --- articles ----------------------------------------------------------------------------

    def chunks_of(self, article_id: str) -> list[int]:
        """The ids of an article's chunks, in article order (a table built with the engine)."""
        return self._chunks_of.get(article_id, [])

    def articles(self) -> list[ArticleInfo]:
        return [ArticleInfo(id=a.id, title=a.title, chunks=len(self.chunks_of(a.id)), source=a.source,
                            url=a.url, published=a.published, chars=len(a.text))
                for a in self.index.articles.values()]

    def article(self, article_id: str) -> Article:
        article = self.index.articles.get(article_id)
        if article is None:
            raise NotFound(f"no article with id {echo(article_id)}")
        return article
