"""Helpers for the HTTP API's tests: settings, an in-process client, the error shape, gated embedders."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI

from kiji.api.deps import AppState
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.settings import Settings

JA_QUESTION = "Stargateの最初の投資額っていくら?"
ADMIN = {"Authorization": "Bearer admin-secret"}


def make_settings(index_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"index_dir": index_dir, "rate_limit_per_minute": 0, "watch_index": False,
                              "embedding_runtime": "torch"}
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give a client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def state_of(app: FastAPI) -> AppState:
    return app.state.kiji


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in response.text
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def truncate_vectors(version_dir: Path) -> None:
    vectors = version_dir / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:64])


class GatedEmbedder(FakeEmbedder):
    """Holds the first query embedding after ``hold`` is set until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self.hold.is_set():
            self.hold.clear()
            self.entered.set()
            self.release.wait(10)
        return super().embed_queries(texts)


class RendezvousEmbedder(FakeEmbedder):
    """Each query embedding waits until ``parties`` of them are running at the same time: it only
    completes if the server really runs that many queries concurrently (else it times out)."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=10)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.barrier.wait()
        return super().embed_queries(texts)


