"""Building and publishing an index version: incremental, validated, atomic, one build at a time."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kiji.corpus.articles import Article, load_corpus, text_hash
from kiji.corpus.chunker import Chunk, ChunkParams, chunk_article
from kiji.errors import BuildError, IndexCorrupt, IndexUnavailable
from kiji.retrieval.embedding.embedder import Embedder, Progress
from kiji.retrieval.index.compact import Int8Vectors
from kiji.retrieval.index.embedding_cache import EmbeddingCache
from kiji.retrieval.index.store import (
    FORMAT_VERSION,
    VERSIONS,
    current_version,
    load_version,
    publish,
    read_manifest,
    self_query_ok,
    sentence_table,
    write_version,
)
from kiji.retrieval.index.vector_index import FaissIndex, recall_at_k, tune_nprobe
from kiji.retrieval.index.versions import build_lock, clean_leftovers, new_version_name, prune_versions

ProgressFactory = Callable[[int], Callable[[int], None]]
#: Embeds the passages a build lacks somewhere: ``encoder(texts, progress)`` yields ``(rows,
#: vectors)`` as parts finish, ``rows`` being positions in ``texts`` (in any order). The default runs
#: the build's embedder here; ``kiji index build --ray`` passes a Ray pool (embedding/ray_pool.py).
PassageEncoder = Callable[[list[str], Progress | None], Iterator[tuple[np.ndarray, np.ndarray]]]
#: Passages embedded between cache writes.
CACHE_SLICE = 512


def local_encoder(embedder: Embedder, batch_size: int) -> PassageEncoder:
    """Embed in this process, ``CACHE_SLICE`` passages at a time."""
    def encode(texts: list[str], progress: Progress | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for lo in range(0, len(texts), CACHE_SLICE):
            part = texts[lo : lo + CACHE_SLICE]
            yield (np.arange(lo, lo + len(part)),
                   embedder.embed_passages(part, batch_size=batch_size, progress=progress))
    return encode


def passage_text(article: Article, chunk: Chunk) -> str:
    """What gets embedded: the title gives a chunk the context its sentences leave implicit."""
    return f"{article.title}\n{chunk.text}"


def embedding_inputs(articles: dict[str, Article], chunks: list[Chunk]
                     ) -> tuple[list[str], list[tuple[str, int, int]], list[str]]:
    """What a build embeds: one passage per chunk, and each distinct sentence (for quote choice)."""
    texts = [passage_text(articles[c.article_id], c) for c in chunks]
    sentences = sentence_table(chunks)
    return texts, sentences, [articles[a].text[s:e] for a, s, e in sentences]


def texts_to_embed(corpus: list[Path], params: ChunkParams) -> list[str]:
    """The distinct texts a full build of ``corpus`` embeds, in order (benchmarks time these)."""
    articles = load_corpus(corpus).articles
    chunks = [c for a in articles for c in chunk_article(a, params)]
    texts, _, sentence_texts = embedding_inputs({a.id: a for a in articles}, chunks)
    return list(dict.fromkeys(texts + sentence_texts))


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


def _choose_kind(n: int, threshold: int, compact_threshold: int | None = None) -> str:
    if compact_threshold is not None and n >= compact_threshold:
        return "ivf-sq8"
    return "hnsw" if n >= threshold else "flat"


def _probe_rows(n: int, size: int = 200) -> np.ndarray:
    return np.random.default_rng(0).choice(n, size=min(size, n), replace=False)


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
        previous: dict[str, Any] = {}
        current_manifest: dict[str, Any] = {}
        current: str | None = None
        try:
            current = current_version(index_dir)
            if current:
                # Only the manifest: loading the whole current index would cost its memory twice.
                current_manifest = read_manifest(index_dir / VERSIONS / current)
                previous = current_manifest.get("articles", {})
        except IndexCorrupt as exc:
            # A damaged CURRENT or current version: build everything from the corpus; publishing
            # replaces it.
            log(f"the served index cannot be read ({exc.message}); this build replaces it")
        except IndexUnavailable:
            pass
        articles = report.articles
        chunks: list[Chunk] = []
        per_article: dict[str, dict[str, Any]] = {}
        by_id = {a.id: a for a in articles}
        for article in articles:
            found = chunk_article(article, params)
            per_article[article.id] = {"sha256": article.sha256, "title": article.title,
                                       "source": article.source, "url": article.url,
                                       "chunks": len(found)}
            chunks.extend(found)
        if not chunks:
            raise BuildError("nothing could be indexed: the articles contain no text after cleaning")
        if if_changed and not full and current and _serves_the_same(index_dir / VERSIONS / current, current_manifest,
                                                       per_article, params, embedder, skipped):
            return BuildSummary(version=current, articles=len(articles), chunks=len(chunks),
                                unchanged=sorted(per_article), skipped=skipped,
                                index_kind=current_manifest["index"]["kind"], published=False,
                                seconds=time.perf_counter() - started)

        texts, sentences, sentence_texts = embedding_inputs(by_id, chunks)
        all_texts = texts + sentence_texts
        hashes = [text_hash(t) for t in all_texts]
        cache = EmbeddingCache((cache_dir or index_dir / "cache") / f"embeddings-{embedder.fingerprint}.sqlite",
                               embedder.dim, log=log)
        try:
            cached = {} if full else cache.get_many(sorted(set(hashes)))
            first_use: dict[str, int] = {}
            for i, h in enumerate(hashes):
                if h not in cached:
                    first_use.setdefault(h, i)
            missing = list(first_use.items())
            embed_started = time.perf_counter()
            if missing:
                tick = progress(len(missing)) if progress else None
                encode = encoder or local_encoder(embedder, batch_size)
                _embed_missing(encode, missing, all_texts, embedder.dim, cache, cached, tick)
            embed_seconds = time.perf_counter() - embed_started
        finally:
            cache.close()
        all_vectors = np.stack([cached[h] for h in hashes]).astype(np.float32)
        vectors = all_vectors[: len(texts)]
        sentence_vectors = all_vectors[len(texts) :]

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
        stored_sentences = Int8Vectors.encode(sentence_vectors) if compact else sentence_vectors

        version = new_version_name()
        manifest = {
            "format_version": FORMAT_VERSION,
            "version": version,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": {"id": embedder.model_id, "fingerprint": embedder.fingerprint,
                      "runtime": embedder.runtime, "dim": embedder.dim},
            "chunker": params.to_dict(),
            "index": {"kind": kind, "recall_at_10": recall, "metric": "inner_product",
                      **({"nprobe": index.nprobe} if index.nprobe else {}),
                      "sentence_vectors": "int8" if compact else "float32"},
            "counts": {"articles": len(articles), "chunks": len(chunks), "sentences": len(sentences)},
            "articles": per_article,
            "skipped": skipped,
        }
        tmp = index_dir / VERSIONS / f"tmp-{version}"
        (index_dir / VERSIONS).mkdir(parents=True, exist_ok=True)
        try:
            write_version(tmp, manifest=manifest, vectors=index, chunks=chunks, articles=articles,
                          sentences=sentences, sentence_vectors=stored_sentences)
            _validate(tmp, embedder, vectors, texts)
            final = index_dir / VERSIONS / version
            os.replace(tmp, final)
            if _before_publish:
                _before_publish(final)
            publish(index_dir, version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        prune_versions(index_dir, keep_versions)

        prev_ids, new_ids = set(previous), set(per_article)
        summary = BuildSummary(
            version=version, articles=len(articles), chunks=len(chunks),
            added=sorted(new_ids - prev_ids), removed=sorted(prev_ids - new_ids),
            changed=sorted(a for a in new_ids & prev_ids
                           if previous[a].get("sha256") != per_article[a]["sha256"]),
            unchanged=sorted(a for a in new_ids & prev_ids
                             if previous[a].get("sha256") == per_article[a]["sha256"]),
            embedded_chunks=len(missing), reused_chunks=len(hashes) - len(missing),
            skipped=skipped, index_kind=kind, recall_at_10=recall,
            seconds=time.perf_counter() - started, embed_seconds=embed_seconds,
        )
        return summary


def _embed_missing(encode: PassageEncoder, missing: list[tuple[str, int]], all_texts: list[str], dim: int,
                   cache: EmbeddingCache, cached: dict[str, np.ndarray], tick: Progress | None) -> None:
    """Embed the ``missing`` (hash, position) passages; parts go to the cache as they finish, so a
    build killed or failed late keeps its work."""
    parts = encode([all_texts[i] for _, i in missing], tick)
    try:
        for rows, fresh in parts:
            if fresh.shape != (len(rows), dim):
                raise BuildError(f"the encoder returned vectors of shape {fresh.shape} for {len(rows)} "
                                 f"passages of dimension {dim}")
            done = [(missing[int(r)][0], fresh[j]) for j, r in enumerate(rows)]
            cache.put_many(done)
            cached.update(done)
    finally:
        close = getattr(parts, "close", None)
        if close is not None:
            close()  # a generator's cleanup (a Ray session it opened) runs now, not at collection
    lost = sum(h not in cached for h, _ in missing)
    if lost:
        raise BuildError(f"the encoder returned no vectors for {lost} of {len(missing)} passages")


def _serves_the_same(path: Path, manifest: dict[str, Any], per_article: dict[str, dict[str, Any]],
                     params: ChunkParams, embedder: Embedder, skipped: list[str]) -> bool:
    """The current version was built from these very articles, chunk settings and model, and loads."""
    model = manifest.get("model", {})
    if (manifest.get("articles") != per_article or manifest.get("chunker") != params.to_dict()
            or manifest.get("skipped") != skipped
            or (model.get("fingerprint"), model.get("runtime"), model.get("dim"))
            != (embedder.fingerprint, embedder.runtime, embedder.dim)):
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
