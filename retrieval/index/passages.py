"""What a build embeds, and how: one passage per chunk and each distinct sentence, through the cache.

A sentence goes in with its article's title where the model takes one (EmbeddingGemma's ``title: …
| text: …`` prompt): alone, a sentence ("It was commissioned by the city") loses what it is about.
Sentence-dense hit@3 with the title vs ``title: none``: dev ja .750 -> .885, en .739 -> .848,
JSQuAD .860 -> .925, SQuAD .875 -> .920 (docs/models.md). A chunk already starts with its title.

A passage's vector is looked up in the embedding cache by the hash of its text (and title, where the
model reads it); only the ones missing are
embedded, by the build's ``PassageEncoder`` (this process by default, a Ray pool with ``--ray``), and
each part is written to the cache as it finishes, so a build killed late keeps its work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiji.corpus.articles import Article, load_corpus, text_hash
from kiji.corpus.chunker import Chunk, ChunkParams, chunk_article
from kiji.errors import BuildError
from kiji.retrieval.embedding.embedder import Embedder, Progress
from kiji.retrieval.index.embedding_cache import EmbeddingCache
from kiji.retrieval.index.store import sentence_table

ProgressFactory = Callable[[int], Callable[[int], None]]
#: Embeds the passages a build lacks somewhere: ``encoder(texts, titles, progress)`` yields ``(rows,
#: vectors)`` as parts finish, ``rows`` being positions in ``texts`` (in any order); ``titles`` has
#: one per text, ``""`` for none. The default runs the build's embedder here; ``kiji index build
#: --ray`` passes a Ray pool (embedding/ray_pool.py).
PassageEncoder = Callable[[list[str], list[str], Progress | None], Iterator[tuple[np.ndarray, np.ndarray]]]
#: Passages embedded between cache writes.
CACHE_SLICE = 512


def local_encoder(embedder: Embedder, batch_size: int) -> PassageEncoder:
    """Embed in this process, ``CACHE_SLICE`` passages at a time."""
    def encode(texts: list[str], titles: list[str], progress: Progress | None
               ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for lo in range(0, len(texts), CACHE_SLICE):
            part = texts[lo : lo + CACHE_SLICE]
            yield (np.arange(lo, lo + len(part)),
                   embedder.embed_passages(part, titles=titles[lo : lo + CACHE_SLICE],
                                           batch_size=batch_size, progress=progress))
    return encode


def passage_text(article: Article, chunk: Chunk) -> str:
    """What gets embedded: the title gives a chunk the context its sentences leave implicit."""
    return f"{article.title}\n{chunk.text}"


@dataclass(frozen=True)
class Inputs:
    """What a build embeds: one passage per chunk, then each distinct sentence (for quote choice)."""

    chunk_texts: list[str]
    sentences: list[tuple[str, int, int]]  # (article id, start, end)
    sentence_texts: list[str]
    sentence_titles: list[str]  # each sentence's article title

    @property
    def texts(self) -> list[str]:
        return self.chunk_texts + self.sentence_texts

    @property
    def titles(self) -> list[str]:
        """One per text of ``texts``: a chunk's title is inside its text already."""
        return [""] * len(self.chunk_texts) + self.sentence_titles


def embedding_inputs(articles: dict[str, Article], chunks: list[Chunk]) -> Inputs:
    sentences = sentence_table(chunks)
    return Inputs([passage_text(articles[c.article_id], c) for c in chunks], sentences,
                  [articles[a].text[s:e] for a, s, e in sentences], [articles[a].title for a, _, _ in sentences])


def texts_to_embed(corpus: list[Path], params: ChunkParams) -> tuple[list[str], list[str]]:
    """The distinct (text, title) passages a full build of ``corpus`` embeds, in order, as texts and
    titles (benchmarks time these)."""
    articles = load_corpus(corpus).articles
    chunks = [c for a in articles for c in chunk_article(a, params)]
    inputs = embedding_inputs({a.id: a for a in articles}, chunks)
    pairs = list(dict.fromkeys(zip(inputs.texts, inputs.titles, strict=True)))
    return [t for t, _ in pairs], [ti for _, ti in pairs]


def passage_key(text: str, title: str, embedder: Embedder) -> str:
    """The cache key of a passage: its text's hash, with its title where the model reads titles."""
    return text_hash(f"title: {title}\n{text}" if title and embedder.uses_titles else text)


@dataclass(frozen=True)
class Embedded:
    """The vectors of a build's passages, in the order asked for, and what it cost."""

    vectors: np.ndarray  # float32, one row per text
    embedded: int  # distinct texts the encoder embedded
    reused: int  # texts whose vector came from the cache (or an identical text earlier)
    seconds: float  # spent embedding


def embed_with_cache(texts: list[str], titles: list[str], *, embedder: Embedder, cache_path: Path,
                     full: bool, encoder: PassageEncoder | None, batch_size: int,
                     progress: ProgressFactory | None, log: Callable[[str], None]) -> Embedded:
    """Every text's vector: from the cache where it holds one (unless ``full``), else embedded."""
    hashes = [passage_key(t, ti, embedder) for t, ti in zip(texts, titles, strict=True)]
    cache = EmbeddingCache(cache_path, embedder.dim, log=log)
    try:
        cached = {} if full else cache.get_many(sorted(set(hashes)))
        first_use: dict[str, int] = {}
        for i, h in enumerate(hashes):
            if h not in cached:
                first_use.setdefault(h, i)
        missing = list(first_use.items())
        started = time.perf_counter()
        if missing:
            tick = progress(len(missing)) if progress else None
            encode = encoder or local_encoder(embedder, batch_size)
            _embed_missing(encode, missing, texts, titles, embedder.dim, cache, cached, tick)
        seconds = time.perf_counter() - started
    finally:
        cache.close()
    vectors = np.stack([cached[h] for h in hashes]).astype(np.float32)
    return Embedded(vectors=vectors, embedded=len(missing), reused=len(hashes) - len(missing),
                    seconds=seconds)


def _embed_missing(encode: PassageEncoder, missing: list[tuple[str, int]], all_texts: list[str],
                   all_titles: list[str], dim: int, cache: EmbeddingCache, cached: dict[str, np.ndarray],
                   tick: Progress | None) -> None:
    """Embed the ``missing`` (hash, position) passages; parts go to the cache as they finish, so a
    build killed or failed late keeps its work."""
    parts = encode([all_texts[i] for _, i in missing], [all_titles[i] for _, i in missing], tick)
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
