"""Building and publishing an index version: incremental, validated, atomic, one build at a time.

A build runs in phases, each a function below: read what is served now, chunk the corpus, embed what
the cache lacks (``passages.py``), choose and build the vector index, write the version beside the
others, validate it, publish it, prune old ones. Until ``publish`` renames ``CURRENT``, nothing that
serves has changed; a failure at any point leaves the previous version serving.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kiji.corpus.articles import Article, load_corpus
from kiji.corpus.chunker import Chunk, ChunkParams, chunk_article
from kiji.errors import BuildError, IndexCorrupt, IndexUnavailable
from kiji.retrieval.embedding.embedder import Embedder
from kiji.retrieval.index.compact import Int8Vectors
from kiji.retrieval.index.passages import PassageEncoder, ProgressFactory, embed_with_cache, embedding_inputs
from kiji.retrieval.index.store import (
    FORMAT_VERSION,
    VERSIONS,
    current_version,
    load_version,
    publish,
    read_manifest,
    self_query_ok,
    titled_sentences,
    write_version,
)
from kiji.retrieval.index.vector_index import FaissIndex, recall_at_k, tune_nprobe
from kiji.retrieval.index.versions import build_lock, clean_leftovers, new_version_name, prune_versions


@dataclass
class BuildSummary:
    version: str
    articles: int
    chunks: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    embedded_chunks: int = 0
    reused_chunks: int = 0
    skipped: list[str] = field(default_factory=list)
    index_kind: str = "flat"
    recall_at_10: float | None = None
    seconds: float = 0.0
    embed_seconds: float = 0.0
    #: False when ``if_changed`` found the current version up to date (``version`` is that one).
    published: bool = True

    def lines(self) -> list[str]:
        if not self.published:
            return [f"index version {self.version} is up to date: {self.articles} articles, "
                    f"{self.chunks} chunks; nothing published"]
        out = [f"published index version {self.version}: {self.articles} articles, {self.chunks} chunks "
               f"({self.index_kind}) in {self.seconds:.1f}s",
               f"articles: {len(self.added)} added, {len(self.changed)} changed, "
               f"{len(self.removed)} removed, {len(self.unchanged)} unchanged",
               f"passages (chunks and quote sentences): {self.embedded_chunks} embedded, "
               f"{self.reused_chunks} reused from cache"]
        if self.recall_at_10 is not None:
            out.append(f"{self.index_kind.upper()} recall@10 against exact search: {self.recall_at_10:.3f}")
        for item in self.skipped:
            out.append(f"skipped: {item}")
        return out


def build_index(
    *,
    corpus_paths: list[Path],
    index_dir: Path,
    embedder: Embedder,
    params: ChunkParams,
    batch_size: int = 16,
    keep_versions: int = 3,
    ann_threshold: int = 200_000,
    compact_threshold: int | None = None,
    cache_dir: Path | None = None,
    full: bool = False,
    if_changed: bool = False,
    max_article_bytes: int | None = None,
    progress: ProgressFactory | None = None,
    log: Callable[[str], None] = lambda _: None,
    locked: bool = False,
    encoder: PassageEncoder | None = None,
    _before_publish: Callable[[Path], None] | None = None,
) -> BuildSummary:
    """Build a new version from the corpus and publish it; the previous version stays on failure.

    ``if_changed``: when the current version already holds exactly these articles, chunked the same
    way by the same model, publish nothing and return its summary (``published`` false).
    ``locked``: the caller already holds ``build_lock`` (``kiji index add`` holds it across its
    corpus change and this build). ``encoder``: where missing passages are embedded (default: here,
    with ``embedder``); ``embedder`` still names the model and validates the result.
    ``compact_threshold``: from this many chunks on, a compact version (``ivf-sq8`` chunk index,
    int8 sentence vectors; see ``compact.py``); ``None``: never. ``cache_dir``: where the passage
    vector cache lives (default ``<index_dir>/cache``; a builder writing to shared storage keeps it
    on its own disk)."""
    started = time.perf_counter()
    with nullcontext() if locked else build_lock(index_dir):
        leftovers = clean_leftovers(index_dir)
        if leftovers:
            log(f"removed leftovers of an interrupted build: {', '.join(leftovers)}")
        report = load_corpus(corpus_paths, max_article_bytes=max_article_bytes)
        skipped = [str(err) for err in report.errors]
        if not report.articles:
            raise BuildError("nothing could be indexed: no readable articles"
                             + (f" ({len(skipped)} files skipped: {'; '.join(skipped[:5])})" if skipped else ""),
                             hint="check KIJI_CORPUS_DIR / --corpus")
        current, current_manifest = _read_current(index_dir, log)
        articles = report.articles
        chunks, per_article = _chunk(articles, params)
        if if_changed and not full and current and _serves_the_same(index_dir / VERSIONS / current, current_manifest,
                                                                    per_article, params, embedder, skipped):
            return BuildSummary(version=current, articles=len(articles), chunks=len(chunks),
                                unchanged=sorted(per_article), skipped=skipped,
                                index_kind=current_manifest["index"]["kind"], published=False,
                                seconds=time.perf_counter() - started)

        inputs = embedding_inputs({a.id: a for a in articles}, chunks)
        texts, sentences = inputs.chunk_texts, inputs.sentences
        cache_path = (cache_dir or index_dir / "cache") / f"embeddings-{embedder.fingerprint}.sqlite"
        embedded = embed_with_cache(inputs.texts, inputs.titles, embedder=embedder, cache_path=cache_path,
                                    full=full, encoder=encoder, batch_size=batch_size, progress=progress,
                                    log=log)
        vectors = embedded.vectors[: len(texts)]
        built = _vector_index(vectors, embedded.vectors[len(texts) :], ann_threshold, compact_threshold, log)

        version = new_version_name()
        manifest = {
            "format_version": FORMAT_VERSION,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": {"id": embedder.model_id, "fingerprint": embedder.fingerprint,
                      "runtime": embedder.runtime, "dim": embedder.dim,
                      "titled_sentences": embedder.uses_titles},
            "chunker": params.to_dict(),
            "index": {"kind": built.kind, "recall_at_10": built.recall, "metric": "inner_product",
                      **({"nprobe": built.index.nprobe} if built.index.nprobe else {}),
                      "sentence_vectors": "int8" if built.compact else "float32"},
            "counts": {"articles": len(articles), "chunks": len(chunks), "sentences": len(sentences)},
            "articles": per_article,
            "skipped": skipped,
        }

        def write(path: Path) -> None:
            write_version(path, manifest=manifest, vectors=built.index, chunks=chunks, articles=articles,
                          sentences=sentences, sentence_vectors=built.sentence_vectors)

        _write_validate_publish(index_dir, version, write, embedder, vectors, texts, _before_publish)
        prune_versions(index_dir, keep_versions)
        added, changed, removed, unchanged = _article_changes(current_manifest.get("articles", {}), per_article)
        return BuildSummary(
            version=version, articles=len(articles), chunks=len(chunks),
            added=added, changed=changed, removed=removed, unchanged=unchanged,
            embedded_chunks=embedded.embedded, reused_chunks=embedded.reused,
            skipped=skipped, index_kind=built.kind, recall_at_10=built.recall,
            seconds=time.perf_counter() - started, embed_seconds=embedded.seconds,
        )


def _read_current(index_dir: Path, log: Callable[[str], None]) -> tuple[str | None, dict[str, Any]]:
    """The served version's name and manifest, if one is served and readable."""
    try:
        current = current_version(index_dir)
        # Only the manifest: loading the whole current index would cost its memory twice.
        return current, read_manifest(index_dir / VERSIONS / current) if current else {}
    except IndexCorrupt as exc:
        # A damaged CURRENT or current version: build everything from the corpus; publishing
        # replaces it.
        log(f"the served index cannot be read ({exc.message}); this build replaces it")
    except IndexUnavailable:
        pass
    return None, {}


