"""The typed application state and the ``Annotated`` dependency aliases handlers use.

``AppState`` is created once by the lifespan and hung on ``app.state.kiji``. It holds the *current*
engine; a reload replaces that reference in one assignment. A handler takes ``EngineDep`` once, so
a request that started on one index version finishes on it even if a reload lands meanwhile.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import anyio
from fastapi import Depends, Request

from kiji.api.metrics import Metrics
from kiji.errors import IndexUnavailable, KijiError
from kiji.settings import Settings
from kiji.retrieval.embedding.embedder import Embedder
from kiji.retrieval.engine import Engine

if TYPE_CHECKING:
    from kiji.api.security import TokenBucketLimiter


def cpu_slots(embed_threads: int) -> int:
    """How many queries may compute at once: one per core the process may use, per embed thread.

    More would only make threads contend for the same cores (and the GIL) and raise every
    request's latency; fewer would leave cores idle while requests queue.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, embed_threads))


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    #: The engine answering now; ``None`` until a model and an index are both loaded.
    engine: Engine | None = None
    #: The loaded model, kept even when no index loaded, so a later index can be picked up.
    embedder: Embedder | None = None
    #: Why ``engine`` is ``None`` (shown by /readyz and every 503).
    unavailable: KijiError | None = None
    #: Run engine work on worker threads, at most this many at a time.
    cpu_limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(1))
    #: Per-client request budget for /v1; ``None`` when rate limiting is off.
    rate_limiter: TokenBucketLimiter | None = None
    #: Whether new engines answer a throwaway question before serving (warms lazy tables).
    warm_up: bool = True
    # --- reload bookkeeping (api.reload) ---
    reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: A version that failed to load; the watcher skips it until CURRENT names another one.
    rejected_version: str | None = None

    def swap(self, engine: Engine) -> None:
        """Serve ``engine`` from now on; requests holding the previous one finish on it."""
        self.engine = engine
        self.unavailable = None
        self.metrics.set_engine(engine)


async def get_state(request: Request) -> AppState:
    state = getattr(request.app.state, "kiji", None)
    if state is None:  # only possible before the lifespan ran (or after it ended)
        raise IndexUnavailable("the service is starting", hint="retry in a few seconds")
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_engine(state: StateDep) -> Engine:
    """The engine to use for this whole request (read once: see the module docstring)."""
    engine = state.engine
    if engine is None:
        reason = state.unavailable or IndexUnavailable("no index is loaded")
        # The same instance is raised by every request: drop the last traceback so it cannot grow.
        raise reason.with_traceback(None)
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]
