"""Index builds (FakeEmbedder, small corpora in tmp_path): incremental reuse of vectors, versions and
rollback, the build lock, validation before publishing, and `--if-changed`."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from kiji.corpus.chunker import ChunkParams
from kiji.errors import BuildError, BuildLocked, IndexCorrupt
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.index import build as build_mod
from kiji.retrieval.index.build import BuildSummary
from kiji.retrieval.index.store import (
    CHUNKS,
    CURRENT,
    VECTORS,
    VERSIONS,
    current_version,
    list_versions,
    load_current,
)
from kiji.retrieval.index.versions import build_lock, rollback
from tests.helpers import SHIPPED, TOPICS, RecordingEmbedder, article_text, build, leftovers, passage_hashes

pytestmark = pytest.mark.usefixtures("isolated_env")


# --- incremental builds --------------------------------------------------------------------------

def test_incremental_build_reuses_unchanged_embeddings(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    emb = RecordingEmbedder()
    first = build(corpus, index_dir, emb)
    expected = passage_hashes(corpus)
    distinct = len(set().union(*expected.values()))
    assert sorted(first.added) == sorted(expected) and not first.changed and not first.removed
    assert first.embedded_chunks == distinct
    assert emb.texts_embedded == distinct + 1  # + the validation probe
    assert first.articles == len(expected) == 6

    # Nothing changed: nothing embedded but the one validation probe.
    before = emb.texts_embedded
    second = build(corpus, index_dir, emb)
    assert second.embedded_chunks == 0
    assert second.reused_chunks == first.embedded_chunks + first.reused_chunks
    assert emb.texts_embedded - before == 1
    assert sorted(second.unchanged) == sorted(expected) and not (second.added or second.changed)
    assert second.version != first.version and current_version(index_dir) == second.version

    # One sentence of one article changes: only that article's new passages are embedded.
    title, sentences = TOPICS[1]
    edited = list(sentences)
    edited[4] = "The bakery has a bright neon sign shaped like a croissant."
    (corpus / "syn1.txt").write_text(article_text(title, edited), encoding="utf-8")
    new = passage_hashes(corpus)
    fresh = new["syn1"] - set().union(*expected.values())
    assert 0 < len(fresh) < len(new["syn1"])
    emb.passage_calls.clear()
    third = build(corpus, index_dir, emb)
    assert third.changed == ["syn1"] and not third.added and not third.removed
    assert len(third.unchanged) == 5
    assert third.embedded_chunks == len(fresh)
    assert set(emb.passage_calls[0]) == fresh  # the build's call; [1] is the validation probe
    assert len(emb.passage_calls) == 2 and len(emb.passage_calls[1]) == 1
    loaded = load_current(index_dir)
    assert "neon sign" in loaded.articles["syn1"].text

    # Removing an article drops it (no embedding); adding one embeds only its passages.
    (corpus / "syn2.txt").unlink()
    before = emb.texts_embedded
    fourth = build(corpus, index_dir, emb)
    assert fourth.removed == ["syn2"] and fourth.embedded_chunks == 0
    assert emb.texts_embedded - before == 1
    loaded = load_current(index_dir)
    assert "syn2" not in loaded.articles
    assert all(c.article_id != "syn2" for c in loaded.chunks)
    assert fourth.articles == 5 and loaded.manifest["counts"]["articles"] == 5

    title, sentences = TOPICS[2]
    (corpus / "syn2.txt").write_text(article_text(title, sentences), encoding="utf-8")
    fifth = build(corpus, index_dir, emb)
    assert fifth.added == ["syn2"]
    # syn2's passages are still in the embedding cache from the first build.
    assert fifth.embedded_chunks == 0

    (corpus / "syn4.txt").write_text(article_text("Tea ceremony robots", [
        "A start-up in Uji built a robot arm that whisks matcha tea.",
        "Tea masters said the foam was acceptable but the bowl was turned the wrong way.",
        "The robot will serve visitors at a museum from April."]), encoding="utf-8")
    sixth = build(corpus, index_dir, emb)
    assert sixth.added == ["syn4"]
    assert sixth.embedded_chunks == len(passage_hashes(corpus)["syn4"])


def test_full_build_reembeds_everything(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    emb = FakeEmbedder()
    first = build(corpus, index_dir, emb)
    before = emb.texts_embedded
    again = build(corpus, index_dir, emb, full=True)
    assert again.embedded_chunks == first.embedded_chunks and again.reused_chunks == first.reused_chunks
    assert emb.texts_embedded - before == first.embedded_chunks + 1
    assert sorted(again.unchanged) == sorted(first.added)


def test_summary_lines_and_progress(tmp_path: Path, corpus: Path) -> None:
    (corpus / "broken.txt").write_bytes(b"\x00\x01binary")
    ticks: list[tuple[int, int]] = []

    def factory(total: int):
        return lambda n: ticks.append((total, n))

    summary = build(corpus, tmp_path / "index", progress=factory, batch_size=4)
    assert ticks and all(t == summary.embedded_chunks for t, _ in ticks)
    assert sum(n for _, n in ticks) == summary.embedded_chunks
    assert max(n for _, n in ticks) <= 4
    text = "\n".join(summary.lines())
    assert f"published index version {summary.version}: 6 articles" in text
    assert "6 added, 0 changed, 0 removed, 0 unchanged" in text
    assert f"{summary.embedded_chunks} embedded" in text
    assert "skipped: broken.txt: binary file, not text" in text
    json.dumps(summary.__dict__)  # the CLI's --json output must serialise


# --- versions, rollback, lock ----------------------------------------------------------------------

def test_versions_kept_and_current_is_newest(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    made = [build(corpus, index_dir, keep_versions=2).version for _ in range(4)]
    assert made == sorted(made) and len(set(made)) == 4
    assert list_versions(index_dir) == made[-2:]
    assert current_version(index_dir) == made[-1]
    assert (index_dir / CURRENT).read_text().strip() == made[-1]
    assert load_current(index_dir).version == made[-1]


def test_rollback(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    with pytest.raises(BuildError, match="no older index version"):
        rollback(index_dir)  # nothing built yet
    v1 = build(corpus, index_dir).version
    with pytest.raises(BuildError, match="no older index version"):
        rollback(index_dir)
    (corpus / "syn0.txt").unlink()
    v2 = build(corpus, index_dir).version
    v3 = build(corpus, index_dir).version
    assert rollback(index_dir) == v2 and load_current(index_dir).version == v2
    assert rollback(index_dir) == v1
    assert "syn0" in load_current(index_dir).articles  # v1 still has the removed article
    with pytest.raises(BuildError, match="no older index version"):
        rollback(index_dir)
    assert current_version(index_dir) == v1
    assert list_versions(index_dir) == [v1, v2, v3]  # rollback deletes nothing

    # The next build compares with what is served (v1), and becomes the newest version.
    v4 = build(corpus, index_dir, keep_versions=3)
    assert v4.removed == ["syn0"]
    assert current_version(index_dir) == v4.version and list_versions(index_dir) == [v2, v3, v4.version]


def test_rollback_skips_damaged_targets_and_refuses_when_none_loads(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    v1 = build(corpus, index_dir).version
    v2 = build(corpus, index_dir).version
    v3 = build(corpus, index_dir).version
    (index_dir / VERSIONS / v2 / CHUNKS).unlink()
    logged: list[str] = []
    assert rollback(index_dir, log=logged.append) == v1  # v2 does not load: skipped, and said so
    assert any(v2 in line and "chunks.jsonl" in line for line in logged)
    (index_dir / "CURRENT").write_text(v3)
    (index_dir / VERSIONS / v1 / CHUNKS).unlink()
    with pytest.raises(BuildError, match="no older index version loads.*chunks.jsonl"):
        rollback(index_dir)
    assert current_version(index_dir) == v3


def test_rollback_away_from_a_damaged_current(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    v1 = build(corpus, index_dir).version
    v2 = build(corpus, index_dir).version
    (index_dir / VERSIONS / v2 / VECTORS).write_bytes(b"")
    with pytest.raises(IndexCorrupt):
        load_current(index_dir)
    assert rollback(index_dir) == v1
    assert load_current(index_dir).version == v1


def test_second_build_refuses_while_lock_is_held(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    v1 = build(corpus, index_dir).version
    with build_lock(index_dir):
        with pytest.raises(BuildLocked, match="another index build is running") as err:
            build(corpus, index_dir)
        assert "nothing was changed" in str(err.value)
        with pytest.raises(BuildLocked):
            rollback(index_dir)
    assert current_version(index_dir) == v1 and list_versions(index_dir) == [v1]
    assert build(corpus, index_dir).version != v1  # the lock is free again


def test_concurrent_builds_in_threads(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    v1 = build(corpus, index_dir).version
    (corpus / "syn3.txt").write_text(article_text("Changed", TOPICS[0][1][::-1]), encoding="utf-8")
    entered, release = threading.Event(), threading.Event()

    class Blocking(FakeEmbedder):
        def embed_passages(self, texts, **kw):
            entered.set()
            assert release.wait(10)
            return super().embed_passages(texts, **kw)

    result: dict[str, object] = {}

    def first() -> None:
        try:
            result["summary"] = build(corpus, index_dir, Blocking())
        except BaseException as exc:  # pragma: no cover - reported below
            result["error"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert entered.wait(10)
        with pytest.raises(BuildLocked):
            build(corpus, index_dir)
        assert current_version(index_dir) == v1
    finally:
        release.set()
        thread.join(10)
    assert "error" not in result
    summary = result["summary"]
    assert isinstance(summary, BuildSummary) and summary.changed == ["syn3"]
    assert load_current(index_dir).version == summary.version
    assert list_versions(index_dir) == [v1, summary.version] and not leftovers(index_dir)


# --- validation before publishing ------------------------------------------------------------------

def test_failed_validation_publishes_nothing(tmp_path: Path, corpus: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    index_dir = tmp_path / "index"
    v1 = build(corpus, index_dir).version
    monkeypatch.setattr(build_mod, "self_query_ok", lambda *a: False)
    with pytest.raises(BuildError, match="validation failed"):
        build(corpus, index_dir)
    assert current_version(index_dir) == v1 and list_versions(index_dir) == [v1]
    assert not leftovers(index_dir)


def test_cache_from_another_model_under_the_same_fingerprint_is_caught(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    v1 = build(corpus, index_dir).version

    class Impostor(FakeEmbedder):
        """Claims FakeEmbedder's fingerprint but makes different vectors."""

        def _vector(self, text: str) -> np.ndarray:
            return super()._vector(text[::-1] + "#")

    with pytest.raises(BuildError, match="cached vectors do not match") as err:
        build(corpus, index_dir, Impostor())
    assert "--full" in str(err.value)
    assert current_version(index_dir) == v1
    assert build(corpus, index_dir, Impostor(), full=True).embedded_chunks > 0


