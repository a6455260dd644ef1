"""The composition root: settings in, plain configuration values and ready components out.

The core (``kiji.corpus``, ``kiji.retrieval``) never reads ``Settings``: it takes the values it
needs (``EmbedderConfig``, ``EngineConfig``, ``ChunkParams``, keyword arguments). This module is
the one place that turns the settings into those values, so the edges (CLI, API, bot) build their
engines the same way. The index watcher they share lives beside it, in ``kiji.watcher``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from kiji.corpus.chunker import ChunkParams
from kiji.retrieval.answer.model import AnswerModel
from kiji.retrieval.embedding.embedder import Embedder, EmbedderConfig
from kiji.retrieval.embedding.embedder import load_embedder as _load_embedder
from kiji.retrieval.embedding.models import registry
from kiji.retrieval.engine import Engine, EngineConfig
from kiji.retrieval.generation.answerer import Generator
from kiji.retrieval.generation.config import LLMConfig
from kiji.retrieval.index.store import LoadedIndex, load_current
from kiji.retrieval.index.vector_index import set_faiss_threads
from kiji.settings import Settings

if TYPE_CHECKING:
    from kiji.corpus.transaction import CorpusTransaction
    from kiji.corpus.web.fetch import FetchConfig
    from kiji.retrieval.embedding.ray_pool import RayEmbeddingPool


def embedder_config(settings: Settings, *, threads: int | None = None) -> EmbedderConfig:
    spec = settings.model_spec
    return EmbedderConfig(model=settings.model_name, runtime=settings.embedding_runtime,
                          threads=threads or settings.embed_threads,
                          prepared_default=settings.uses_default_model,
                          max_length=spec.max_seq_length if spec else 512,
                          titled_passage_prompt=spec.titled_passage_prompt if spec else None)


def answer_model(settings: Settings) -> AnswerModel:
    """``KIJI_ANSWER_MODEL``, else the one fitted for the embedding model in use (a user's own
    sentence-transformers model gets the default model's: refit it with ``kiji fit``)."""
    if settings.answer_model:
        return AnswerModel.load(settings.answer_model)
    return AnswerModel.shipped(settings.model_spec or registry.MODELS[registry.DEFAULT])


def engine_config(settings: Settings, *, unfitted: bool = False) -> EngineConfig:
    """``unfitted``: zero answer weights instead of the model file (for gathering fitting samples)."""
    model = AnswerModel.unfitted() if unfitted else answer_model(settings)
    return EngineConfig(max_question_chars=settings.max_question_chars, default_top_k=settings.top_k,
                        min_similarity=settings.min_similarity, answer_model=model)


def chunk_params(settings: Settings) -> ChunkParams:
    return ChunkParams(settings.chunk_min_chars, settings.chunk_max_chars,
                       settings.chunk_overlap_sentences, settings.include_footer_posts,
                       settings.max_quote_chars)


def build_threads(settings: Settings) -> int:
    """A build is a batch job: all cores help it, unlike a single query under competing load."""
    return settings.build_threads or os.cpu_count() or 1


def load_embedder(settings: Settings, *, threads: int | None = None) -> Embedder:
    return _load_embedder(embedder_config(settings, threads=threads))


def load_index(settings: Settings, index_dir: Path | None = None) -> LoadedIndex:
    """The version ``CURRENT`` names (FAISS set to the query thread count first)."""
    set_faiss_threads(settings.faiss_threads)
    return load_current(index_dir or settings.index_dir, mmap=settings.index_mmap)


def make_engine(settings: Settings, index: LoadedIndex, embedder: Embedder, *, unfitted: bool = False) -> Engine:
    """An engine on ``index``; raises ``IndexIncompatible`` when the model does not match it."""
    return Engine.configured(engine_config(settings, unfitted=unfitted), index, embedder)


def load_engine(settings: Settings, *, embedder: Embedder | None = None,
                index_dir: Path | None = None, unfitted: bool = False) -> Engine:
    """Load the current index version first (cheap, fails fast), then the model."""
    index = load_index(settings, index_dir)
    return make_engine(settings, index, embedder or load_embedder(settings), unfitted=unfitted)


def llm_config(settings: Settings) -> LLMConfig | None:
    """The language model settings as values; None when none is configured (extractive answers)."""
    if not settings.llm_base_url or not settings.llm_model:
        return None
    return LLMConfig(base_url=settings.llm_base_url, model=settings.llm_model,
                     api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
                     timeout_s=settings.llm_timeout_s, max_tokens=settings.llm_max_tokens)


def load_generator(settings: Settings) -> Generator | None:
    """The optional generation step (no connection is made until it is first used)."""
    config = llm_config(settings)
    return Generator(config) if config is not None else None


def ray_pool(settings: Settings, embedder: Embedder, address: str | None = None, *,
             log: Callable[[str], None] = lambda _: None) -> RayEmbeddingPool:
    """The passage encoder of `kiji index build --ray`: actors load the model this build's
    ``embedder`` was loaded from (same settings, ``KIJI_RAY_THREADS_PER_ACTOR`` threads each)."""
    from kiji.retrieval.embedding.ray_pool import RayConfig, RayEmbeddingPool

    config = RayConfig(address=address or settings.ray_address, actors=settings.ray_actors,
                       batch_size=settings.ray_batch_size, threads_per_actor=settings.ray_threads_per_actor,
                       max_retries=settings.ray_max_retries, local_cpus=settings.ray_local_cpus)
    factory = partial(_load_embedder, embedder_config(settings, threads=settings.ray_threads_per_actor))
    return RayEmbeddingPool(config, factory, fingerprint=embedder.fingerprint, dim=embedder.dim,
                            encode_batch=settings.embed_batch_size, log=log)


def user_agent() -> str:
    """``kiji/<version> (article indexer)``: sites can tell who fetched, and which release."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("kiji")
    except PackageNotFoundError:  # run from a checkout that was never installed
        release = "0"
    return f"kiji/{release} (article indexer)"


def fetch_config(settings: Settings) -> FetchConfig:
    """What every fetch of a page or feed runs under (the CLI, the API's jobs, the bot alike)."""
    from kiji.corpus.web.fetch import FetchConfig
    from kiji.corpus.web.guard import parse_networks

    return FetchConfig(user_agent=user_agent(), max_bytes=settings.max_article_bytes,
                       connect_timeout=settings.fetch_connect_timeout,
                       read_timeout=settings.fetch_read_timeout, delay=settings.fetch_delay,
                       allowed_networks=parse_networks(settings.fetch_allowed_networks))


def publish_change(settings: Settings, embedder: Embedder,
                   change: Callable[[CorpusTransaction], None]) -> str:
    """Apply ``change`` to the corpus folder and publish a new index version, or neither (the
    change is a transaction undone unless the build publishes); the new version's name. The API's
    article jobs use it; ``kiji index add`` runs the same steps with its progress bars."""
    from kiji.corpus.transaction import CorpusTransaction
    from kiji.retrieval.index.build import build_index
    from kiji.retrieval.index.versions import build_lock

    with build_lock(settings.index_dir), CorpusTransaction(settings.corpus_dir) as tx:
        change(tx)
        summary = build_index(
            corpus_paths=[settings.corpus_dir], index_dir=settings.index_dir, embedder=embedder,
            params=chunk_params(settings), batch_size=settings.embed_batch_size,
            keep_versions=settings.keep_versions, ann_threshold=settings.ann_threshold,
            compact_threshold=settings.compact_threshold, cache_dir=settings.cache_dir,
            max_article_bytes=settings.max_article_bytes, locked=True)
    return summary.version
