"""The FastAPI application: ``create_app`` wires state, routes, middleware and error handling.

One ``lifespan`` loads the settings' model and index once (on a worker thread), puts an
``AppState`` on ``app.state.kiji``, starts the index watcher, and stops it on shutdown. Missing or
broken indexes do not stop the app from starting: /healthz answers, /readyz and /v1 answer 503 with
the reason, and the watcher (or ``POST /v1/admin/reload``) picks up an index built later.

Middleware, outermost first: CORS (so even errors carry CORS headers) → metrics (sees the final
status, 500s included) → the catch-all for bugs → the body size limit → FastAPI's own
exception handling → routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from kiji.api.auth_failures import FailureLimiter
from kiji.api.deps import AppState, cpu_slots
from kiji.api.edges import EDGES, Edge, include_edges
from kiji.api.errors import NoWebSocketMiddleware, UnexpectedErrorMiddleware, install_error_handlers
from kiji.api.metrics import Metrics, MetricsMiddleware
from kiji.api.rate_limit import TokenBucketLimiter
from kiji.api.security import BodyLimitMiddleware
from kiji.retrieval.embedding.embedder import Embedder
from kiji.retrieval.engine import Engine
from kiji.runtime import load_generator
from kiji.settings import Settings
from kiji.watcher import IndexWatcher, warm

logger = logging.getLogger("kiji.api")

DESCRIPTION = """Answers Japanese or English questions about the indexed articles with verbatim quotes.

Every error is `{"error": {"code": "...", "message": "..."}}`. When the server has API keys set,
`/v1/*` needs `Authorization: Bearer <key>`; the admin routes need the admin token instead and
exist only when one is configured.
"""


async def start_state(settings: Settings, metrics: Metrics, *, engine: Engine | None,
                      embedder: Embedder | None, warm_up: bool) -> AppState:
    watcher = IndexWatcher(settings, embedder=embedder, warm_up=warm_up, on_swap=metrics.set_engine,
                           on_outcome=lambda outcome: metrics.reloads.labels(outcome=outcome).inc())
    state = AppState(settings=settings, metrics=metrics, watcher=watcher,
                     cpu_limiter=anyio.CapacityLimiter(cpu_slots(settings.embed_threads)),
                     rate_limiter=(TokenBucketLimiter(settings.rate_limit_per_minute)
                                   if settings.rate_limit_per_minute > 0 else None),
                     auth_failures=(FailureLimiter(settings.auth_failures_per_minute)
                                    if settings.auth_failures_per_minute > 0 else None))
    if engine is not None:  # injected (tests, embedding the API elsewhere)
        watcher.embedder = engine.embedder
        if warm_up:
            await anyio.to_thread.run_sync(warm, engine)
        watcher.swap(engine)
        return state
    loaded = await anyio.to_thread.run_sync(watcher.load_initial)
    if loaded is not None:
        watcher.swap(loaded)
        logger.info("serving index version %s (%d chunks)", loaded.version, len(loaded.index.chunks))
    else:
        metrics.set_engine(None)
        logger.warning("starting without a usable index: %s", watcher.unavailable)
    return state


def max_body_size(settings: Settings) -> int:
    """Bodies are small JSON objects: refuse huge ones (413) before buffering them. A question of
    ``max_question_chars`` fits even when every character is a 12-byte escaped surrogate pair."""
    return max(64 * 1024, settings.max_question_chars * 12 + 4096)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               embedder: Embedder | None = None, warm_up: bool | None = None,
               edges: tuple[Edge, ...] = EDGES) -> FastAPI:
    """The API app. ``engine`` (or just ``embedder``) skips loading the model, for tests;
    ``warm_up`` defaults to on only when the app loads the model itself; ``edges``: the routers
    to serve (``kiji.api.edges.EDGES``)."""
    settings = settings or Settings()
    metrics = Metrics()
    do_warm = warm_up if warm_up is not None else (engine is None and embedder is None)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await start_state(settings, metrics, engine=engine, embedder=embedder,
                                  warm_up=do_warm)
        state.generator = load_generator(settings)
        app.state.kiji = state
        watching = asyncio.create_task(state.watcher.run(), name="kiji-index-watch") \
            if settings.watch_index else None
        try:
            yield
        finally:
            if watching is not None:
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watching
            if state.generator is not None:
                await state.generator.aclose()
            app.state.kiji = None

    # /docs is kiji's own (api/routers/docs.py): Swagger UI from this server, under the pages' CSP.
    app = FastAPI(title="kiji", version="1", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.kiji = None
    install_error_handlers(app)
    include_edges(app, settings, edges)  # every router, from the one list in api/edges.py
    # add_middleware wraps: the last added is the outermost.
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_size(settings))
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(NoWebSocketMiddleware)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"],
                           max_age=600)
    return app
