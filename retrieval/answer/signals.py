"""The named signals the learned ranker reads: one row of ``SENTENCE_SIGNALS`` for every candidate
sentence (the sentences of the retrieved chunks). The answer/decline model's row for the question as a
whole, made from these sentences as the ranker ordered them, is in ``question_signals.py``.

Scores are expressed relative to something of the same question — the best candidate, or the
question's similarity to the corpus as a whole (its *background*) — because raw cosines of a small
multilingual model differ from corpus to corpus: on the shipped articles an answerable question's
best sentence sits at cosine 0.86, on JSQuAD at 0.91, and an out-of-corpus one at 0.84 on both.
The background turns that into "how far above everything else in this corpus", which carries over.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from kiji.retrieval.answer.answer_types import asked_types, held_types
from kiji.retrieval.answer.stated import numbers_in, question_negated, states_negation
from kiji.retrieval.answer.units import Unit, asked_units, holds_units, unit_terms
from kiji.retrieval.index.store import LoadedIndex
from kiji.retrieval.language import detect_language
from kiji.retrieval.models import Language
from kiji.retrieval.search.candidates import Candidate, LexicalSide, QueryTerms

SENTENCE_SIGNALS: tuple[str, ...] = (
    "dense_gap",        # sentence cosine − the best candidate sentence's cosine
    "dense_z",          # sentence cosine against the question's background (z-score)
    "chunk_dense_gap",  # its chunk's cosine − the best chunk's
    "chunk_bm25",       # its chunk's BM25 / the best chunk's BM25
    "coverage",         # idf-weighted share of the confident question terms the sentence holds
    "coverage_loose",   # the same with loose dictionary translations counted
    "neighbour_gap",    # best cosine of the sentences before/after it − the best candidate's
    "is_headline",      # the sentence is the article's title (embedded with every chunk)
    "is_first",         # first sentence of its article
    "position",         # relative position in its article (0 = start, 1 = end)
    "log_length",       # log of its length in characters
    "title_named",      # the question names its article by title
    "figure_match",     # the question asks for a number/date and the sentence holds one
    "chunk_rank",       # 1 / (1 + rank of its chunk in retrieval)
    "dense_rank",       # 1 / (1 + rank of the sentence by cosine)
    "dense_scaled",     # cosine min-max scaled over the candidates
    "chunk_fused",      # its chunk's fused retrieval score / the best
    "type_match",       # the question asks for a date / person / place / number and the sentence holds one
    "trigram_overlap",  # share of the question's character trigrams found in the sentence
    "missing_rare",     # rarest confident question term the sentence lacks (its idf / the rarest term's)
    "window_coverage",  # coverage of the sentence with the one before it ("It was commissioned by…")
)

_COLUMN = {name: i for i, name in enumerate(SENTENCE_SIGNALS)}
#: The columns ``extract`` fills sentence by sentence, in the order it lists them; the rest are
#: whole-array operations.
_PER_SENTENCE = [_COLUMN[name] for name in (
    "chunk_dense_gap", "chunk_bm25", "coverage", "coverage_loose", "is_headline", "log_length",
    "title_named", "figure_match", "chunk_rank", "chunk_fused", "type_match", "trigram_overlap",
    "missing_rare", "window_coverage")]

_NUMBER_QUESTION = re.compile(
    r"(いくら|いくつ|何[%％年月日人台倍兆億万個回ドル円割位]|何パーセント|どれ(くらい|ぐらい|だけ)|何年|いつ|"
    r"\bhow (much|many|long|far|big|old)\b|\bwhen\b|\bwhat (year|date|percentage)\b|\bsince when\b)",
    re.IGNORECASE)
_DIGIT = re.compile(r"[0-9０-９一二三四五六七八九十百千万億兆]")
_NOT_WORD = re.compile(r"[\W_]+")


def asks_for_number(question: str) -> bool:
    return bool(_NUMBER_QUESTION.search(question))


def trigrams(text: str) -> frozenset[str]:
    """Character trigrams of the text without spaces and punctuation, NFKC and case folded: a
    measure of shared wording that needs no tokenizer (JSQuAD and SQuAD questions reuse the
    answer sentence's words)."""
    flat = _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())
    return frozenset(flat[i:i + 3] for i in range(len(flat) - 2))


