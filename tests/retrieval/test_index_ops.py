"""Index operations (issue 6): incremental builds, versions and rollback, the build lock, crash
safety under SIGKILL, damage named rather than hidden, input formats, and the ``kiji index`` CLI.

Everything runs on ``FakeEmbedder`` over small corpora written into ``tmp_path``. Crash tests run a
build in a child process (a small script written next to the corpus) that kills itself with SIGKILL
at a chosen point, or that the test kills from outside while it is embedding; no test-only hook in
production code is needed, the script monkeypatches the step it dies in.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from kiji import cli
from kiji.corpus.articles import load_corpus
from kiji.corpus.chunker import ChunkParams, chunk_article
from kiji.corpus.html_extract import extract_html
from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.errors import BuildError, BuildLocked, IndexCorrupt, IndexIncompatible, IndexMissing
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index import build as build_mod
from kiji.retrieval.index.build import BuildSummary, build_index, build_lock, passage_text, rollback
from kiji.retrieval.index.store import (
    CHUNKS,
    CURRENT,
    MANIFEST,
    VECTORS,
    VERSIONS,
    check_compatible,
    current_version,
    list_versions,
    load_current,
    sentence_table,
)

PARAMS = ChunkParams()
SHIPPED = sorted(SHIPPED_CORPUS_DIR.glob("*.txt"))

TOPICS = [
    ("Solar panels on Kyoto temples",
     ["Kyoto city announced a plan to install solar panels on the roofs of temples.",
      "The plan covers one hundred temples by the year 2030.",
      "Panels in the same colour as roof tiles will be used to protect the scenery.",
      "Most head priests support the plan, while some residents oppose it.",
      "A city official said the goal is to raise the share of locally produced electricity.",
      "The first ten temples will be equipped next spring."]),
    ("A bakery that opens at midnight",
     ["A small bakery in Osaka only opens between midnight and six in the morning.",
      "The owner used to work night shifts at a hospital and knows how hungry night workers get.",
      "Its best seller is a curry bread that sells out within two hours.",
      "Taxi drivers make up almost half of the customers.",
      "The bakery has no sign, only a paper lantern by the door.",
      "Prices have not changed since it opened eleven years ago."]),
    ("Rebuilding a village railway",
     ["Volunteers in Nagano rebuilt a two kilometre stretch of an abandoned railway.",
      "The line closed in 1987 when the last copper mine in the valley shut down.",
      "Weekend rides on a restored diesel railcar now attract four thousand visitors a year.",
      "Ticket income pays for the maintenance of the track and the old station building.",
      "The group hopes to extend the line to the next village by 2027.",
      "Local schools use the railway for lessons about the mining history of the area."]),
    ("Octopus farming experiment",
     ["A fisheries institute in Mie reported the first full life cycle of octopus raised in tanks.",
      "Feeding the larvae was the hardest step and took eight years of research.",
      "Animal welfare groups criticised the experiment and asked for stricter rules.",
      "The institute says commercial farming is still at least five years away.",
      "Wild octopus catches in Japan have fallen by half over two decades.",
      "Restaurants in Osaka already asked about buying farmed octopus."]),
]


def article_text(title: str, sentences: Sequence[str]) -> str:
    return title + "\n\n" + " ".join(sentences[:3]) + "\n\n" + " ".join(sentences[3:]) + "\n"


# --- helpers -------------------------------------------------------------------------------------

class RecordingEmbedder(FakeEmbedder):
    """FakeEmbedder that remembers every ``embed_passages`` call (the last one of a build is the
    validation probe: one chunk re-embedded to prove the cache matches the model)."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__(dim)
        self.passage_calls: list[list[str]] = []

    def embed_passages(self, texts, *, batch_size=16, progress=None):  # type: ignore[no-untyped-def]
        self.passage_calls.append(list(texts))
        return super().embed_passages(texts, batch_size=batch_size, progress=progress)