def _chunk(articles: list[Article], params: ChunkParams) -> tuple[list[Chunk], dict[str, dict[str, Any]]]:
    """Every article's chunks, in order, and the manifest's entry for each article."""
    chunks: list[Chunk] = []
    per_article: dict[str, dict[str, Any]] = {}
    for article in articles:
        found = chunk_article(article, params)
        per_article[article.id] = {"sha256": article.sha256, "title": article.title,
                                   "source": article.source, "url": article.url,
                                   "chunks": len(found)}
        chunks.extend(found)
    if not chunks:
        raise BuildError("nothing could be indexed: the articles contain no text after cleaning")
    return chunks, per_article


@dataclass(frozen=True)
class _BuiltVectors:
    index: FaissIndex
    kind: str
    recall: float | None  # recall@10 against exact search, for the approximate kinds
    sentence_vectors: np.ndarray | Int8Vectors

    @property
    def compact(self) -> bool:
        """int8 sentence vectors: a compact build, also when its chunk index fell back to exact
        search (``kind`` is then "flat")."""
        return isinstance(self.sentence_vectors, Int8Vectors)


def _choose_kind(n: int, threshold: int, compact_threshold: int | None = None) -> str:
    if compact_threshold is not None and n >= compact_threshold:
        return "ivf-sq8"
    return "hnsw" if n >= threshold else "flat"


