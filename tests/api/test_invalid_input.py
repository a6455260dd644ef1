"""Bad input gets a clear 4xx in the shared error shape, never a 500; a bug is a logged generic 500."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiji.api.app import create_app
from kiji.retrieval.engine import Engine
from kiji.retrieval.models import AskResult
from tests.api.helpers import JA_QUESTION, assert_error, make_settings, serve

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
        def ask(self, question: str, **_: Any) -> AskResult:
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