@dataclass(slots=True)
class Sentence:
    """A candidate sentence: where it is, and the chunk it was found through. Treat it as immutable
    (``dataclasses.replace`` for a changed copy); not ``frozen`` because a frozen dataclass's
    ``__init__`` costs 1.8 µs against 0.3 µs, 0.15 ms of every question's ~105 sentences."""

    sentence_id: int
    chunk_id: int
    article_id: str
    start: int
    end: int
    dense: float
    has_figure: bool
    coverage: float
    coverage_loose: float
    type_match: bool
    trigram_overlap: float
    missing_rare: float
    #: The sentence is not in the question's language.
    other_language: bool = False
    #: The sentence states every unit the question asks in (``units``); true when none is asked.
    units_held: bool = True
    #: Figures written in digits in the sentence, and whether it states a negation (``stated``).
    numbers: frozenset[str] = frozenset()
    negation: bool = False


@dataclass(frozen=True, slots=True)
class Background:
    """The question's cosine to (a sample of) every sentence of the corpus."""

    mean: float
    sd: float
    q99: float

    @classmethod
    def of(cls, cosines: np.ndarray) -> Background:
        if cosines.size == 0:
            return cls(0.0, 1.0, 0.0)
        # np.quantile's linear interpolation from a partial sort: 0.15 ms less a question.
        h = (cosines.size - 1) * 0.99
        lo = int(h)
        hi = min(lo + 1, cosines.size - 1)
        part = np.partition(cosines, (lo, hi))
        q99 = float(part[lo] + (h - lo) * (part[hi] - part[lo]))
        return cls(float(cosines.mean()), float(cosines.std()) or 1e-6, q99)


@dataclass(frozen=True, slots=True)
class QuestionFacts:
    """What the question-level signals need beyond the ranked sentences."""

    background: Background
    missing: int
    specific: int
    unknown_share: float
    wants_figure: bool
    #: The kinds of answer asked for (``answer_types.asked_types``).
    asked: frozenset[str] = frozenset()
    #: The question asks for a quantity in a unit (``units.asked_units``).
    units_asked: bool = False
    #: The figures the question gives, and whether it is negated (``stated``).
    numbers: frozenset[str] = frozenset()
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Candidates:
    sentences: list[Sentence]
    #: One row of ``SENTENCE_SIGNALS`` per sentence.
    matrix: np.ndarray
    facts: QuestionFacts
    #: The question's weighted lexical terms (what the quotes' highlights mark).
    weights: Mapping[str, float] = field(default_factory=dict)


