"""The HTTP API's endpoints and metrics on the fake-embedder engine.

Apps run their real lifespan (``app.router.lifespan_context``) and are called in-process through
httpx's ASGI transport, so these tests cover the wiring a server would run, without sockets.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import httpx
import pytest

from kiji.api.routers.web import CSP
from kiji.corpus.boilerplate import is_furniture_line
from kiji.retrieval.engine import Engine
from kiji.retrieval.models import AskResult
from tests.api.helpers import JA_QUESTION, assert_error

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


async def test_an_article_names_its_page_furniture_for_the_reader_to_hide(client: httpx.AsyncClient,
                                                                          fake_engine: Engine) -> None:
    # The shipped articles keep their image and length lines (offsets match the files); the
    # detail lists where they are, and every one of them is a whole furniture line.
    hidden: list[str] = []
    for article_id, article in fake_engine.index.articles.items():
        detail = (await client.get(f"/v1/articles/{article_id}")).json()
        for start, end in detail["hidden"]:
            line = article.text[start:end]
            assert line.endswith("\n") and is_furniture_line(line), line
            hidden.append(line)
    assert any(line.startswith("![") for line in hidden) and any("文字" in line for line in hidden)


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
    docs = await client.get("/docs")
    assert docs.status_code == 200
    # Issue 28, item 14: Swagger UI from this server (offline too), under the pages' CSP; main
    # loaded it from a CDN with an inline script and sent no CSP.
    assert docs.headers["content-security-policy"] == CSP
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", docs.text, re.DOTALL)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts)
    assert "http" not in docs.text.replace('charset="utf-8"', "")
    for url in re.findall(r'(?:src|href)="(/[^"]+)"', docs.text):
        asset = await client.get(url)
        assert asset.status_code == 200 and asset.content, url
    assert (await client.get("/docs/assets/index.html")).status_code == 404  # only what the page uses
    schema = (await client.get("/openapi.json")).json()
    assert {"/v1/ask", "/v1/search", "/v1/articles", "/v1/articles/{article_id}", "/healthz",
            "/readyz", "/metrics"} <= set(schema["paths"])
    assert "/v1/admin/reload" not in schema["paths"]  # no admin token configured
    assert schema["components"]["schemas"]["AskRequest"]["properties"]["question"]["maxLength"] == 1000


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


async def test_ask_gives_each_quote_its_highlights_and_glosses(client: httpx.AsyncClient) -> None:
    body = (await client.post("/v1/ask", json={"question": "How much did NVIDIA's stock fall?",
                                               "top_k": 3})).json()
    quotes = body["quotes"] + body["related"]
    assert quotes
    for quote in quotes:
        spans = quote["highlights"]
        assert spans == sorted(spans) and all(0 <= s < e <= len(quote["text"]) for s, e in spans)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))  # disjoint, merged
        # English reader, Japanese quote: glosses name terms of the quote itself.
        assert quote["glosses"] and all(g["term"] in quote["text"] and g["gloss"] for g in quote["glosses"])
    marked = [q["text"][s:e] for q in quotes for s, e in q["highlights"]]
    assert any("NVIDIA" in m for m in marked) and any("%" in m for m in marked)
    # A Japanese question over Japanese quotes: marks, no glosses.
    ja = (await client.post("/v1/ask", json={"question": JA_QUESTION})).json()
    assert all(q["glosses"] == [] for q in ja["quotes"] + ja["related"])


async def test_examples_are_questions_the_engine_answers(client: httpx.AsyncClient, fake_engine: Engine) -> None:
    for language in ("ja", "en"):
        body = (await client.get("/v1/examples", params={"language": language})).json()
        assert body["language"] == language and body["index_version"] == fake_engine.version
        assert len(body["examples"]) <= 3
        for question in body["examples"]:
            assert fake_engine.ask(question, language=language).answered
    assert (await client.get("/v1/examples", params={"language": "fr"})).status_code == 422
    assert (await client.get("/v1/examples", params={"lang": "ja"})).status_code == 422


def test_a_composed_example_the_engine_declines_is_not_offered(fake_engine: Engine,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from kiji.retrieval import engine as engine_module

    declined = "箱根でおすすめの温泉宿ある?"
    answerable = "NVIDIAは時間外取引で何%下落しましたか?"
    assert fake_engine.ask(answerable).answered and not fake_engine.ask(declined).answered
    monkeypatch.setattr(engine_module, "example_questions", lambda language, title: [declined, answerable])
    fresh = dataclasses.replace(fake_engine)  # a new engine: its own example cache
    assert fresh.examples("ja") == [answerable]
    reply = fresh.ask("こんにちは")
    assert reply.contentless and reply.examples == [answerable] and answerable in reply.answer


async def test_contentless_input_gets_the_help_reply_with_checked_examples(client: httpx.AsyncClient,
                                                                            fake_engine: Engine) -> None:
    body = (await client.post("/v1/ask", json={"question": "hello"})).json()
    assert body["contentless"] and not body["answered"] and body["quotes"] == []
    assert body["examples"] == fake_engine.examples("en")
    assert all(q in body["answer"] for q in body["examples"])
    real = (await client.post("/v1/ask", json={"question": "How much did TSMC fall?"})).json()
    assert not real["contentless"] and real["examples"] == []
