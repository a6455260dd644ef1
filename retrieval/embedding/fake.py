"""A deterministic stand-in embedder for tests and benchmarks: no weights, identical everywhere."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from kiji.retrieval.embedding.embedder import Progress, passage_titles


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


class FakeEmbedder:
    """Hashed bag of character bigrams and words: similar strings get similar vectors.

    Good enough that retrieval tests mean something (a question sharing words with a passage finds
    it), cheap enough for hundreds of calls per test run, and identical on every machine.
    """

    runtime = "fake"

    def __init__(self, dim: int = 256, *, uses_titles: bool = False) -> None:
        self.dim = dim
        self.model_id = f"fake-ngram-{dim}"
        self.fingerprint = f"fake-{dim}-v1"
        #: Like EmbeddingGemma's titled prompt: a passage's title goes in with it (before it).
        self.uses_titles = uses_titles
        self.calls = 0
        self.texts_embedded = 0

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        text = text.lower()
        grams = [text[i : i + 2] for i in range(len(text) - 1) if not text[i : i + 2].isspace()]
        grams += re.findall(r"[a-z0-9]+", text)
        for gram in grams:
            digest = hashlib.blake2b(gram.encode(), digest_size=8).digest()
            idx = int.from_bytes(digest[:4], "little") % self.dim
            vec[idx] += 1.0 if digest[4] & 1 else -1.0
        return vec

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.stack([self._vector(t) for t in texts]))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str], *, titles: Sequence[str] | None = None,
                       batch_size: int = 16, progress: Progress | None = None) -> np.ndarray:
        titles = passage_titles(texts, titles)
        if self.uses_titles:
            texts = [f"{title}\n{text}" if title else text for title, text in zip(titles, texts, strict=True)]
        out = []
        for i in range(0, len(texts), batch_size):
            out.append(self._embed(texts[i : i + batch_size]))
            if progress:
                progress(len(texts[i : i + batch_size]))
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)