def _neighbours(index: LoadedIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sentence id: previous and next sentence of the same article (−1 at the ends), position."""
    n = len(index.sentences)
    prev = np.full(n, -1)
    nxt = np.full(n, -1)
    pos = np.zeros(n)
    by_article: dict[str, list[tuple[int, int]]] = {}
    for sid, (aid, s, _e) in enumerate(index.sentences):
        by_article.setdefault(aid, []).append((s, sid))
    for items in by_article.values():
        items.sort()
        for k, (_s, sid) in enumerate(items):
            prev[sid] = items[k - 1][1] if k else -1
            nxt[sid] = items[k + 1][1] if k + 1 < len(items) else -1
            pos[sid] = k / max(1, len(items) - 1)
    return prev, nxt, pos


@dataclass(frozen=True, slots=True)
class _Static:
    """What a sentence holds whatever the question, worked out once per index version."""

    figure: bool
    kinds: frozenset[str]
    grams: frozenset[str]
    headline: bool
    log_length: float
    language: Language
    numbers: frozenset[str]
    negation: bool


class SignalExtractor:
    """Built once per index version (neighbour tables, a background sample)."""

    #: Sentences the background is measured on: 4,096 rows cost ~0.2 ms a question and estimate
    #: the mean and the 99th percentile within 0.005 of the full corpus on JSQuAD (3,300 sentences).
    BACKGROUND_SAMPLE = 4096

    def __init__(self, index: LoadedIndex, lexical: LexicalSide | None) -> None:
        self.index = index
        self.lexical = lexical
        self.prev, self.next, self.position = _neighbours(index)
        # Per chunk, its sentences as (sentence id, start, end): looked up once here, not through
        # a tuple-keyed dict for each of the ~140 chunk sentences of every question.
        self.chunk_sentences = [[(index.sentence_ids[(c.article_id, s, e)], s, e) for s, e in c.sentences]
                                for c in index.chunks]
        n = len(index.sentences)
        rows = np.arange(n)
        if n > self.BACKGROUND_SAMPLE:
            rows = np.sort(np.random.default_rng(0).choice(n, self.BACKGROUND_SAMPLE, replace=False))
        self.background_vectors = np.ascontiguousarray(index.sentence_vectors[rows])
        # Filled as sentences first become candidates (regexes and trigram sets of a sentence cost
        # ~60 µs; recomputed per question they were 3 of the 6 ms the signals took).
        self._static: dict[int, _Static] = {}

    def _remember(self, sid: int, text: str, title: str) -> _Static:
        language = self.lexical.sentence_languages[sid] if self.lexical else detect_language(text)
        static = _Static(bool(_DIGIT.search(text)), held_types(text), trigrams(text), text.strip() == title,
                         math.log(max(5, len(text))), language, numbers_in(text), states_negation(text))
        self._static[sid] = static  # a plain dict write: safe under concurrent questions (GIL)
        return static

    def extract(self, question: str, candidates: list[Candidate], qvec: np.ndarray,
                terms: QueryTerms | None, refs: Mapping[str, float], *, language: Language,
                missing: int, specific: int) -> Candidates:
        """``language``: the question's language as the engine settled it (detected, with the
        corpus's language for text in neither script, or given by the caller); the sentences in
        the other one are ``other_language``, and an English question's units are bridged."""
        index = self.index
        lexical = self.lexical
        wants = asks_for_number(question)
        units = asked_units(question)
        terms_of_units = _unit_terms(units, lexical, bridge=language == "en")
        asked = asked_types(question)
        q_grams = trigrams(question)
        background = Background.of(self.background_vectors @ qvec)
        weights = terms.weights if terms and lexical else {}
        strong = {t: w * lexical.idf(t) for t, w in weights.items() if w >= 0.6} if lexical else {}
        loose = {t: w * lexical.idf(t) for t, w in weights.items()} if lexical else {}
        strong_total = math.fsum(strong.values())
        rarest = max(strong.values(), default=0.0)
        loose_total = math.fsum(loose.values())
        unknown_share = len(terms.unknown) / max(1, terms.n_tokens) if terms else 0.0
        facts = QuestionFacts(background, missing, specific, unknown_share, wants, asked, bool(units),
                              numbers_in(_without_titles(question, [index.articles[a].title for a in refs])),
                              question_negated(question))
        if not candidates:
            return Candidates([], np.zeros((0, len(SENTENCE_SIGNALS))), facts, weights)
        # Each sentence once, with the best-scoring chunk it appears in (chunks overlap by a sentence).
        rows: dict[int, tuple[Candidate, int, int, int]] = {}
        for rank, cand in enumerate(candidates):
            for sid, s, e in self.chunk_sentences[cand.chunk_id]:
                if sid not in rows or rows[sid][0].fused < cand.fused:
                    rows[sid] = (cand, s, e, rank)
        sids = np.array(list(rows))
        around = np.concatenate([sids, self.prev[sids], self.next[sids]])
        cos = index.sentence_vectors[np.maximum(around, 0)] @ qvec  # one product for all
        n = len(sids)
        dense, prev_cos, next_cos = cos[:n].astype(np.float64), cos[n:2 * n], cos[2 * n:]
        prev_cos = np.where(self.prev[sids] >= 0, prev_cos, -1.0)
        next_cos = np.where(self.next[sids] >= 0, next_cos, -1.0)
        best = float(dense.max())
        lo = float(dense.min())
        span = best - lo if best - lo > 1e-6 else 1.0
        best_chunk = max(c.dense for c in candidates)
        best_bm25 = max(c.lexical for c in candidates) or 1.0
        best_fused = max(c.fused for c in candidates) or 1.0
        dense_rank = np.empty(n)
        dense_rank[np.argsort(-dense)] = np.arange(n)
        # Whole columns at once where they are arrays already; per sentence only what needs a lookup.
        # Question terms are matched by set operations (in C): generator loops over every term for
        # every sentence were a third of the ~1.5 ms the signals took (~105 sentences a question).
        # fsum: a set's order varies with the hash seed, an exact sum does not.
        strong_keys = frozenset(strong)
        loose_keys = frozenset(loose)
        # Strongest first, so the rarest term a sentence lacks is the first one it does not hold.
        by_weight = sorted(strong, key=lambda t: (-strong[t], t))
        strong_of, loose_of = strong.__getitem__, loose.__getitem__
        sentences: list[Sentence] = []
        per_sentence: list[tuple[float, ...]] = []
        for sid, d, before in zip(sids.tolist(), dense.tolist(), self.prev[sids].tolist(), strict=True):
            cand, s, e, rank = rows[sid]
            aid = index.chunks[cand.chunk_id].article_id
            article = index.articles[aid]
            static = self._static.get(sid) or self._remember(sid, article.text[s:e], article.title)
            toks = lexical.sentence_tokens[sid] if lexical else frozenset()
            held_terms = loose_keys & toks
            held_strong = strong_keys & held_terms
            cov = math.fsum(map(strong_of, held_strong)) / strong_total if held_strong and strong_total else 0.0
            cov_l = math.fsum(map(loose_of, held_terms)) / loose_total if held_terms and loose_total else 0.0
            figure = static.figure
            type_match = bool(asked & static.kinds)
            grams = len(q_grams & static.grams) / len(q_grams) if q_grams else 0.0
            lacking = next((strong[t] for t in by_weight if t not in held_strong), 0.0)
            # The answer often names its subject only in the sentence before ("The Bayeux Tapestry
            # … . It was commissioned by Odo"; Japanese drops the subject altogether). Measured
            # over 8 fold seeds, CV rank@3: dev ja .867 -> .895, en .804 -> .815, JSQuAD .918 ->
            # .923, SQuAD .874 -> .890; with the next sentence too, or two before, it gained less.
            if before >= 0 and lexical is not None and strong_total:
                # an intersection with the question's few terms, not a union of two token sets
                window = held_strong | (strong_keys & lexical.sentence_tokens[before])
                cov_w = math.fsum(map(strong_of, window)) / strong_total
            else:
                cov_w = cov
            missing_rare = lacking / rarest if rarest else 0.0
            per_sentence.append((
                cand.dense - best_chunk, cand.lexical / best_bm25, cov, cov_l, static.headline,
                static.log_length, refs.get(aid, 0.0), wants and figure, 1.0 / (1 + rank),
                cand.fused / best_fused, type_match, grams, missing_rare, cov_w))
            held = holds_units(units, terms_of_units, article.text[s:e], toks) if units else True
            sentences.append(Sentence(sid, cand.chunk_id, aid, s, e, d, figure, cov, cov_l, type_match,
                                      grams, missing_rare, static.language != language, held, static.numbers,
                                      static.negation))
        matrix = np.empty((n, len(SENTENCE_SIGNALS)))
        matrix[:, _PER_SENTENCE] = per_sentence
        matrix[:, _COLUMN["dense_gap"]] = dense - best
        matrix[:, _COLUMN["dense_z"]] = (dense - background.mean) / background.sd
        matrix[:, _COLUMN["neighbour_gap"]] = np.maximum(np.maximum(prev_cos, next_cos), dense) - best
        matrix[:, _COLUMN["is_first"]] = self.prev[sids] < 0
        matrix[:, _COLUMN["position"]] = self.position[sids]
        matrix[:, _COLUMN["dense_rank"]] = 1.0 / (1 + dense_rank)
        matrix[:, _COLUMN["dense_scaled"]] = (dense - lo) / span
        return Candidates(sentences, matrix, facts, weights)


def _without_titles(question: str, titles: list[str]) -> str:
    """The question without the article titles it names (「DeepSeekその②」's 2 is not a figure asked about)."""
    text = unicodedata.normalize("NFKC", question)
    for title in titles:
        text = text.replace(unicodedata.normalize("NFKC", title), " ")
    return text


def _unit_terms(units: tuple[Unit, ...], lexical: LexicalSide | None, *, bridge: bool) -> tuple[frozenset[str], ...]:
    """The corpus terms of each asked unit's word (its translations for an English question)."""
    if lexical is None:
        return tuple(frozenset() for _ in units)
    return unit_terms(units, lambda word: lexical.terms(word, bridge=bridge, to_english=not bridge).weights)
