"""Every weight and threshold of answering, in one place (README, "How answers are decided")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tuning:
    """Weights and thresholds; chosen on the dev set and explained in the README."""

    sentence_dense: float = 0.5
    sentence_lexical: float = 0.4
    chunk_weight: float = 0.4
    #: Share of the dense side in chunk fusion (the rest is BM25); "rrf" uses reciprocal ranks.
    fusion_dense_weight: float = 0.5
    fusion: str = "weighted"
    #: Candidate chunks taken from one article before others get a turn.
    per_article: int = 3
    #: Another article's quote is shown if it scores at least this share of the best quote.
    diversity_ratio: float = 0.85
    min_dense: float = 0.78
    reference_boost: float = 0.6
    #: Query terms weaker than this (loose translations) do not count towards sentence coverage.
    coverage_min_weight: float = 0.6
    #: "How much / いくら / いつ" questions prefer sentences that hold a figure.
    figure_boost: float = 0.3
    title_penalty: float = 0.4
    #: With a specific term missing from the corpus, only a near-identical passage still answers.
    missing_term_dense: float = 0.92


DEFAULT_TUNING = Tuning()
