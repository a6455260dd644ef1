"""The question as a whole: one row of ``QUESTION_SIGNALS`` for the answer/decline model, computed
from the candidate sentences in the order the ranker put them (``signals.py`` makes the sentences).

A question answered from text in the other language (an English question over Japanese articles) sits
lower on every similarity scale than one answered in its own language, answerable or not. One set of
answer weights had to serve both, so its threshold was set by the cross-lingual questions and let
same-language out-of-corpus questions through. ``cross_lingual`` (the share of the top three sentences
in the other language) and the ``xl_`` copies of the question signals (each multiplied by it) let the
answer model weigh the two cases apart: 5-fold CV, JSQuAD's absent-article questions declined 0.68 ->
0.85 and SQuAD's 0.85 -> 0.93 at the same answered share.
"""

from __future__ import annotations

import numpy as np

from kiji.retrieval.answer.signals import QuestionFacts, Sentence

_SAME_LANGUAGE_SIGNALS: tuple[str, ...] = (
    "best_z",            # best sentence cosine against the background (z-score)
    "best_over_q99",     # best cosine − the background's 99th percentile, in background sds
    "top_coverage",      # coverage of the top-ranked sentence
    "top3_coverage",     # best coverage among the top three
    "top3_coverage_loose",
    "missing_share",     # share of the question's specific terms (names, codes) the corpus lacks
    "any_missing",
    "unknown_share",     # share of the question's tokens the corpus vocabulary lacks
    "answer_type_ok",    # the asked kind of answer (date, person, place, number) is in the top three
    "top3_trigrams",     # best trigram overlap among the top three
    "top_missing_rare",  # the top sentence's missing_rare
    "pool_coverage",     # best coverage among all candidate sentences
    "top_score",         # the ranker's score of the top sentence
    "top_margin",        # … minus the second's
    "specific_terms",    # how many specific terms the question has
    "background_mean",   # the question's mean cosine to the corpus
    "background_sd",
    "best_cosine",
    "unit_missing",      # the question asks for a quantity in a unit (an age, gigawatts) no top-three sentence states
    "number_missing",    # a figure the question gives (a year, a stage number) is in none of the top three
    "negation_unmatched",  # the question is negated ("who did not…"), none of the top three states a negation
)

#: The question signals above, and the same again multiplied by ``cross_lingual``.
QUESTION_SIGNALS: tuple[str, ...] = (
    *_SAME_LANGUAGE_SIGNALS, "cross_lingual", *(f"xl_{name}" for name in _SAME_LANGUAGE_SIGNALS))


def question_signals(sentences: list[Sentence], scores: np.ndarray, facts: QuestionFacts) -> np.ndarray:
    """One row of ``QUESTION_SIGNALS`` from the sentences and the ranker's scores of them."""
    bg = facts.background
    if not sentences:
        return _with_cross_lingual([-5.0, -5.0, 0, 0, 0, 1.0 if facts.missing else 0.0, float(facts.missing > 0),
                         facts.unknown_share, 0.0, 0.0, 1.0, 0.0, -10.0, 0.0, float(facts.specific), bg.mean,
                         bg.sd, 0.0, float(facts.units_asked), float(bool(facts.numbers)), float(facts.negated)], 0.0)
    order = np.argsort(-scores)
    top = [sentences[i] for i in order[:3]]
    best = max(s.dense for s in sentences)
    margin = float(scores[order[0]] - scores[order[1]]) if len(order) > 1 else 5.0
    cross = sum(s.other_language for s in top) / len(top)
    return _with_cross_lingual([
        (best - bg.mean) / bg.sd, (best - bg.q99) / bg.sd, top[0].coverage,
        max(s.coverage for s in top), max(s.coverage_loose for s in top),
        facts.missing / max(1, facts.specific), float(facts.missing > 0), facts.unknown_share,
        float(not facts.asked or any(s.type_match for s in top)), max(s.trigram_overlap for s in top),
        top[0].missing_rare, max(s.coverage for s in sentences), float(scores[order[0]]),
        margin, float(facts.specific), bg.mean, bg.sd, best,
        float(facts.units_asked and not any(s.units_held for s in top)),
        float(bool(facts.numbers) and not facts.numbers <= frozenset().union(*(s.numbers for s in top))),
        float(facts.negated and not any(s.negation for s in top))], cross)


def _with_cross_lingual(row: list[float], cross: float) -> np.ndarray:
    """``row`` (the same-language signals), ``cross_lingual``, then ``row`` times it."""
    base = np.asarray(row, dtype=float)
    return np.concatenate([base, [cross], base * cross])
