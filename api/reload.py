"""Loading the engine at start-up and replacing it when ``CURRENT`` names a new index version.

Everything slow (reading FAISS files, tokenising chunks for BM25, the first query) runs on a worker
thread; the event loop keeps answering on the old engine meanwhile. A new version becomes visible
through a single assignment (``AppState.swap``). A version that fails to load is logged, counted,
reported to whoever forced the check, and remembered so the watcher does not retry it every tick.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

import anyio

from kiji.api.deps import AppState
from kiji.errors import IndexCorrupt, IndexMissing, IndexUnavailable, KijiError, ModelError
from kiji.settings import Settings
from kiji.retrieval.embedding.embedder import Embedder, load_embedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import LoadedIndex, current_version, load_current
from kiji.retrieval.index.vector_index import set_faiss_threads

logger = logging.getLogger("kiji.api.reload")

Outcome = Literal["reloaded", "unchanged", "rejected", "unavailable"]


@dataclass(frozen=True)
class ReloadResult:
    outcome: Outcome
    #: The version served after the check (``None`` when nothing is served).
    version: str | None
    previous: str | None = None
    #: The version CURRENT named when it was not (or could not be) served.
    candidate: str | None = None
    error: KijiError | None = None


# --- building engines (worker threads) -----------------------------------------------------------

def warm(engine: Engine) -> None:
    """Build lazy tables (the English bridge, runtime caches) before the engine serves, so the
    first user after a start or a reload does not wait for them."""
    try:
        engine.warm_up()
    except KijiError:
        pass
    except Exception:  # a warm-up bug must not take a good index out of service
        logger.exception("warm-up of index version %s failed", engine.version)


def make_engine(settings: Settings, index: LoadedIndex, embedder: Embedder,
                previous: Engine | None) -> Engine:
    """An engine on ``index``; raises ``IndexIncompatible`` when the model does not match it."""
    if previous is not None:
        return previous.with_index(index)
    return Engine.from_settings(settings, index, embedder)


def load_initial(settings: Settings, embedder: Embedder | None,
                 warm_up: bool) -> tuple[Engine | None, Embedder | None, KijiError | None]:
    """Index first (cheap, names the usual problem), then the model even without an index, so an
    index built later can be picked up by the watcher without a restart."""
    set_faiss_threads(settings.faiss_threads)
    index: LoadedIndex | None = None
    problem: KijiError | None = None
    try:
        index = load_current(settings.index_dir, mmap=settings.index_mmap)
    except IndexUnavailable as exc:
        problem = exc
    if embedder is None:
        try:
            embedder = load_embedder(settings)
        except ModelError as exc:
            return None, None, exc
        except Exception as exc:  # onnxruntime / torch failures: the service still starts, unready
            logger.exception("loading the embedding model failed")
            return None, None, ModelError(f"cannot load the embedding model: {type(exc).__name__}")
    if index is None:
        return None, embedder, problem
    try:
        engine = make_engine(settings, index, embedder, None)
    except IndexUnavailable as exc:
        return None, embedder, exc
    if warm_up:
        warm(engine)
    return engine, embedder, None


def _load_new(state: AppState, previous: Engine | None) -> Engine:
    assert state.embedder is not None
    index = load_current(state.settings.index_dir, mmap=state.settings.index_mmap)
    engine = make_engine(state.settings, index, state.embedder, previous)
    if state.warm_up:
        warm(engine)
    return engine


# --- checking for a new version (event loop) -------------------------------------------------------

async def check_for_update(state: AppState, *, force: bool = False) -> ReloadResult:
    """Serve the version ``CURRENT`` names if it is new and loads; ``force`` retries a rejected one."""
    async with state.reload_lock:  # one load at a time; a second caller sees the first's result
        serving = state.engine
        serving_version = serving.version if serving else None
        candidate = await anyio.to_thread.run_sync(current_version, state.settings.index_dir)
        if candidate is None or candidate == serving_version:
            if serving is None:
                reason = state.unavailable or IndexMissing("no index is loaded")
                return ReloadResult("unavailable", None, candidate=candidate, error=reason)
            return ReloadResult("unchanged", serving_version)
        if candidate == state.rejected_version and not force:
            return ReloadResult("rejected", serving_version, candidate=candidate)
        if state.embedder is None:  # the model never loaded: no index can help
            return ReloadResult("unavailable", None, candidate=candidate, error=state.unavailable)
        try:
            engine = await anyio.to_thread.run_sync(_load_new, state, serving)
        except Exception as exc:
            if not isinstance(exc, IndexUnavailable):  # a reader bug on odd files: still a bad version
                logger.exception("loading index version %s failed unexpectedly", candidate)
                exc = IndexCorrupt(f"index version {candidate} could not be loaded ({type(exc).__name__})")
            state.rejected_version = candidate
            state.metrics.reloads.labels(outcome="rejected").inc()
            logger.error("index version %s rejected, still serving %s: %s", candidate,
                         serving_version or "nothing", exc)
            if serving is None:
                state.unavailable = exc
            return ReloadResult("rejected", serving_version, candidate=candidate, error=exc)
        state.swap(engine)
        state.rejected_version = None
        state.metrics.reloads.labels(outcome="reloaded").inc()
        logger.info("now serving index version %s (was %s)", engine.version, serving_version or "nothing")
        return ReloadResult("reloaded", engine.version, previous=serving_version)


async def watch(state: AppState) -> None:
    """Poll ``CURRENT`` every ``watch_interval_s`` until cancelled; never dies on an error."""
    while True:
        await asyncio.sleep(state.settings.watch_interval_s)
        try:
            await check_for_update(state)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("index watch check failed")
