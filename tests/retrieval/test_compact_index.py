"""Compact versions (past KIJI_COMPACT_THRESHOLD chunks): an IVF index over 8-bit codes for chunk
vectors, int8 sentence vectors decoded on access; answers as from the plain version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.errors import IndexCorrupt
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.compact import Int8Vectors
from kiji.retrieval.index.store import SENTENCE_CODES, SENTENCE_SCALES, SENTENCES, load_current
from kiji.retrieval.index.vector_index import FaissIndex, ivf_lists, tune_nprobe
from tests.helpers import FAKE_MODEL, build

pytestmark = pytest.mark.usefixtures("isolated_env")

QUESTIONS = ["DeepSeekの従業員数は?", "How much did TSMC fall?", "Stargateの最初の投資額っていくら?",
             "What did Nokia do?", "量子コンピュータの実用化はいつ?"]


def unit(rows: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    x[:, 0] += 3.0  # a shared direction, as real embeddings have
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- int8 sentence vectors -------------------------------------------------------------------------

def test_int8_rows_decode_close_to_the_originals_through_every_kind_of_index() -> None:
    x = unit(500)
    packed = Int8Vectors.encode(x)
    assert packed.shape == x.shape and len(packed) == 500 and packed.dtype == np.float32
    assert packed.nbytes == 500 * 64 + 500 * 4  # a byte a component, a float a row
    rows = np.array([3, 499, 0, 3])
    for picked in (packed[rows], packed[list(rows)], packed[np.maximum(rows - 1, 0)]):
        assert picked.dtype == np.float32 and picked.shape == (4, 64)
    np.testing.assert_allclose(packed[rows], x[rows], atol=float(np.abs(x).max()) / 254 + 1e-7)
    np.testing.assert_allclose(packed[7], x[7], atol=0.01)
    np.testing.assert_allclose(packed[10:20], x[10:20], atol=0.01)
    q = unit(1, seed=1)[0]
    assert np.abs(packed[rows] @ q - x[rows] @ q).max() < 2e-3  # what quote scoring does
    contiguous = np.ascontiguousarray(packed[rows])  # what the answer model's background does
    assert contiguous.flags.c_contiguous and contiguous.shape == (4, 64)
    np.testing.assert_allclose(np.asarray(packed), x, atol=0.01)
    assert Int8Vectors.encode(np.zeros((2, 8), np.float32))[:].tolist() == [[0.0] * 8] * 2


# --- IVF over 8-bit codes --------------------------------------------------------------------------

def test_ivf_sq8_reaches_the_recall_target_and_keeps_its_nprobe(tmp_path: Path) -> None:
    x = unit(20_000, dim=32)
    assert ivf_lists(20_000) == 512 and ivf_lists(62) == 1 and ivf_lists(1_000_000) == 4096
    index = FaissIndex.build(x, kind="ivf-sq8")
    assert index.kind == "ivf-sq8" and index.nlist == 512
    queries = unit(100, dim=32, seed=5)
    index.set_nprobe(1)
    recall = tune_nprobe(index, x, queries)
    assert recall >= 0.95 and (index.nprobe or 0) >= 16
    np.testing.assert_allclose(index.reconstruct(123), x[123], atol=0.02)
    index.save(tmp_path / "v.faiss")
    for mmap in (False, True):
        loaded = FaissIndex.load(tmp_path / "v.faiss", mmap=mmap)
        assert loaded.kind == "ivf-sq8" and loaded.nprobe == index.nprobe
        np.testing.assert_allclose(loaded.reconstruct(123), index.reconstruct(123))


# --- builds ----------------------------------------------------------------------------------------

def test_past_the_threshold_a_build_is_compact_and_answers_as_the_plain_one(tmp_path: Path) -> None:
    plain = build(SHIPPED_CORPUS_DIR, tmp_path / "plain", compact_threshold=10_000)
    compact = build(SHIPPED_CORPUS_DIR, tmp_path / "compact", compact_threshold=plain.chunks)
    assert plain.index_kind == "flat" and compact.index_kind == "ivf-sq8"
    assert compact.recall_at_10 is not None and compact.recall_at_10 >= 0.95
    assert "IVF-SQ8 recall@10" in "\n".join(compact.lines())
    a = load_current(tmp_path / "plain")
    for mmap in (False, True):
        b = load_current(tmp_path / "compact", mmap=mmap)
        assert b.manifest["index"]["sentence_vectors"] == "int8" and b.manifest["index"]["nprobe"] >= 1
        assert isinstance(b.sentence_vectors, Int8Vectors) and b.vectors.kind == "ivf-sq8"
        assert not (b.path / SENTENCES).exists()
        assert (b.path / SENTENCE_CODES).stat().st_size < (a.path / SENTENCES).stat().st_size / 3
        rows = np.arange(len(a.sentences))
        np.testing.assert_allclose(b.sentence_vectors[rows], a.sentence_vectors[rows], atol=0.01)
        plain_engine = Engine(index=a, embedder=FakeEmbedder(), model=FAKE_MODEL)
        compact_engine = Engine(index=b, embedder=FakeEmbedder(), model=FAKE_MODEL)
        for question in QUESTIONS:
            x, y = plain_engine.ask(question), compact_engine.ask(question)
            assert x.answered == y.answered, question
            assert [(q.article_id, q.start, q.end) for q in x.quotes][:1] == \
                   [(q.article_id, q.start, q.end) for q in y.quotes][:1], question
            for q in y.quotes:
                assert b.articles[q.article_id].text[q.start:q.end] == q.text


def test_a_damaged_compact_version_is_named(tmp_path: Path) -> None:
    build(SHIPPED_CORPUS_DIR, tmp_path / "index", compact_threshold=1)
    version = load_current(tmp_path / "index").path
    scales = version / SENTENCE_SCALES
    np.save(scales, np.ones(3, dtype=np.float32))
    with pytest.raises(IndexCorrupt, match=r"sentence vector scales of shape \(3,\) for \d+ sentences"):
        load_current(tmp_path / "index")
    (version / SENTENCE_CODES).write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(IndexCorrupt, match=r"sentence vectors \(sentences.int8.npy\) .* are damaged"):
        load_current(tmp_path / "index")
    (version / SENTENCE_CODES).unlink()
    with pytest.raises(IndexCorrupt, match=r"sentence vectors are missing .*sentences.int8.npy"):
        load_current(tmp_path / "index")


def test_a_compact_build_whose_ivf_misses_recall_falls_back_to_exact_search(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact search for the chunks; the sentence vectors stay int8, and the manifest says so."""
    import kiji.retrieval.index.build as build_module

    logged: list[str] = []
    monkeypatch.setattr(build_module, "tune_nprobe", lambda *a, **k: 0.5)
    summary = build(SHIPPED_CORPUS_DIR, tmp_path / "index", compact_threshold=1, log=logged.append)
    assert summary.index_kind == "flat" and summary.recall_at_10 == 0.5
    assert any("recall@10 0.500 < 0.95; falling back to exact search" in line for line in logged)
    loaded = load_current(tmp_path / "index")
    assert loaded.vectors.kind == "flat" and loaded.manifest["index"]["sentence_vectors"] == "int8"
    assert isinstance(loaded.sentence_vectors, Int8Vectors) and not (loaded.path / SENTENCES).exists()
    engine = Engine(index=loaded, embedder=FakeEmbedder(), model=FAKE_MODEL)
    for q in engine.ask(QUESTIONS[0]).quotes:
        assert loaded.articles[q.article_id].text[q.start:q.end] == q.text
