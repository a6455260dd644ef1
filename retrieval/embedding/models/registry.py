"""The embedding models kiji can prepare offline, by name: one line each.

``KIJI_EMBEDDING_MODEL`` takes one of these names (or any sentence-transformers id or folder, for a
host that reaches a model hub). Empty means ``DEFAULT``; when the default cannot be prepared (its
mirror unreachable), ``FALLBACK`` is prepared instead so kiji still runs.

The default is still e5-small: inside kiji's pipeline (chunk retrieval, BM25, the learned ranker),
EmbeddingGemma refitted did not yet beat it under 5-fold cross-validation (dev hit@3 en .739 vs
.804, JSQuAD .895 vs .920, SQuAD .840 vs .850; ja .885 vs .865): the pipeline searches chunks, while
the stronger model's measured gain is in plain sentence retrieval. Switching the default is one
line here once the pipeline uses it (README "Embedding models").
"""

from __future__ import annotations

from kiji.retrieval.embedding.models import e5_small, embeddinggemma
from kiji.retrieval.embedding.models.spec import ModelSpec

MODELS: dict[str, ModelSpec] = {
    embeddinggemma.SPEC.name: embeddinggemma.SPEC,
    e5_small.SPEC.name: e5_small.SPEC,
}
DEFAULT = e5_small.SPEC.name
FALLBACK = e5_small.SPEC.name


def get(name: str) -> ModelSpec | None:
    """The spec registered under ``name`` (a few short aliases too), or None."""
    return MODELS.get(ALIASES.get(name, name))


ALIASES = {"embeddinggemma": embeddinggemma.SPEC.name, "gemma": embeddinggemma.SPEC.name,
           "e5-small": e5_small.SPEC.name, "e5": e5_small.SPEC.name}
