"""The typed application state and the ``Annotated`` dependency aliases handlers use.

``AppState`` is created once by the lifespan and hung on ``app.state.kiji``. Its ``watcher`` (the
index watcher shared with the bot, ``kiji.watcher``) holds the *current* engine; a reload replaces
that reference in one assignment. A handler takes ``EngineDep`` once, so a request that started on
one index version finishes on it even if a reload lands meanwhile.

The helpers every router shares live here too (``compute``, ``only_params``): routers are siblings
in one layer and may not import each other (pyproject.toml's API contract).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request

from kiji.api.auth_failures import FailureLimiter
from kiji.api.metrics import Metrics
from kiji.api.rate_limit import TokenBucketLimiter
from kiji.errors import IndexUnavailable, InvalidInput, KijiError
from kiji.feedback import FeedbackStore
from kiji.retrieval.engine import Engine
from kiji.retrieval.generation.answerer import Generator
from kiji.settings import Settings
from kiji.watcher import IndexWatcher

T = TypeVar("T")


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
    #: The serving engine and the reload check (shared with the bot).
    watcher: IndexWatcher
    #: Run engine work on worker threads, at most this many at a time.
    cpu_limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(1))
    #: Per-client request budget for /v1; ``None`` when rate limiting is off.
    rate_limiter: TokenBucketLimiter | None = None
    # --- 👍/👎 from the web page: the bot's store, opened on the first vote (blocking: call it
    # from a worker thread) ---
    _feedback: FeedbackStore | None = None
    _feedback_lock: threading.Lock = field(default_factory=threading.Lock)

    def feedback_store(self) -> FeedbackStore:
        with self._feedback_lock:
            if self._feedback is None:
                salt = self.settings.feedback_salt
                self._feedback = FeedbackStore(self.settings.feedback_db,
                                               salt=salt.get_secret_value() if salt else None)
            return self._feedback
    #: The optional language model that writes answers from the quotes (None: extractive only).
    generator: Generator | None = None
    #: Failed authentications per client IP (API keys, admin token); ``None`` when off.
    auth_failures: FailureLimiter | None = None

    @property
    def engine(self) -> Engine | None:
        """The engine answering now; ``None`` until a model and an index are both loaded."""
        return self.watcher.engine

    @property
    def unavailable(self) -> KijiError | None:
        """Why ``engine`` is ``None`` (shown by /readyz and every 503)."""
        return self.watcher.unavailable


async def get_state(request: Request) -> AppState:
    state = getattr(request.app.state, "kiji", None)
    if state is None:  # only possible before the lifespan ran (or after it ended)
        raise IndexUnavailable("the service is starting", hint="retry in a few seconds")
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_engine(state: StateDep) -> Engine:
    """The engine to use for this whole request (read once: see the module docstring)."""
    engine = state.engine
    if engine is None:
        reason = state.unavailable or IndexUnavailable("no index is loaded")
        # The same instance is raised by every request: drop the last traceback so it cannot grow.
        raise reason.with_traceback(None)
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


async def compute(state: AppState, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run engine work on a worker thread, at most ``cpu_limiter`` at a time."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs),
                                          limiter=state.cpu_limiter)


def only_params(request: Request, allowed: set[str]) -> None:
    """Unknown query parameters are typos (?K=3, ?query=), refused like unknown body fields."""
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInput(f"unknown query parameter(s): {', '.join(unknown)[:200]}")
