"""The HTTP API on the fake-embedder engine: endpoints, errors, protection, metrics, reloads.

Apps run their real lifespan (``app.router.lifespan_context``) and are called in-process through
httpx's ASGI transport, so these tests cover the wiring a server would run, without sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from kiji.api import server
from kiji.api.app import create_app
from kiji.api.deps import AppState, cpu_slots
from kiji.api.rate_limit import TokenBucketLimiter
from kiji.api.security import match_key
from kiji.corpus.chunker import ChunkParams
from kiji.errors import ModelError
from kiji.retrieval.embedding.fake import FakeEmbedder
from kiji.retrieval.engine import Engine
from kiji.retrieval.index.build import build_index
from kiji.retrieval.index.store import load_current
from kiji.retrieval.models import AskResult
from kiji.settings import Settings
from tests.helpers import build_fake_index, small_corpus

JA_QUESTION = "Stargateの最初の投資額っていくら?"
ADMIN = {"Authorization": "Bearer admin-secret"}


# --- helpers -------------------------------------------------------------------------------------

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
    return app.state.kiji  # type: ignore[no-any-return]


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in response.text
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


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


@pytest.fixture()
async def client(fake_engine: Engine, fake_index_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(fake_index_dir), engine=fake_engine)
    async with serve(app) as c:
        yield c


@pytest.fixture()
def reload_dir(tmp_path: Path) -> Path:
    """An index folder of its own (reload tests publish versions into it)."""
    index_dir = tmp_path / "index"
    build_fake_index(index_dir, corpus=small_corpus(tmp_path, "corpus-a", 2))
    return index_dir


# --- endpoints -----------------------------------------------------------------------------------

async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_names_the_served_version(client: httpx.AsyncClient, fake_engine: Engine) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["index_version"] == fake_engine.version
    assert body["chunks"] == len(fake_engine.index.chunks) and body["runtime"] == "fake"


async def test_ask_returns_the_ask_result_json(client: httpx.AsyncClient, fake_engine: Engine) -> None:
    response = await client.post("/v1/ask", json={"question": JA_QUESTION})
    assert response.status_code == 200
    body = response.json()
    expected_keys = set(AskResult.model_json_schema(mode="serialization")["properties"])
    assert set(body) == expected_keys
    assert body["index_version"] == fake_engine.version and body["took_ms"] >= 0
    assert body["language"] == "ja" and body["question"] == JA_QUESTION
    direct = fake_engine.ask(JA_QUESTION).model_dump(mode="json")
    assert {k: v for k, v in body.items() if k != "took_ms"} == {
        k: v for k, v in direct.items() if k != "took_ms"}


async def test_ask_options(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/ask", json={"question": "Stargate investment amount",
                                                  "top_k": 1, "language": "ja"})
    assert response.status_code == 200
    body = response.json()
    assert body["language"] == "ja" and len(body["quotes"]) <= 1
    # JSON Schema's integer includes 2.0; null means "the default".
    assert (await client.post("/v1/ask", json={"question": JA_QUESTION, "top_k": 2.0})).status_code == 200
    assert (await client.post("/v1/ask", json={"question": JA_QUESTION, "top_k": None,
                                               "language": None})).status_code == 200


async def test_question_of_exactly_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/ask", json={"question": "あ" * 1000})
    assert response.status_code == 200


async def test_search_ranks_passages_that_are_slices_of_articles(client: httpx.AsyncClient,
                                                                 fake_engine: Engine) -> None:
    response = await client.get("/v1/search", params={"q": "Stargate 投資", "k": 4})
    assert response.status_code == 200
    body = response.json()
    assert body["index_version"] == fake_engine.version and body["query"] == "Stargate 投資"
    passages = body["passages"]
    assert 1 <= len(passages) <= 4
    scores = [p["score"] for p in passages]
    assert scores == sorted(scores, reverse=True)
    for passage in passages:
        article = (await client.get(f"/v1/articles/{passage['article_id']}")).json()
        assert article["text"][passage["start"]:passage["end"]] == passage["text"]


async def test_search_default_k(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/search", params={"q": "DeepSeek"})
    assert response.status_code == 200 and len(response.json()["passages"]) == 5


async def test_articles_list_and_detail(client: httpx.AsyncClient, fake_engine: Engine) -> None:
    response = await client.get("/v1/articles")
    assert response.status_code == 200
    listed = response.json()["articles"]
    assert {a["id"] for a in listed} == set(fake_engine.index.articles)
    assert sum(a["chunks"] for a in listed) == len(fake_engine.index.chunks)
    assert all({"id", "title", "chunks", "source"} <= set(a) for a in listed)
    first = listed[0]
    detail = (await client.get(f"/v1/articles/{first['id']}")).json()
    article = fake_engine.index.articles[first["id"]]
    assert detail["text"] == article.text and detail["sha256"] == article.sha256
    assert detail["chunks"] == first["chunks"] and detail["title"] == first["title"]
    assert detail["index_version"] == fake_engine.version


async def test_unknown_article_is_404(client: httpx.AsyncClient) -> None:
    error = assert_error(await client.get("/v1/articles/no-such-article"), 404, "not_found")
    assert "no-such-article" in error["message"]


_OPENED: list[str] | None = None


def _record_opens(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _OPENED is not None:
        _OPENED.append(str(args[0]))


sys.addaudithook(_record_opens)  # audit hooks cannot be removed; it records only while armed


@pytest.mark.parametrize("raw_id", [
    "..%2F..%2Fetc%2Fpasswd", "%2E%2E", "..%5C..%5Cwindows%5Cwin.ini", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%00", "000_c3040fd4d25ddece.txt", "%2Fetc%2Fpasswd",
])
async def test_path_like_article_ids_are_404_without_touching_files(client: httpx.AsyncClient,
                                                                    raw_id: str) -> None:
    global _OPENED
    await client.get(f"/v1/articles/{raw_id}")  # first call: any lazy imports happen here
    _OPENED = []
    try:
        response = await client.get(f"/v1/articles/{raw_id}")
        opened = list(_OPENED)
    finally:
        _OPENED = None
    assert_error(response, 404, "not_found")
    assert opened == []


async def test_docs_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert {"/v1/ask", "/v1/search", "/v1/articles", "/v1/articles/{article_id}", "/healthz",
            "/readyz", "/metrics"} <= set(schema["paths"])
    assert "/v1/admin/reload" not in schema["paths"]  # no admin token configured
    assert schema["components"]["schemas"]["AskRequest"]["properties"]["question"]["maxLength"] == 1000


# --- invalid input -------------------------------------------------------------------------------

@pytest.mark.parametrize(("payload", "code"), [
    ({"question": ""}, "invalid_input"),
    ({"question": "   \n\t"}, "invalid_input"),
    ({"question": "\u3000\u3000"}, "invalid_input"),  # ideographic spaces only
    ({"question": "あ" * 1001}, "invalid_input"),
    ({"question": JA_QUESTION, "top_k": 0}, "invalid_input"),
    ({"question": JA_QUESTION, "top_k": 11}, "invalid_input"),
    ({"question": JA_QUESTION, "top_k": "3"}, "invalid_input"),
    ({"question": JA_QUESTION, "top_k": 2.5}, "invalid_input"),
    ({"question": JA_QUESTION, "top_k": True}, "invalid_input"),
    ({"question": JA_QUESTION, "language": "fr"}, "invalid_input"),
    ({"question": JA_QUESTION, "topk": 3}, "invalid_input"),
    ({"question": 123}, "invalid_input"),
    ({"question": None}, "invalid_input"),
    ({"question": ["a"]}, "invalid_input"),
    ({}, "invalid_input"),
    ([JA_QUESTION], "invalid_input"),
    ("just a string", "invalid_input"),
])
async def test_ask_rejects_invalid_json_input(client: httpx.AsyncClient, payload: object,
                                              code: str) -> None:
    assert_error(await client.post("/v1/ask", json=payload), 422, code)


@pytest.mark.parametrize(("content", "content_type", "code"), [
    (b'{"question": ', "application/json", "invalid_json"),
    (b"not json at all", "application/json", "invalid_json"),
    (b'{"question": "\xff\xfe\xfd"}', "application/json", "invalid_json"),
    (b"\xc3\x28\xa0\xa1", "application/json", "invalid_json"),
    (b"", "application/json", "invalid_input"),
    (b'{"question": "q"}', "text/plain", "invalid_input"),
    (b'{"question": "q"}', None, "invalid_input"),
])
async def test_ask_rejects_bad_bodies(client: httpx.AsyncClient, content: bytes,
                                      content_type: str | None, code: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    assert_error(await client.post("/v1/ask", content=content, headers=headers), 422, code)


@pytest.mark.parametrize("params", [
    {}, {"q": ""}, {"q": "   "}, {"q": "x" * 1001}, {"q": "x", "k": 0}, {"q": "x", "k": 51},
    {"q": "x", "k": "many"}, {"q": "x", "k": "2.5"}, {"q": "\x1f\ufeff"}, {"q": "x", "K": "3"},
])
async def test_search_rejects_invalid_input(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    assert_error(await client.get("/v1/search", params=params), 422, "invalid_input")


@pytest.mark.parametrize("question", ["\x1f", "\ufeff \u3000", "\x85\t"])
async def test_blank_in_any_script_is_422(client: httpx.AsyncClient, question: str) -> None:
    assert_error(await client.post("/v1/ask", json={"question": question}), 422, "invalid_input")


async def test_unknown_query_parameter_on_articles_is_422(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/v1/articles", params={"page": "2"}), 422, "invalid_input")


async def test_oversized_bodies_are_413(client: httpx.AsyncClient) -> None:
    big = b'{"question": "' + b"a" * 200_000 + b'"}'
    declared = await client.post("/v1/ask", content=big, headers={"content-type": "application/json"})
    assert_error(declared, 413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(30):
            yield b"a" * 10_000

    streamed = await client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert_error(streamed, 413, "payload_too_large")
    assert (await client.get("/healthz")).status_code == 200


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/v2/ask"), 404, "not_found")
    response = await client.get("/v1/ask")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]
    assert_error(await client.delete("/v1/articles"), 405, "method_not_allowed")


async def test_a_bug_is_a_generic_500_and_is_logged(fake_engine: Engine, fake_index_dir: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    class BrokenEngine(Engine):
        def ask(self, question: str, **_: Any) -> AskResult:  # type: ignore[override]
            raise RuntimeError("secret internals at /srv/kiji")

    broken = BrokenEngine(index=fake_engine.index, embedder=fake_engine.embedder,
                          lexical=fake_engine.lexical)
    async with serve(create_app(make_settings(fake_index_dir), engine=broken)) as c:
        with caplog.at_level(logging.ERROR, logger="kiji.api"):
            response = await c.post("/v1/ask", json={"question": JA_QUESTION})
        assert response.json() == {"error": {"code": "internal_error", "message": "internal server error"}}
        assert response.status_code == 500 and "secret" not in response.text
        assert "secret internals" in caplog.text and "/v1/ask" in caplog.text
        assert (await c.get("/healthz")).status_code == 200  # the app keeps serving
        metrics = (await c.get("/metrics")).text
        assert 'kiji_http_requests_total{method="POST",route="/v1/ask",status="500"} 1.0' in metrics


# --- availability --------------------------------------------------------------------------------

async def test_missing_index_starts_unready_then_picks_up_a_built_index(tmp_path: Path) -> None:
    index_dir = tmp_path / "empty-index"
    app = create_app(make_settings(index_dir, watch_index=True, watch_interval_s=0.05),
                     embedder=FakeEmbedder())
    async with serve(app) as c:
        assert (await c.get("/healthz")).status_code == 200
        error = assert_error(await c.get("/readyz"), 503, "index_missing")
        assert "kiji index build" in error["message"]
        assert_error(await c.post("/v1/ask", json={"question": JA_QUESTION}), 503, "index_missing")
        assert_error(await c.get("/v1/articles"), 503, "index_missing")
        assert "kiji_ready 0.0" in (await c.get("/metrics")).text
        build_fake_index(index_dir, corpus=small_corpus(tmp_path, "corpus", 2))
        with anyio.fail_after(10):
            while (await c.get("/readyz")).status_code != 200:
                await asyncio.sleep(0.05)
        response = await c.post("/v1/ask", json={"question": JA_QUESTION})
        assert response.status_code == 200
        assert response.json()["index_version"] == load_current(index_dir).version


async def test_model_is_loaded_once_at_startup(fake_index_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Settings] = []

    def fake_load(settings: Settings) -> FakeEmbedder:
        calls.append(settings)
        return FakeEmbedder()

    monkeypatch.setattr("kiji.watcher.load_embedder", fake_load)
    app = create_app(make_settings(fake_index_dir), warm_up=False)
    assert calls == []  # nothing is loaded before the lifespan starts
    async with serve(app) as c:
        for _ in range(3):
            assert (await c.post("/v1/ask", json={"question": JA_QUESTION})).status_code == 200
        assert (await c.get("/readyz")).status_code == 200
    assert len(calls) == 1


async def test_model_failure_is_a_503_naming_it(fake_index_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(_: Settings) -> FakeEmbedder:
        raise ModelError("the default embedding model is not prepared", hint="run `kiji model prepare`")

    monkeypatch.setattr("kiji.watcher.load_embedder", failing)
    async with serve(create_app(make_settings(fake_index_dir))) as c:
        assert (await c.get("/healthz")).status_code == 200
        error = assert_error(await c.get("/readyz"), 503, "model_error")
        assert "kiji model prepare" in error["message"]
        assert_error(await c.get("/v1/search", params={"q": "x"}), 503, "model_error")


async def test_incompatible_index_is_a_503(fake_index_dir: Path) -> None:
    app = create_app(make_settings(fake_index_dir), embedder=FakeEmbedder(dim=128))
    async with serve(app) as c:
        assert_error(await c.get("/readyz"), 503, "index_incompatible")


async def test_embedding_runs_off_the_event_loop(fake_index_dir: Path) -> None:
    embedder = GatedEmbedder()
    engine = Engine(index=load_current(fake_index_dir), embedder=embedder)
    async with serve(create_app(make_settings(fake_index_dir), engine=engine)) as c:
        embedder.hold.set()
        held = asyncio.create_task(c.post("/v1/ask", json={"question": JA_QUESTION}))
        try:
            assert await anyio.to_thread.run_sync(embedder.entered.wait, 5)
            with anyio.fail_after(5):  # the loop still answers while a query is being embedded
                assert (await c.get("/healthz")).status_code == 200
                assert (await c.get("/v1/articles")).status_code == 200
        finally:
            embedder.release.set()
        assert (await held).status_code == 200


@pytest.mark.skipif(cpu_slots(1) < 2, reason="needs two cores to run two queries at once")
async def test_concurrent_questions_run_in_parallel(fake_index_dir: Path) -> None:
    engine = Engine(index=load_current(fake_index_dir), embedder=RendezvousEmbedder(2))
    async with serve(create_app(make_settings(fake_index_dir), engine=engine)) as c:
        with anyio.fail_after(15):
            responses = await asyncio.gather(*(c.post("/v1/ask", json={"question": JA_QUESTION})
                                               for _ in range(2)))
    assert [r.status_code for r in responses] == [200, 200]


# --- protection ----------------------------------------------------------------------------------

async def test_api_keys(fake_engine: Engine, fake_index_dir: Path,
                        caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(make_settings(fake_index_dir, api_keys="key-one,key-two"), engine=fake_engine)
    async with serve(app) as c:
        with caplog.at_level(logging.DEBUG):
            missing = await c.get("/v1/articles")
            wrong = await c.get("/v1/articles", headers={"Authorization": "Bearer key-three"})
            basic = await c.get("/v1/articles", headers={"Authorization": "Basic a2V5LW9uZQ=="})
            ok_one = await c.get("/v1/articles", headers={"Authorization": "Bearer key-one"})
            ok_two = await c.post("/v1/ask", json={"question": JA_QUESTION},
                                  headers={"Authorization": "Bearer key-two"})
        for response in (missing, wrong, basic):
            assert_error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
        assert ok_one.status_code == 200 and ok_two.status_code == 200
        assert "key-one" not in caplog.text and "key-two" not in caplog.text
        assert "key-three" not in caplog.text and "key-three" not in wrong.text
        # Operations endpoints stay open for probes and scrapers.
        assert (await c.get("/healthz")).status_code == 200
        assert (await c.get("/readyz")).status_code == 200
        assert (await c.get("/metrics")).status_code == 200
        schema = (await c.get("/openapi.json")).json()
        assert schema["paths"]["/v1/ask"]["post"]["security"] == [{"HTTPBearer": []}]


def test_match_key_checks_every_key() -> None:
    from pydantic import SecretStr

    keys = [SecretStr("alpha"), SecretStr("beta"), SecretStr("alpha")]
    assert match_key("alpha", keys) == 0
    assert match_key("beta", keys) == 1
    assert match_key("gamma", keys) is None
    assert match_key("", keys) is None


async def test_rate_limit_answers_429_with_retry_after(fake_engine: Engine, fake_index_dir: Path) -> None:
    app = create_app(make_settings(fake_index_dir, rate_limit_per_minute=2), engine=fake_engine)
    async with serve(app) as c:
        assert (await c.get("/v1/articles")).status_code == 200
        assert (await c.post("/v1/ask", json={"question": JA_QUESTION})).status_code == 200
        limited = await c.get("/v1/articles")
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) == 30  # one token per 30 s at 2 a minute
        assert (await c.get("/healthz")).status_code == 200  # not rate limited
        metrics = (await c.get("/metrics")).text
        assert 'route="/v1/articles",status="429"' in metrics


async def test_rate_limit_is_per_api_key(fake_engine: Engine, fake_index_dir: Path) -> None:
    app = create_app(make_settings(fake_index_dir, rate_limit_per_minute=1, api_keys="k1,k2"),
                     engine=fake_engine)
    async with serve(app) as c:
        one, two = {"Authorization": "Bearer k1"}, {"Authorization": "Bearer k2"}
        assert (await c.get("/v1/articles", headers=one)).status_code == 200
        assert_error(await c.get("/v1/articles", headers=one), 429, "rate_limited")
        assert (await c.get("/v1/articles", headers=two)).status_code == 200


def test_token_bucket_refills() -> None:
    now = [0.0]
    limiter = TokenBucketLimiter(60, clock=lambda: now[0])  # one token a second, bursts of 60
    assert all(limiter.acquire("a") is None for _ in range(60))
    wait = limiter.acquire("a")
    assert wait == pytest.approx(1.0)
    assert limiter.acquire("b") is None  # another client has its own bucket
    now[0] += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.acquire("a") is None
    now[0] += 1000
    assert all(limiter.acquire("a") is None for _ in range(60))  # capped at the burst size
    assert limiter.acquire("a") is not None


def test_token_bucket_forgets_the_least_recent_clients() -> None:
    limiter = TokenBucketLimiter(1, max_clients=3)
    for client in "abcd":
        limiter.acquire(client)
    assert list(limiter._buckets) == ["b", "c", "d"]


async def test_cors(fake_engine: Engine, fake_index_dir: Path) -> None:
    origin = "https://app.example"
    app = create_app(make_settings(fake_index_dir, cors_origins=origin), engine=fake_engine)
    async with serve(app) as c:
        response = await c.get("/v1/articles", headers={"Origin": origin})
        assert response.headers["access-control-allow-origin"] == origin
        preflight = await c.options("/v1/ask", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        error = await c.get("/v1/articles/nope", headers={"Origin": origin})
        assert error.status_code == 404 and error.headers["access-control-allow-origin"] == origin
        other = await c.get("/v1/articles", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_no_cors_headers_without_origins(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/articles", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


# --- metrics -------------------------------------------------------------------------------------

async def test_metrics_label_route_templates_and_the_index(client: httpx.AsyncClient,
                                                           fake_engine: Engine) -> None:
    some_id = next(iter(fake_engine.index.articles))
    await client.get(f"/v1/articles/{some_id}")
    await client.get("/v1/articles/not-a-real-id")
    await client.get("/nowhere/at/all")
    await client.post("/v1/ask", json={"question": JA_QUESTION})
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'kiji_http_requests_total{method="GET",route="/v1/articles/{article_id}",status="200"} 1.0' in text
    assert 'kiji_http_requests_total{method="GET",route="/v1/articles/{article_id}",status="404"} 1.0' in text
    assert 'kiji_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'kiji_http_request_duration_seconds_bucket{le="0.1",method="POST",route="/v1/ask"}' in text
    assert "not-a-real-id" not in text and "nowhere" not in text and some_id not in text
    assert f'kiji_index_info{{version="{fake_engine.version}"}} 1.0' in text
    assert f"kiji_index_chunks {float(len(fake_engine.index.chunks))}" in text
    assert f"kiji_index_articles {float(len(fake_engine.index.articles))}" in text
    assert "kiji_ready 1.0" in text


# --- reload --------------------------------------------------------------------------------------

async def test_admin_routes_are_404_without_an_admin_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/v1/admin/reload", headers=ADMIN), 404, "not_found")


async def test_admin_token_is_required(reload_dir: Path) -> None:
    engine = Engine(index=load_current(reload_dir), embedder=FakeEmbedder())
    app = create_app(make_settings(reload_dir, admin_token="admin-secret", api_keys="user-key"),
                     engine=engine)
    async with serve(app) as c:
        assert_error(await c.post("/v1/admin/reload"), 401, "unauthorized")
        assert_error(await c.post("/v1/admin/reload", headers={"Authorization": "Bearer user-key"}),
                     403, "forbidden")
        response = await c.post("/v1/admin/reload", headers=ADMIN)
        assert response.status_code == 200
        assert response.json() == {"outcome": "unchanged", "version": engine.version, "previous": None}


async def test_reload_picks_up_a_new_version(reload_dir: Path, tmp_path: Path) -> None:
    engine = Engine(index=load_current(reload_dir), embedder=FakeEmbedder())
    old = engine.version
    app = create_app(make_settings(reload_dir, admin_token="admin-secret"), engine=engine)
    async with serve(app) as c:
        assert len((await c.get("/v1/articles")).json()["articles"]) == 2
        build_fake_index(reload_dir, corpus=small_corpus(tmp_path, "corpus-b", 3))
        new = load_current(reload_dir).version
        response = await c.post("/v1/admin/reload", headers=ADMIN)
        assert response.status_code == 200
        assert response.json() == {"outcome": "reloaded", "version": new, "previous": old}
        assert (await c.get("/readyz")).json()["index_version"] == new
        listing = (await c.get("/v1/articles")).json()
        assert listing["index_version"] == new and len(listing["articles"]) == 3
        ask = await c.post("/v1/ask", json={"question": JA_QUESTION})
        assert ask.json()["index_version"] == new
        metrics = (await c.get("/metrics")).text
        assert f'kiji_index_info{{version="{new}"}} 1.0' in metrics and old not in metrics
        assert 'kiji_index_reloads_total{outcome="reloaded"} 1.0' in metrics


async def test_watcher_picks_up_a_new_version(reload_dir: Path, tmp_path: Path) -> None:
    engine = Engine(index=load_current(reload_dir), embedder=FakeEmbedder())
    app = create_app(make_settings(reload_dir, watch_index=True, watch_interval_s=0.05), engine=engine)
    async with serve(app) as c:
        build_fake_index(reload_dir, corpus=small_corpus(tmp_path, "corpus-b", 3))
        new = load_current(reload_dir).version
        with anyio.fail_after(10):
            while (await c.get("/readyz")).json()["index_version"] != new:
                await asyncio.sleep(0.05)
        assert len((await c.get("/v1/articles")).json()["articles"]) == 3


async def test_a_damaged_version_is_rejected_and_the_old_one_keeps_answering(
        reload_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(index=load_current(reload_dir), embedder=FakeEmbedder())
    old = engine.version
    app = create_app(make_settings(reload_dir, admin_token="admin-secret"), engine=engine)
    corpus_b = small_corpus(tmp_path, "corpus-b", 3)
    async with serve(app) as c:
        build_index(corpus_paths=[corpus_b], index_dir=reload_dir, embedder=FakeEmbedder(),
                    params=ChunkParams(), _before_publish=truncate_vectors)
        damaged = (reload_dir / "CURRENT").read_text().strip()
        assert damaged != old
        with caplog.at_level(logging.ERROR, logger="kiji.watcher"):
            response = await c.post("/v1/admin/reload", headers=ADMIN)
        error = assert_error(response, 409, "index_corrupt")
        assert damaged in error["message"] and old in error["message"]
        assert damaged in caplog.text
        assert (await c.get("/readyz")).json()["index_version"] == old
        ask = await c.post("/v1/ask", json={"question": JA_QUESTION})
        assert ask.status_code == 200 and ask.json()["index_version"] == old
        assert 'kiji_index_reloads_total{outcome="rejected"} 1.0' in (await c.get("/metrics")).text

        # The watcher does not retry the same broken version on every tick...
        state = state_of(app)
        again = await state.watcher.check()
        assert again.outcome == "rejected" and again.error is None and again.version == old
        # ...and a good version published after it is served.
        build_fake_index(reload_dir, corpus=corpus_b)
        fixed = await c.post("/v1/admin/reload", headers=ADMIN)
        assert fixed.status_code == 200 and fixed.json()["outcome"] == "reloaded"
        assert state.watcher.rejected_version is None


async def test_in_flight_request_finishes_on_the_version_it_started_with(reload_dir: Path,
                                                                         tmp_path: Path) -> None:
    embedder = GatedEmbedder()
    engine = Engine(index=load_current(reload_dir), embedder=embedder)
    old = engine.version
    app = create_app(make_settings(reload_dir, admin_token="admin-secret"), engine=engine)
    async with serve(app) as c:
        embedder.hold.set()
        held = asyncio.create_task(c.post("/v1/ask", json={"question": JA_QUESTION}))
        try:
            assert await anyio.to_thread.run_sync(embedder.entered.wait, 5)
            build_fake_index(reload_dir, corpus=small_corpus(tmp_path, "corpus-b", 3))
            new = load_current(reload_dir).version
            reloaded = await c.post("/v1/admin/reload", headers=ADMIN)
            assert reloaded.json()["outcome"] == "reloaded"
        finally:
            embedder.release.set()
        first = await held
        assert first.status_code == 200 and first.json()["index_version"] == old
        second = await c.post("/v1/ask", json={"question": JA_QUESTION})
        assert second.status_code == 200 and second.json()["index_version"] == new


async def test_forced_reload_without_any_index_is_503(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "none", admin_token="admin-secret"), embedder=FakeEmbedder())
    async with serve(app) as c:
        assert_error(await c.post("/v1/admin/reload", headers=ADMIN), 503, "index_missing")


# --- server --------------------------------------------------------------------------------------

def test_server_run_single_worker(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                  fake_index_dir: Path) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    server.run(make_settings(fake_index_dir, host="127.0.0.1", port=8123))
    assert "kiji API listening on http://127.0.0.1:8123 (docs at /docs)" in capsys.readouterr().err
    assert isinstance(seen["app"], FastAPI) and seen["port"] == 8123 and seen["host"] == "127.0.0.1"


def test_server_run_workers_use_the_factory(monkeypatch: pytest.MonkeyPatch, fake_index_dir: Path) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    saved = dict(os.environ)
    try:
        settings = make_settings(fake_index_dir, workers=3, api_keys="a,b", admin_token="t",
                                 cors_origins="https://x.example", top_k=4)
        server.run(settings)
        assert seen["app"] == "kiji.api.app:create_app" and seen["factory"] is True and seen["workers"] == 3
        # What each worker will read: the same settings, from the environment.
        rebuilt = Settings()
        assert rebuilt.index_dir == fake_index_dir and rebuilt.top_k == 4
        assert [k.get_secret_value() for k in rebuilt.api_keys] == ["a", "b"]
        assert rebuilt.admin_token is not None and rebuilt.admin_token.get_secret_value() == "t"
        assert rebuilt.cors_origins == ["https://x.example"] and rebuilt.watch_index is False
    finally:
        os.environ.clear()
        os.environ.update(saved)
