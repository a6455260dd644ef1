"""Embedding a build's passages through the cache: each distinct text once, in order, work kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kiji.errors import BuildError
from kiji.retrieval.embedding.embedder import Progress
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.index.passages import CACHE_SLICE, PassageEncoder, embed_with_cache

TEXTS = ["半導体の輸出規制", "NVIDIA shares fell", "半導体の輸出規制", "スターゲート計画"]


def embed(texts: list[str], cache: Path, *, embedder: FakeEmbedder | None = None, full: bool = False,
          encoder: PassageEncoder | None = None, titles: list[str] | None = None
          ) -> tuple[np.ndarray, int, int]:
    done = embed_with_cache(texts, titles or [""] * len(texts), embedder=embedder or FakeEmbedder(),
                            cache_path=cache, full=full,
                            encoder=encoder, batch_size=4, progress=None, log=lambda _: None)
    return done.vectors, done.embedded, done.reused


def test_rows_follow_the_texts_and_each_distinct_text_is_embedded_once(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    vectors, embedded, reused = embed(TEXTS, tmp_path / "c.sqlite", embedder=embedder)
    assert (embedded, reused) == (3, 1) and embedder.texts_embedded == 3
    assert vectors.dtype == np.float32 and vectors.shape == (4, embedder.dim)
    np.testing.assert_allclose(vectors, embedder.embed_passages(TEXTS), atol=1e-6)


def test_a_second_pass_reuses_the_cache_and_full_ignores_it(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    first, _, _ = embed(TEXTS, cache)
    embedder = FakeEmbedder()
    again, embedded, reused = embed(TEXTS + ["新しい文"], cache, embedder=embedder)
    assert (embedded, reused) == (1, 4) and embedder.texts_embedded == 1
    np.testing.assert_array_equal(again[:4], first)
    _, embedded, reused = embed(TEXTS, cache, full=True)
    assert (embedded, reused) == (3, 1)


def test_an_encoder_returning_the_wrong_shape_is_a_build_error(tmp_path: Path) -> None:
    def wrong(texts: list[str], titles: list[str], progress: Progress | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield np.arange(len(texts)), np.zeros((len(texts), 3), dtype=np.float32)

    with pytest.raises(BuildError, match=r"shape \(3, 3\) for 3 passages of dimension 256"):
        embed(TEXTS, tmp_path / "c.sqlite", encoder=wrong)


def test_passages_an_encoder_drops_are_named_and_what_it_returned_is_kept(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    texts = [f"文 {i}" for i in range(CACHE_SLICE + 10)]

    def loses_the_last_part(texts: list[str], titles: list[str], progress: Progress | None
                            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        part = texts[:CACHE_SLICE]
        yield np.arange(len(part)), embedder.embed_passages(part)

    cache = tmp_path / "c.sqlite"
    with pytest.raises(BuildError, match=f"no vectors for 10 of {CACHE_SLICE + 10} passages"):
        embed(texts, cache, encoder=loses_the_last_part)
    # The part that arrived went to the cache: the retry embeds only the ten.
    _, embedded, reused = embed(texts, cache)
    assert (embedded, reused) == (10, CACHE_SLICE)


def test_titles_reach_a_model_that_reads_them_and_key_its_cache(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    titled = FakeEmbedder(uses_titles=True)
    texts, titles = ["同じ文", "同じ文", "別の文"], ["記事A", "記事B", ""]
    vectors, embedded, reused = embed(texts, cache, embedder=titled, titles=titles)
    # The same sentence under two titles is two passages; an untitled one is embedded alone.
    assert (embedded, reused) == (3, 0)
    assert float(vectors[0] @ vectors[1]) < 0.99
    np.testing.assert_allclose(vectors[2], titled.embed_passages(["別の文"])[0], atol=1e-6)
    np.testing.assert_allclose(vectors[0], titled.embed_passages(["同じ文"], titles=["記事A"])[0], atol=1e-6)
    # A model without titles keys by the text alone: one vector for the sentence, whatever its title.
    plain = FakeEmbedder()
    vectors, embedded, reused = embed(texts, tmp_path / "p.sqlite", embedder=plain, titles=titles)
    assert (embedded, reused) == (2, 1)
    np.testing.assert_array_equal(vectors[0], vectors[1])
