"""The embedding models kiji can prepare offline, by name: one line each.

``KIJI_EMBEDDING_MODEL`` takes one of these names (or any sentence-transformers id or folder, for a
host that reaches a model hub). Empty means ``DEFAULT``; when the default cannot be prepared (its
mirror unreachable), ``FALLBACK`` is prepared instead so kiji still runs.
"""

from __future__ import annotations

from kiji.retrieval.embedding.models import e5_small, embeddinggemma
from kiji.retrieval.embedding.models.spec import ModelSpec

MODELS: dict[str, ModelSpec] = {
    embeddinggemma.SPEC.name: embeddinggemma.SPEC,
    e5_small.SPEC.name: e5_small.SPEC,
}
DEFAULT = embeddinggemma.SPEC.name
FALLBACK = e5_small.SPEC.name


def get(name: str) -> ModelSpec | None:
    """The spec registered under ``name`` (a few short aliases too), or None."""
    return MODELS.get(ALIASES.get(name, name))


ALIASES = {"embeddinggemma": embeddinggemma.SPEC.name, "gemma": embeddinggemma.SPEC.name,
           "e5-small": e5_small.SPEC.name, "e5": e5_small.SPEC.name}
