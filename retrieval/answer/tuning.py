"""How candidates are gathered before the learned model ranks them (README, "How answers are decided").

The weights that rank sentences and decide whether to answer are not here: they are fitted by
``kiji fit`` and live in ``fitted/<model>.json`` (see ``model.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetrievalTuning:
    #: Share of the dense side in chunk fusion (the rest is BM25); "rrf" uses reciprocal ranks.
    fusion_dense_weight: float = 0.5
    fusion: str = "weighted"
    #: Candidate chunks taken from one article before others get a turn.
    per_article: int = 3
    #: Chunks whose sentences the ranker sees: 20 put a gold sentence among the candidates for
    #: 0.98 / 0.99 / 0.92 of dev / JSQuAD / SQuAD questions (8 chunks: 0.94 / 0.97 / 0.89).
    candidate_chunks: int = 20


DEFAULT_TUNING = RetrievalTuning()