def write_corpus(folder: Path, *, shipped: int = 2, synthetic: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in SHIPPED[:shipped]:
        shutil.copy(path, folder / path.name)
    for i, (title, sentences) in enumerate(TOPICS[:synthetic]):
        (folder / f"syn{i}.txt").write_text(article_text(title, sentences), encoding="utf-8")
    return folder


def build(corpus: Path, index_dir: Path, embedder: FakeEmbedder | None = None, **kw) -> BuildSummary:  # type: ignore[no-untyped-def]
    return build_index(corpus_paths=[corpus], index_dir=index_dir, embedder=embedder or FakeEmbedder(),
                       params=PARAMS, **kw)


def passage_hashes(corpus: Path) -> dict[str, set[str]]:
    """Distinct texts a build embeds (chunk passages and quote sentences), per article."""
    out: dict[str, set[str]] = {}
    for article in load_corpus([corpus]).articles:
        chunks = chunk_article(article, PARAMS)
        texts = {passage_text(article, c) for c in chunks}
        texts |= {article.text[s:e] for _, s, e in sentence_table(chunks)}
        out[article.id] = texts
    return out


def leftovers(index_dir: Path) -> list[str]:
    found = [p.name for p in (index_dir / VERSIONS).glob("tmp-*")]
    if (index_dir / f".{CURRENT}.tmp").exists():
        found.append(f".{CURRENT}.tmp")
    return found


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No KIJI_* variables or .env file from the developer's shell leak into the CLI's settings."""
    for name in list(os.environ):
        if name.startswith("KIJI_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


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

    def factory(total: int):  # type: ignore[no-untyped-def]
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


def test_rollback_refuses_a_damaged_target(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    v1 = build(corpus, index_dir).version
    v2 = build(corpus, index_dir).version
    (index_dir / VERSIONS / v1 / CHUNKS).unlink()
    with pytest.raises(IndexCorrupt, match="chunks.jsonl"):
        rollback(index_dir)
    assert current_version(index_dir) == v2


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
        def embed_passages(self, texts, **kw):  # type: ignore[no-untyped-def]
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


# --- crash safety (SIGKILL) ------------------------------------------------------------------------

CRASH_SCRIPT = r'''
import os, signal, sys, time
from pathlib import Path

import kiji.retrieval.index.build as build
import kiji.retrieval.index.store as store
from kiji.corpus.chunker import ChunkParams
from kiji.retrieval.embedding.fake import FakeEmbedder

corpus, index_dir, point = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]


def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class Embedder(FakeEmbedder):
    def embed_passages(self, texts, *, batch_size=16, progress=None):
        def tick(n):
            if point == "embed":                # after the first batch, before the cache write
                die()
            if point == "embed-wait":           # the test kills us from outside
                print("EMBEDDING", flush=True)
                time.sleep(60)
            if point == "slow":
                time.sleep(0.01)
        return super().embed_passages(texts, batch_size=batch_size, progress=tick)


real_write = store.write_text_durable
if point == "write":                            # vectors and tables written, manifest not
    def write(path, text):
        if path.name == store.MANIFEST:
            die()
        real_write(path, text)
    store.write_text_durable = write
elif point == "validate":                       # complete tmp-<v>, not yet renamed
    build._validate = lambda *a, **k: die()
elif point == "publish":                        # .CURRENT.tmp written, not yet renamed to CURRENT
    def write(path, text):
        real_write(path, text)
        if path.name == ".CURRENT.tmp":
            die()
    store.write_text_durable = write
elif point == "prune":                          # published, old versions not yet pruned
    build.prune_versions = lambda *a, **k: die()

summary = build.build_index(
    corpus_paths=[corpus], index_dir=index_dir, embedder=Embedder(), params=ChunkParams(),
    batch_size=2, keep_versions=2,
    _before_publish=(lambda p: die()) if point == "rename" else None)
print("DONE", summary.version, flush=True)
'''


def _child(tmp_path: Path, corpus: Path, index_dir: Path, point: str) -> subprocess.Popen[str]:
    script = tmp_path / "crash_build.py"
    script.write_text(CRASH_SCRIPT, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(script), str(corpus), str(index_dir), point],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _prepare_crash(tmp_path: Path) -> tuple[Path, Path, str]:
    corpus = write_corpus(tmp_path / "corpus", shipped=1, synthetic=4)
    index_dir = tmp_path / "index"
    v1 = build(corpus, index_dir).version
    # Give the next build real work: one changed and one new article.
    (corpus / "syn0.txt").write_text(article_text("Solar panels, revised", TOPICS[0][1][::-1]),
                                     encoding="utf-8")
    shutil.copy(SHIPPED[1], corpus / SHIPPED[1].name)
    return corpus, index_dir, v1


def _assert_recovers(corpus: Path, index_dir: Path, served: str) -> None:
    loaded = load_current(index_dir)
    assert loaded.version == served
    _, ids = loaded.vectors.search(loaded.vectors.reconstruct(0)[None, :], 1)
    assert ids[0][0] == 0
    summary = build(corpus, index_dir)  # the lock was released by the kernel; leftovers go
    assert not leftovers(index_dir)
    assert load_current(index_dir).version == summary.version == current_version(index_dir)
    assert summary.articles == 6


@pytest.mark.parametrize("point", ["embed", "write", "validate", "rename", "publish", "prune"])
def test_sigkill_at_each_step_leaves_current_intact(tmp_path: Path, point: str) -> None:
    corpus, index_dir, v1 = _prepare_crash(tmp_path)
    child = _child(tmp_path, corpus, index_dir, point)
    out, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, (out, err)
    assert "DONE" not in out
    versions = list_versions(index_dir)
    if point == "prune":
        # CURRENT had already been switched: the new version is served, complete.
        assert current_version(index_dir) != v1 and len(versions) == 2
        _assert_recovers(corpus, index_dir, current_version(index_dir) or "")
        return
    if point in ("write", "validate"):
        assert len(leftovers(index_dir)) == 1  # a tmp-<v> folder, never listed as a version
    if point == "publish":
        assert leftovers(index_dir) == [f".{CURRENT}.tmp"]
    if point in ("rename", "publish"):
        assert len(versions) == 2  # complete and validated, but CURRENT was never switched to it
    else:
        assert versions == [v1]
    _assert_recovers(corpus, index_dir, v1)


def test_external_sigkill_during_embedding_and_lock_across_processes(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    corpus, index_dir, v1 = _prepare_crash(tmp_path)
    child = _child(tmp_path, corpus, index_dir, "embed-wait")
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "EMBEDDING"
        # The child holds the lock: a second build (library and CLI) refuses clearly.
        with pytest.raises(BuildLocked, match="another index build is running"):
            build(corpus, index_dir)
        monkeypatch.setattr(cli, "_embedder", lambda settings: FakeEmbedder())
        capsys.readouterr()
        assert cli.main(["index", "build", "--corpus", str(corpus), "--index-dir", str(index_dir)]) == 5
        assert "another index build is running" in capsys.readouterr().err
        assert load_current(index_dir).version == v1
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    _assert_recovers(corpus, index_dir, v1)


def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    """Kill a whole build from outside at arbitrary moments: the index is always one whole version."""
    corpus, index_dir, v1 = _prepare_crash(tmp_path)
    rng = random.Random(6)
    served = {v1}
    for _ in range(3):
        child = _child(tmp_path, corpus, index_dir, "slow")
        time.sleep(rng.uniform(0.3, 1.5))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
        loaded = load_current(index_dir)  # never damaged, whatever the moment
        if "DONE" in out:
            served.add(out.split()[1])
        # Either the old version or the child's new one, and only if the child got that far.
        assert loaded.version in served or (child.returncode == -signal.SIGKILL
                                            and loaded.version in list_versions(index_dir))
        assert all(not v.startswith("tmp-") for v in list_versions(index_dir))
        served.add(loaded.version)
    _assert_recovers(corpus, index_dir, load_current(index_dir).version)


# --- damage is named -------------------------------------------------------------------------------

@pytest.fixture()
def built(tmp_path: Path, corpus: Path) -> tuple[Path, Path]:
    index_dir = tmp_path / "index"
    build(corpus, index_dir)
    return index_dir, index_dir / VERSIONS / (current_version(index_dir) or "")


@pytest.mark.parametrize("cut", [0, 10, 200, "half", "minus1"])
@pytest.mark.parametrize("mmap", [False, True])
def test_truncated_vectors(built: tuple[Path, Path], cut: object, mmap: bool) -> None:
    index_dir, version = built
    data = (version / VECTORS).read_bytes()
    size = {"half": len(data) // 2, "minus1": len(data) - 1}.get(cut, cut)  # type: ignore[call-overload]
    (version / VECTORS).write_bytes(data[:size])
    with pytest.raises(IndexCorrupt) as err:
        load_current(index_dir, mmap=mmap)
    message = str(err.value)
    assert "vectors.faiss" in message and "kiji index build --full" in message
    assert "kiji index rollback" in message


def test_garbage_manifest(built: tuple[Path, Path]) -> None:
    index_dir, version = built
    (version / MANIFEST).write_bytes(b"{not json \xff")
    with pytest.raises(IndexCorrupt, match="manifest.json .* not valid JSON") as err:
        load_current(index_dir)
    assert "kiji index build --full" in str(err.value)
    (version / MANIFEST).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(IndexIncompatible, match="unknown format"):
        load_current(index_dir)
    (version / MANIFEST).unlink()
    with pytest.raises(IndexCorrupt, match="no manifest.json"):
        load_current(index_dir)


def _edit_manifest(version: Path, **model: object) -> None:
    manifest = json.loads((version / MANIFEST).read_text())
    manifest["model"].update(model)
    (version / MANIFEST).write_text(json.dumps(manifest))


def test_manifest_from_another_model(built: tuple[Path, Path]) -> None:
    index_dir, version = built
    _edit_manifest(version, fingerprint="0123456789abcdef", id="other/model")
    loaded = load_current(index_dir)  # the files are fine ...
    with pytest.raises(IndexIncompatible, match="other/model") as err:  # ... but not for this model
        Engine(index=loaded, embedder=FakeEmbedder())
    assert "0123456789abcdef" in str(err.value) and "rebuild" in str(err.value)
    with pytest.raises(IndexIncompatible):
        check_compatible(loaded.manifest, fingerprint="fake-256-v1", dim=256, runtime="fake")


def test_index_of_another_dimension(tmp_path: Path, corpus: Path) -> None:
    index_dir = tmp_path / "index"
    build(corpus, index_dir, FakeEmbedder(dim=128))
    loaded = load_current(index_dir)
    with pytest.raises(IndexIncompatible, match="128-dimensional vectors but the embedding model makes 256") as err:
        Engine(index=loaded, embedder=FakeEmbedder(dim=256))
    assert "kiji index build --full" in str(err.value)
    Engine(index=loaded, embedder=FakeEmbedder(dim=128))  # the right model is fine


def test_manifest_dimension_disagrees_with_vectors(built: tuple[Path, Path]) -> None:
    index_dir, version = built
    _edit_manifest(version, dim=384)
    with pytest.raises(IndexCorrupt, match="dimension 256, manifest says 384"):
        load_current(index_dir)


@pytest.mark.parametrize(("name", "pattern"), [
    (CHUNKS, r"chunk table \(chunks.jsonl\) is missing"),
    ("articles.jsonl", r"article table \(articles.jsonl\) is missing"),
    ("sentences.npy", "sentence vectors are missing"),
    (VECTORS, "vector file is missing"),
])
def test_missing_file(built: tuple[Path, Path], name: str, pattern: str) -> None:
    index_dir, version = built
    (version / name).unlink()
    with pytest.raises(IndexCorrupt, match=pattern) as err:
        load_current(index_dir)
    assert version.name in str(err.value) and "rollback" in str(err.value)


def test_damaged_tables(built: tuple[Path, Path]) -> None:
    index_dir, version = built
    lines = (version / CHUNKS).read_text().splitlines()
    (version / CHUNKS).write_text("\n".join(lines[:-1]) + "\n")  # one chunk row lost
    with pytest.raises(IndexCorrupt, match="inconsistent"):
        load_current(index_dir)
    (version / CHUNKS).write_text("\n".join(lines)[:-7])  # cut mid-row
    with pytest.raises(IndexCorrupt, match="chunks.jsonl.*damaged"):
        load_current(index_dir)
    (version / CHUNKS).write_text("\n".join(lines) + "\n")
    articles = (version / "articles.jsonl").read_text().replace("solar", "lunar")
    (version / "articles.jsonl").write_text(articles)
    with pytest.raises(IndexCorrupt, match="does not match its hash"):
        load_current(index_dir)


def test_current_names_a_missing_version(built: tuple[Path, Path]) -> None:
    index_dir, version = built
    shutil.rmtree(version)
    with pytest.raises(IndexCorrupt, match="CURRENT names index version .* which does not exist") as err:
        load_current(index_dir)
    assert "kiji index rollback" in str(err.value)


def test_no_index_at_all(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="kiji index build"):
        load_current(tmp_path / "nothing")


def test_build_over_a_damaged_current(built: tuple[Path, Path], corpus: Path) -> None:
    index_dir, version = built
    (version / VECTORS).write_bytes(b"garbage")
    emb = FakeEmbedder()
    summary = build(corpus, index_dir, emb)
    assert summary.embedded_chunks == 0  # the embedding cache survives the damage
    assert load_current(index_dir).version == summary.version


# --- input formats ---------------------------------------------------------------------------------

JA_TEXT = (
    "京都の寺院に太陽光パネル\n\n"
    "京都市は市内の寺院の屋根に太陽光パネルを設置する計画を発表した。"
    "計画では二〇三〇年までに百か所の寺院に設置する。"
    "景観への影響を抑えるため、瓦と同じ色のパネルを使う。\n\n"
    "住職の多くは計画に賛成しているが、一部の住民は反対している。"
    "市の担当者は、電力の自給率を高めることが目的だと説明した。"
    "最初の十か所は来年の春に工事を始める予定である。\n"
)

HTML_PAGE = """<!doctype html>
<html><head><title>Site | Midnight bakery</title>
<link rel="canonical" href="https://news.example.com/2024/bakery">
<script>var tracking = "SCRIPTJUNK";</script><style>.nav { color: red }</style></head>
<body>
<nav><a href="/">Home</a> <a href="/about">NAVLINK About us</a></nav>
<header>HEADERJUNK Daily Example News</header>
<article>
<h1>A bakery that opens at midnight</h1>
<p>A small bakery in Osaka only opens between midnight and six in the morning.
The owner used to work night shifts at a hospital.</p>
<aside>ASIDEJUNK Subscribe to our newsletter!</aside>
<p>Its best seller is a <b>curry bread</b> that sells out within two hours. Taxi drivers make up
almost half of the customers.</p>
<p>The bakery has no sign, only a paper lantern by the door. Prices have not changed since it opened
eleven years ago.</p>
</article>
<footer>FOOTERJUNK Copyright 2024 Example News</footer>
<script>console.log("SCRIPTJUNK2")</script>
</body></html>
"""


def test_input_formats_and_broken_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SHIPPED[0], corpus / SHIPPED[0].name)
    (corpus / "plain.txt").write_text(article_text(*TOPICS[0]), encoding="utf-8")
    (corpus / "notes.md").write_text("# Rebuilding a village railway\n\n" + " ".join(TOPICS[2][1]) + "\n",
                                     encoding="utf-8")
    (corpus / "page.html").write_text(HTML_PAGE, encoding="utf-8")
    (corpus / "sjis.txt").write_bytes(JA_TEXT.encode("shift_jis"))
    (corpus / "eucjp.txt").write_bytes(JA_TEXT.replace("京都", "奈良").encode("euc_jp"))
    (corpus / "bom.txt").write_bytes(b"\xef\xbb\xbf" + article_text(*TOPICS[3]).encode("utf-8"))
    records = [
        {"id": "rec-1", "title": "Octopus farming experiment", "url": "https://example.org/octopus",
         "published": "2024-05-01", "text": " ".join(TOPICS[3][1])},
        "{this line is not json",
        {"title": "No id given", "text": "A record without an id gets one from the file name and line. "
                                         "It is about lighthouse keepers on remote islands in Okinawa."},
        {"id": "rec-empty", "text": "   "},
    ]
    (corpus / "feed.jsonl").write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records) + "\n",
        encoding="utf-8")
    # Broken files: each skipped and named.
    rng = random.Random(1)
    (corpus / "garbage.txt").write_bytes(bytes(rng.randrange(1, 256) for _ in range(3000)))
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text("\n   \n", encoding="utf-8")
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    (corpus / "bad-records.jsonl").write_text("[1, 2]\n{\"title\": \"no text\"}\n", encoding="utf-8")
    (corpus / "bad id!.txt").write_text("A perfectly fine article with an unusable file name.\n" * 3)
    # Not corpus files at all: ignored without a word.
    (corpus / "report.pdf").write_bytes(b"%PDF-1.4 binary")
    (corpus / "data.csv").write_text("a,b\n1,2\n")
    (corpus / ".hidden.txt").write_text(article_text(*TOPICS[1]))

    index_dir = tmp_path / "index"
    summary = build(corpus, index_dir)
    loaded = load_current(index_dir)
    ids = set(loaded.articles)
    assert ids == {SHIPPED[0].stem, "plain", "notes", "page", "sjis", "eucjp", "bom", "rec-1", "feed-3"}
    assert summary.articles == len(ids)

    skipped = "\n".join(summary.skipped)
    assert len(summary.skipped) == 8, summary.skipped
    assert "garbage.txt: not UTF-8 and no other text encoding could be detected" in skipped
    assert "empty.txt: no article text found" in skipped
    assert "blank.md: no article text found" in skipped
    assert "image.txt: binary file, not text" in skipped
    assert "feed.jsonl:2: invalid JSON" in skipped
    assert "feed.jsonl:4: empty 'text'" in skipped
    assert "bad-records.jsonl: no valid records (2 bad lines" in skipped
    assert "bad id!.txt: invalid article id" in skipped
    for name in ("report.pdf", "data.csv", "hidden"):
        assert name not in skipped
    assert loaded.manifest["skipped"] == summary.skipped

    # Encodings: Shift_JIS and EUC-JP detected and decoded exactly; a BOM is dropped.
    assert loaded.articles["sjis"].text == JA_TEXT
    assert loaded.articles["sjis"].title == "京都の寺院に太陽光パネル"
    assert loaded.articles["eucjp"].text == JA_TEXT.replace("京都", "奈良")
    assert loaded.articles["bom"].text.startswith("Octopus farming experiment")
    assert loaded.articles["notes"].title == "Rebuilding a village railway"  # no "# "

    # JSONL: title, url and published travel with the record; a missing id is file-line.
    rec = loaded.articles["rec-1"]
    assert (rec.title, rec.url, rec.published) == ("Octopus farming experiment",
                                                   "https://example.org/octopus", "2024-05-01")
    assert loaded.articles["feed-3"].title == "No id given"

    # HTML: page chrome removed; the article text is the extracted text; title and canonical url.
    page = loaded.articles["page"]
    _, extracted, _ = extract_html(HTML_PAGE)
    assert page.text == extracted
    for junk in ("SCRIPTJUNK", "NAVLINK", "HEADERJUNK", "FOOTERJUNK", "ASIDEJUNK", "color: red"):
        assert junk not in page.text
    assert page.title == "A bakery that opens at midnight"
    assert page.url == "https://news.example.com/2024/bakery"
    assert "curry bread that sells out" in page.text

    # Every chunk of every article is a verbatim slice of the stored text.
    for chunk in loaded.chunks:
        assert loaded.articles[chunk.article_id].text[chunk.start:chunk.end] == chunk.text

    # Quotes carry offsets into the extracted/decoded text, and the title/url of their article.
    engine = Engine(index=loaded, embedder=FakeEmbedder())
    for question, aid in [("Which bakery sells curry bread to taxi drivers at midnight?", "page"),
                          ("octopus larvae feeding research farming", "rec-1"),
                          ("京都市は寺院の屋根に太陽光パネルを設置する計画", "sjis")]:
        quotes = [q for q in engine.ask(question, top_k=10).considered if q.article_id == aid]
        assert quotes, question
        article = loaded.articles[aid]
        for q in quotes:
            assert article.text[q.start:q.end] == q.text
            assert (q.title, q.url) == (article.title, article.url)


def test_nothing_indexable(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes(b"")
    (corpus / "b.txt").write_bytes(b"\x00\x00")
    with pytest.raises(BuildError, match="nothing could be indexed.*2 files skipped"):
        build(corpus, tmp_path / "index")
    assert current_version(tmp_path / "index") is None


# --- CLI -------------------------------------------------------------------------------------------

@pytest.fixture()
def fake_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_embedder", lambda settings: FakeEmbedder())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_build_info_rollback(tmp_path: Path, corpus: Path, fake_cli: None,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    index_dir = tmp_path / "index"
    where = ["--corpus", str(corpus), "--index-dir", str(index_dir)]
    code, out, err = _run(capsys, "index", "info", *where)
    assert code == 3 and "no index found" in err

    (corpus / "broken.txt").write_bytes(b"\xff\xfe\x00\x00binary")
    code, out, err = _run(capsys, "index", "build", *where)
    assert code == 0, err
    assert "6 articles" in out and "6 added" in out
    assert "skipped: broken.txt: binary file, not text" in out

    code, out, err = _run(capsys, "index", "build", "--json", *where)
    assert code == 0
    summary = json.loads(out)
    assert summary["embedded_chunks"] == 0 and len(summary["unchanged"]) == 6
    assert summary["skipped"] == ["broken.txt: binary file, not text"]

    code, out, _ = _run(capsys, "index", "build", "--full", "--json", *where)
    assert code == 0 and json.loads(out)["reused_chunks"] == 0

    code, out, _ = _run(capsys, "index", "info", "--json", *where)
    assert code == 0
    info = json.loads(out)
    names = [v["version"] for v in info["versions"]]
    assert len(names) == 3 and names == sorted(names) and info["current"] == names[-1]
    assert [v["current"] for v in info["versions"]] == [False, False, True]
    newest = info["versions"][-1]
    assert newest["ok"] and newest["articles"] == 6 and newest["model"]["fingerprint"] == "fake-256-v1"
    assert newest["model"]["dim"] == 256 and newest["index"]["kind"] == "flat"

    code, out, _ = _run(capsys, "index", "rollback", *where)
    assert code == 0 and names[1] in out and current_version(index_dir) == names[1]

    # A damaged version is shown as such, not hidden; serving it fails with exit 3 and the cause.
    (index_dir / VERSIONS / names[1] / CHUNKS).unlink()
    code, out, _ = _run(capsys, "index", "info", *where)
    assert code == 0 and f"* {names[1]}  DAMAGED:" in out and "chunks.jsonl" in out
    code, _, err = _run(capsys, "ask", "solar panels", *where)
    assert code == 3 and "chunks.jsonl" in err and "rollback" in err
    code, out, _ = _run(capsys, "index", "rollback", *where)
    assert code == 0 and current_version(index_dir) == names[0]
    code, _, err = _run(capsys, "index", "rollback", *where)
    assert code == 5 and "no older index version" in err


def test_cli_build_fails_when_nothing_indexable(tmp_path: Path, fake_cli: None,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "empty.txt").write_text("")
    (corpus / "bad.jsonl").write_text("nope\n")
    code, out, err = _run(capsys, "index", "build", "--corpus", str(corpus), "--index-dir", str(tmp_path / "i"))
    assert code == 5 and out == ""
    assert "nothing could be indexed" in err and "empty.txt" in err and "bad.jsonl" in err
    code, _, err = _run(capsys, "index", "build", "--corpus", str(tmp_path / "nope"), "--index-dir",
                        str(tmp_path / "i"))
    assert code != 0 and "corpus path not found" in err


def test_cli_add_and_remove(tmp_path: Path, corpus: Path, fake_cli: None,
                            capsys: pytest.CaptureFixture[str]) -> None:
    index_dir = tmp_path / "index"
    where = ["--corpus", str(corpus), "--index-dir", str(index_dir)]
    assert _run(capsys, "index", "build", *where)[0] == 0

    new = tmp_path / "incoming" / "robots.txt"
    new.parent.mkdir()
    new.write_text(article_text("Tea ceremony robots", [
        "A start-up in Uji built a robot arm that whisks matcha tea.",
        "Tea masters said the foam was acceptable but the bowl was turned the wrong way.",
        "The robot will serve visitors at a museum from April."]), encoding="utf-8")
    code, out, err = _run(capsys, "index", "add", str(new), "--json", *where)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["added"] == ["robots"] and len(summary["unchanged"]) == 6
    assert (corpus / "robots.txt").is_file() and "robots" in load_current(index_dir).articles

    broken = tmp_path / "incoming" / "broken.txt"
    broken.write_bytes(b"\x00binary")
    code, _, err = _run(capsys, "index", "add", str(broken), *where)
    assert code != 0 and "binary file" in err and not (corpus / "broken.txt").exists()

    code, out, err = _run(capsys, "index", "remove", "syn1", "--json", *where)
    assert code == 0, err
    assert json.loads(out)["removed"] == ["syn1"] and not (corpus / "syn1.txt").exists()
    assert "syn1" not in load_current(index_dir).articles

    code, _, err = _run(capsys, "index", "remove", "no-such-article", *where)
    assert code == 2 and "no article with id 'no-such-article'" in err