def _probe_rows(n: int, size: int = 200) -> np.ndarray:
    return np.random.default_rng(0).choice(n, size=min(size, n), replace=False)


def _vector_index(vectors: np.ndarray, sentence_vectors: np.ndarray, ann_threshold: int,
                  compact_threshold: int | None, log: Callable[[str], None]) -> _BuiltVectors:
    """The chunk index of the kind the size calls for; exact search when an approximate one's
    recall@10 falls under 0.95."""
    kind = _choose_kind(len(vectors), ann_threshold, compact_threshold)
    compact = kind == "ivf-sq8"
    index = FaissIndex.build(vectors, kind=kind)
    recall = None
    if kind == "hnsw":
        probe = vectors[_probe_rows(len(vectors))]
        recall = recall_at_k(index, FaissIndex.build(vectors, kind="flat"), probe, 10)
    elif compact:
        # Sentences are what questions look like to a chunk index: near their chunk, not on it.
        source = sentence_vectors if len(sentence_vectors) else vectors
        recall = tune_nprobe(index, vectors, source[_probe_rows(len(source))])
    if recall is not None and recall < 0.95:
        log(f"{kind.upper()} recall@10 {recall:.3f} < 0.95; falling back to exact search")
        index, kind = FaissIndex.build(vectors, kind="flat"), "flat"
    stored = Int8Vectors.encode(sentence_vectors) if compact else sentence_vectors
    return _BuiltVectors(index=index, kind=kind, recall=recall, sentence_vectors=stored)


def _write_validate_publish(index_dir: Path, version: str, write: Callable[[Path], None],
                            embedder: Embedder, vectors: np.ndarray, texts: list[str],
                            before_publish: Callable[[Path], None] | None) -> None:
    """``write`` the version under a temporary name, prove it answers, rename it into place and
    point ``CURRENT`` at it; on any failure, remove what was written."""
    tmp = index_dir / VERSIONS / f"tmp-{version}"
    (index_dir / VERSIONS).mkdir(parents=True, exist_ok=True)
    try:
        write(tmp)
        _validate(tmp, embedder, vectors, texts)
        final = index_dir / VERSIONS / version
        os.replace(tmp, final)
        if before_publish:
            before_publish(final)
        publish(index_dir, version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _article_changes(previous: dict[str, Any], per_article: dict[str, dict[str, Any]]
                     ) -> tuple[list[str], list[str], list[str], list[str]]:
    """The articles this version adds, changes, removes and keeps, against the one it replaces."""
    prev_ids, new_ids = set(previous), set(per_article)
    same = {a for a in new_ids & prev_ids if previous[a].get("sha256") == per_article[a]["sha256"]}
    return sorted(new_ids - prev_ids), sorted(new_ids & prev_ids - same), sorted(prev_ids - new_ids), sorted(same)


def _serves_the_same(path: Path, manifest: dict[str, Any], per_article: dict[str, dict[str, Any]],
                     params: ChunkParams, embedder: Embedder, skipped: list[str]) -> bool:
    """The current version was built from these very articles, chunk settings and model, and loads."""
    model = manifest.get("model", {})
    if (manifest.get("articles") != per_article or manifest.get("chunker") != params.to_dict()
            or manifest.get("skipped") != skipped
            or (model.get("fingerprint"), model.get("runtime"), model.get("dim"), titled_sentences(manifest))
            != (embedder.fingerprint, embedder.runtime, embedder.dim, embedder.uses_titles)):
        return False
    try:
        load_version(path)
    except IndexUnavailable:
        return False
    return True


def _validate(path: Path, embedder: Embedder, vectors: np.ndarray, texts: list[str]) -> None:
    """Load the written version back and prove it answers: counts, dimension, self-queries."""
    loaded = load_version(path)
    if loaded.vectors.size != len(texts) or loaded.vectors.dim != embedder.dim:
        raise BuildError("validation failed: the written index does not match what was built")
    probes = sorted({0, len(texts) // 2, len(texts) - 1})
    # 8-bit codes move a score by up to ~0.01 (bench/compact_bench.py): a near-duplicate may outscore.
    tolerance = 0.02 if loaded.vectors.kind == "ivf-sq8" else 1e-4
    if not self_query_ok(loaded.vectors, vectors, probes, tolerance):
        raise BuildError("validation failed: a chunk's own vector does not find that chunk")
    # Re-embedding one chunk catches a cache filled by a different model under the same name.
    fresh = embedder.embed_passages([texts[probes[0]]])
    if float(fresh[0] @ vectors[probes[0]]) < 0.99:
        raise BuildError("validation failed: cached vectors do not match the embedding model",
                         hint="rebuild with `kiji index build --full`")
