"""Prometheus metrics: request counts and latency per route template, and the served index.

Each app gets its own ``CollectorRegistry`` so several apps (tests, a reload) never collide on the
process-global one. Routes are labelled by their template (``/v1/articles/{article_id}``), never by
the raw path, so label cardinality stays bounded whatever clients send. With ``workers > 1`` every
worker process exposes its own numbers (scrape each, or run one worker per container).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from kiji.retrieval.engine import Engine

UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
#: Latency buckets (seconds) around what an embedding + search costs on a CPU.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter("kiji_http_requests", "HTTP requests by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("kiji_http_request_duration_seconds",
                                 "HTTP request latency by route template", ["method", "route"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("kiji_http_requests_in_flight", "HTTP requests being handled",
                               registry=self.registry)
        self.ready = Gauge("kiji_ready", "1 when a model and an index are loaded", registry=self.registry)
        self.index_info = Gauge("kiji_index_info", "The index version being served (value is 1)",
                                ["version"], registry=self.registry)
        self.index_chunks = Gauge("kiji_index_chunks", "Chunks (vectors) in the served index",
                                  registry=self.registry)
        self.index_articles = Gauge("kiji_index_articles", "Articles in the served index",
                                    registry=self.registry)
        self.reloads = Counter("kiji_index_reloads", "Index reload checks by outcome", ["outcome"],
                               registry=self.registry)

    def set_engine(self, engine: Engine | None) -> None:
        self.index_info.clear()
        if engine is None:
            self.ready.set(0)
            self.index_chunks.set(0)
            self.index_articles.set(0)
            return
        self.ready.set(1)
        self.index_info.labels(version=engine.version).set(1)
        self.index_chunks.set(len(engine.index.chunks))
        self.index_articles.set(len(engine.index.articles))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "OTHER"
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.latency.labels(method=method, route=route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Times every HTTP request and labels it with the route template the router matched."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees if the app dies before answering

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.in_flight.dec()
            # The router stores the matched route in the (shared, mutable) scope.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.observe(scope.get("method", "GET"), route, status,
                                 time.perf_counter() - started)
