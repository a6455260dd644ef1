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
    #: The chunks holding the question's best ``sentence_hits`` sentences (by cosine, among the
    #: dense side's chunks) join the candidates; 0 turns it off. EmbeddingGemma, 5-fold CV rank@3:
    #: SQuAD .900 -> .930, dev ja .923 -> .942, JSQuAD .925 either way; 30 gained nothing over 10.
    sentence_hits: int = 10


DEFAULT_TUNING = RetrievalTuning()

#: Share of answerable training questions (in each training corpus) ``kiji fit`` answers
#: (``--target``). Held out, the share falls short of it: with EmbeddingGemma under 5-fold CV, .93
#: answered .905 of SQuAD's; .95 answers .925 and declines no fewer out-of-corpus questions; .97
#: answers .945 but declines 2% fewer of the questions about absent articles.
TARGET_ANSWERED = 0.95

#: The quote margins ``kiji fit`` writes into a model (``--quote-margin``, ``--source-margin``), compared by 5-fold CV over dev, JSQuAD and
#: SQuAD with EmbeddingGemma: a source margin of 3.0 (was 1.5) lifts English multi-source reach on dev
#: .44 -> .56 and changes no hit@3; 5.0 costs dev ja hit@3 .04. A quote margin of 10 (was 7) shows a
#: third quote a little more often: JSQuAD hit@3 .885 -> .895, dev en multi-source .56 -> .63.
#: e5-small's shipped model keeps 7.0 / 1.5 / .93 (``--quote-margin 7 --source-margin 1.5 --target
#: .93``): with these values its CV dev hit@3 fell ja .865 -> .827 and en .804 -> .761.
QUOTE_MARGIN = 10.0
SOURCE_MARGIN = 3.0

#: L2 regularisation of the ranker's weights (``kiji fit --l2-ranker``). With EmbeddingGemma's titled
#: sentence vectors, 5-fold CV hit@3 (dev ja / en, JSQuAD, SQuAD): 1.0 .865 / .804 / .940 / .875,
#: 3.0 .865 / .826 / .950 / .880, 10 .865 / .826 / .935 / .880 with dev en declines .625 -> .500.
#: e5-small's shipped model was fitted with 1.0 (``--l2-ranker 1``).
L2_RANKER = 3.0
