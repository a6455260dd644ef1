"""API keys, the per-client rate limit, CORS."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from kiji.api.app import create_app
from kiji.api.rate_limit import TokenBucketLimiter
from kiji.api.security import match_key
from kiji.retrieval.engine import Engine
from tests.api.helpers import JA_QUESTION, assert_error, make_settings, serve

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
