"""The one index watcher the API and the Discord bot share: which engine serves now, and the check
that replaces it when ``CURRENT`` names a new index version.

Everything slow (reading FAISS files, tokenising chunks for BM25, the first query) runs on a worker
thread; the event loop keeps answering on the old engine meanwhile. A new version becomes visible
through a single assignment (``swap``), so a request that started on one version finishes on it. A
version that fails to load is logged, reported to whoever forced the check, and remembered so the
watcher does not retry it every tick (only every ``REJECTED_RETRY_S``); the old engine keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import anyio

from kiji.errors import IndexCorrupt, IndexMissing, IndexUnavailable, KijiError, ModelError
from kiji.retrieval.embedding.embedder import Embedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.store import LoadedIndex, current_version
from kiji.runtime import load_embedder, load_index, make_engine
from kiji.settings import Settings

logger = logging.getLogger("kiji.watcher")

Outcome = Literal["reloaded", "unchanged", "rejected", "unavailable"]
#: A refused version is tried again after this long: on shared storage (an NFS attribute cache, an
#: object-store sync) a version's files can become visible after CURRENT named it.
REJECTED_RETRY_S = 60.0


@dataclass(frozen=True)
class ReloadResult:
    outcome: Outcome
    #: The version served after the check (``None`` when nothing is served).
    version: str | None
    previous: str | None = None
    #: The version CURRENT named when it was not (or could not be) served.
    candidate: str | None = None
    error: KijiError | None = None


def warm(engine: Engine) -> None:
    """Build lazy tables (the English bridge, runtime caches) before the engine serves, so the
    first user after a start or a reload does not wait for them."""
    try:
        engine.warm_up()
    except KijiError:
        pass
    except Exception:  # a warm-up bug must not take a good index out of service
        logger.exception("warm-up of index version %s failed", engine.version)


class IndexWatcher:
    """Holds the serving engine (``None`` until a model and an index are both loaded) and why there
    is none (``unavailable``). ``on_swap`` hears of every engine put in service, ``on_outcome`` of
    every reload that loaded or rejected a version (the API counts them)."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None,
                 embedder: Embedder | None = None, warm_up: bool = True,
                 on_swap: Callable[[Engine], None] | None = None,
                 on_outcome: Callable[[Outcome], None] | None = None) -> None:
        self.settings = settings
        self.engine = engine
        #: The loaded model, kept even when no index loaded, so a later index can be picked up.
        self.embedder = embedder or (engine.embedder if engine is not None else None)
        self.unavailable: KijiError | None = None
        #: A version that failed to load; skipped until CURRENT names another one.
        self.rejected_version: str | None = None
        self._rejected_at = 0.0
        #: What is wrong with a damaged CURRENT, already logged once (``None`` while it reads fine).
        self.pointer_problem: str | None = None
        self.warm_up = warm_up
        self._on_swap = on_swap
        self._on_outcome = on_outcome
        self._lock = asyncio.Lock()

    def swap(self, engine: Engine) -> None:
        """Serve ``engine`` from now on; requests holding the previous one finish on it."""
        self.engine = engine
        self.unavailable = None
        if self._on_swap is not None:
            self._on_swap(engine)

    # --- loading (worker threads) ------------------------------------------------------------------

    def load_initial(self) -> Engine | None:
        """Index first (cheap, names the usual problem), then the model even without an index, so
        an index built later can be picked up without a restart. Sets ``unavailable`` on failure."""
        index: LoadedIndex | None = None
        problem: KijiError | None = None
        try:
            index = load_index(self.settings)
        except IndexUnavailable as exc:
            problem = exc
        if self.embedder is None:
            try:
                self.embedder = load_embedder(self.settings)
            except ModelError as exc:
                problem = exc
            except Exception as exc:  # onnxruntime / torch failures: start anyway, unready
                logger.exception("loading the embedding model failed")
                problem = ModelError(f"cannot load the embedding model: {type(exc).__name__}")
        if index is None or self.embedder is None:
            self.unavailable = problem
            return None
        try:
            engine = make_engine(self.settings, index, self.embedder)
        except IndexUnavailable as exc:
            self.unavailable = exc
            return None
        if self.warm_up:
            warm(engine)
        return engine

    def _load_new(self, previous: Engine | None) -> Engine:
        assert self.embedder is not None
        index = load_index(self.settings)
        engine = previous.with_index(index) if previous is not None \
            else make_engine(self.settings, index, self.embedder)
        if self.warm_up:
            warm(engine)
        return engine

    # --- checking for a new version (event loop) ---------------------------------------------------

    async def check(self, *, force: bool = False) -> ReloadResult:
        """Serve the version ``CURRENT`` names if it is new and loads; ``force`` retries a rejected one."""
        async with self._lock:  # one load at a time; a second caller sees the first's result
            serving = self.engine
            serving_version = serving.version if serving else None
            try:
                candidate = await anyio.to_thread.run_sync(current_version, self.settings.index_dir)
            except IndexCorrupt as exc:  # a damaged CURRENT: keep serving, say so once per new problem
                return self._damaged_pointer(serving_version, exc)
            if self.pointer_problem is not None:
                logger.info("%s is readable again", self.settings.index_dir / "CURRENT")
                self.pointer_problem = None
            if candidate is None or candidate == serving_version:
                if serving is None:
                    reason = self.unavailable or IndexMissing("no index is loaded")
                    return ReloadResult("unavailable", None, candidate=candidate, error=reason)
                return ReloadResult("unchanged", serving_version)
            if candidate == self.rejected_version and not force \
                    and time.monotonic() - self._rejected_at < REJECTED_RETRY_S:
                return ReloadResult("rejected", serving_version, candidate=candidate)
            if self.embedder is None:  # the model never loaded: no index can help
                return ReloadResult("unavailable", None, candidate=candidate, error=self.unavailable)
            try:
                engine = await anyio.to_thread.run_sync(self._load_new, serving)
            except Exception as exc:
                error = exc if isinstance(exc, IndexUnavailable) else None
                if error is None:  # a reader bug on odd files: still a bad version
                    logger.exception("loading index version %s failed unexpectedly", candidate)
                    error = IndexCorrupt(f"index version {candidate} could not be loaded "
                                         f"({type(exc).__name__})")
                self.rejected_version = candidate
                self._rejected_at = time.monotonic()
                self._count("rejected")
                logger.error("index version %s rejected, still serving %s: %s", candidate,
                             serving_version or "nothing", error)
                if serving is None:
                    self.unavailable = error
                return ReloadResult("rejected", serving_version, candidate=candidate, error=error)
            self.swap(engine)
            self.rejected_version = None
            self._count("reloaded")
            logger.info("now serving index version %s (was %s)", engine.version,
                        serving_version or "nothing")
            return ReloadResult("reloaded", engine.version, previous=serving_version)

    def _damaged_pointer(self, serving_version: str | None, exc: IndexCorrupt) -> ReloadResult:
        if self.pointer_problem != exc.message:
            self.pointer_problem = exc.message
            logger.error("%s; still serving %s", exc, serving_version or "nothing")
        if serving_version is None:
            self.unavailable = exc
            return ReloadResult("unavailable", None, error=exc)
        return ReloadResult("rejected", serving_version, error=exc)

    def _count(self, outcome: Outcome) -> None:
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    async def run(self) -> None:
        """Poll ``CURRENT`` every ``watch_interval_s`` until cancelled; never dies on an error, and
        logs a failure that repeats tick after tick once (with its traceback), not every tick."""
        last_failure: str | None = None
        while True:
            await asyncio.sleep(self.settings.watch_interval_s)
            try:
                await self.check()
                last_failure = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = f"{type(exc).__name__}: {exc}"
                if failure != last_failure:
                    logger.exception("index watch check failed (logged once until it changes)")
                last_failure = failure