def test_duplicate_articles_pass_validation(tmp_path: Path) -> None:
    """Six identical articles give six identical passage vectors; the self-query check must accept
    a row crowded out of its own top 5 by exact duplicates."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(7):
        shutil.copy(SHIPPED[0], corpus / f"copy{i}.txt")
    summary = build(corpus, tmp_path / "index")
    assert summary.articles == 7 and load_current(tmp_path / "index").vectors.size == summary.chunks


def test_hnsw_past_threshold_with_recall_and_mmap(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    summary = build(corpus, index_dir, ann_threshold=10)
    assert summary.index_kind == "hnsw" and summary.recall_at_10 is not None
    assert summary.recall_at_10 >= 0.95
    assert "HNSW recall@10" in "\n".join(summary.lines())
    for mmap in (False, True):
        loaded = load_current(index_dir, mmap=mmap)
        assert loaded.vectors.kind == "hnsw" and loaded.manifest["index"]["kind"] == "hnsw"
        row = len(loaded.chunks) // 2
        _, ids = loaded.vectors.search(loaded.vectors.reconstruct(row)[None, :], 3)
        assert row in ids[0]
    small = build(corpus, tmp_path / "small", ann_threshold=10_000)
    assert small.index_kind == "flat" and small.recall_at_10 is None


def test_low_hnsw_recall_falls_back_to_exact(tmp_path: Path, corpus: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_mod, "recall_at_k", lambda *a, **k: 0.5)
    logged: list[str] = []
    summary = build(corpus, tmp_path / "index", ann_threshold=10, log=logged.append)
    assert summary.index_kind == "flat"
    assert any("falling back to exact search" in line for line in logged)
    assert load_current(tmp_path / "index").vectors.kind == "flat"


# --- --if-changed ------------------------------------------------------------------------------------

def test_if_changed_publishes_nothing_for_the_same_corpus(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    first = build(corpus, index_dir)
    embedder = RecordingEmbedder()
    again = build(corpus, index_dir, embedder, if_changed=True)
    assert not again.published and again.version == first.version
    assert list_versions(index_dir) == [first.version] and current_version(index_dir) == first.version
    assert embedder.passage_calls == []  # nothing embedded, not even the validation probe
    assert "up to date" in again.lines()[0]

    # Another model, another chunking or another article each make a new version.
    small = FakeEmbedder(dim=128)
    assert build(corpus, index_dir, small, if_changed=True).published
    other = ChunkParams(100, 300, 1)
    assert build(corpus, index_dir, small, if_changed=True, params=other).published
    assert not build(corpus, index_dir, small, if_changed=True, params=other).published
    (corpus / "syn0.txt").write_text(article_text("Solar panels, revised", TOPICS[0][1][::-1]),
                                     encoding="utf-8")
    changed = build(corpus, index_dir, small, if_changed=True, params=other)
    assert changed.published and changed.changed == ["syn0"]
    # --full always rebuilds.
    assert build(corpus, index_dir, small, if_changed=True, params=other, full=True).published


def test_if_changed_rebuilds_over_a_damaged_current(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    first = build(corpus, index_dir)
    (index_dir / VERSIONS / first.version / VECTORS).write_bytes(b"\0" * 64)
    again = build(corpus, index_dir, if_changed=True)
    assert again.published and again.version != first.version


# --- sentences embedded with their titles ---------------------------------------------------------

def test_a_model_that_reads_titles_gets_each_sentence_with_its_articles_title(tmp_path: Path,
                                                                                corpus: Path) -> None:
    titled = FakeEmbedder(uses_titles=True)
    build(corpus, tmp_path / "titled", titled)
    loaded = load_current(tmp_path / "titled")
    assert loaded.manifest["model"]["titled_sentences"] is True
    rows = [0, len(loaded.sentences) // 2, len(loaded.sentences) - 1]
    for row in rows:
        article_id, start, end = loaded.sentences[row]
        article = loaded.articles[article_id]
        expected = titled.embed_passages([article.text[start:end]], titles=[article.title])[0]
        np.testing.assert_allclose(loaded.sentence_vectors[[row]][0], expected, atol=1e-6)
    # Chunks keep their one passage text (the title is its first line): the same vectors either way.
    build(corpus, tmp_path / "plain", FakeEmbedder())
    plain = load_current(tmp_path / "plain")
    assert plain.manifest["model"]["titled_sentences"] is False
    assert loaded.vectors.size == plain.vectors.size
    first = plain.sentences[rows[1]]
    assert float(loaded.sentence_vectors[[rows[1]]][0] @ plain.sentence_vectors[[rows[1]]][0]) < 0.999, first


def test_an_index_embedded_the_other_way_is_refused_and_rebuilt(tmp_path: Path, corpus: Path) -> None:
    from kiji.errors import IndexIncompatible
    from kiji.retrieval.engine import Engine

    index_dir = tmp_path / "index"
    first = build(corpus, index_dir, FakeEmbedder())
    with pytest.raises(IndexIncompatible, match="embedded without their titles") as err:
        Engine(index=load_current(index_dir), embedder=FakeEmbedder(uses_titles=True))
    assert "kiji index build" in (err.value.hint or "")
    # `--if-changed` does not keep it: the same articles under a model that reads titles rebuild.
    again = build(corpus, index_dir, FakeEmbedder(uses_titles=True), if_changed=True)
    assert again.published and again.version != first.version
    Engine(index=load_current(index_dir), embedder=FakeEmbedder(uses_titles=True))
    assert not build(corpus, index_dir, FakeEmbedder(uses_titles=True), if_changed=True).published
