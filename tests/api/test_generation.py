"""`POST /v1/ask` (JSON and server-sent events) and `/readyz` with a language model configured,
against the scripted OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from kiji.api.app import create_app
from kiji.retrieval.engine import Engine
from kiji.settings import Settings
from tests.fake_llm import FakeLLM, Reply, unused_port
from tests.generation_cases import (
    API_KEY,
    CASE_IDS,
    CASES,
    GOOD_EN,
    Q_EN,
    Q_JA,
    Case,
    check_shown,
    expected_text,
)


@pytest.fixture()
def engine(generation_engine: Engine) -> Engine:
    """The shipped corpus plus the planted article (tests/conftest.py), built once per session."""
    return generation_engine


def settings_for(engine: Engine, llm: FakeLLM | None, case: Case | None = None, **extra: Any) -> Settings:
    # llm_* explicitly unset: a model configured in the developer's environment must not leak in.
    values: dict[str, Any] = {"index_dir": engine.index.path.parent.parent, "rate_limit_per_minute": 0,
                              "watch_index": False, "embedding_runtime": "torch",
                              "llm_base_url": None, "llm_model": None}
    if llm is not None:
        absent = case is not None and case.absent
        values.update(llm_base_url=f"http://127.0.0.1:{unused_port()}/v1" if absent else llm.base_url,
                      llm_model=llm.model, llm_api_key=API_KEY,
                      llm_timeout_s=case.timeout_s if case else 5.0)
    values.update(extra)
    return Settings(**values)


@contextlib.asynccontextmanager
async def client_for(settings: Settings, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            yield client


def parse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_ask_each_case(case: Case, stream: bool, engine: Engine, llm: FakeLLM) -> None:
    llm.handler = case.script
    llm.requests.clear()
    async with client_for(settings_for(engine, llm, case), engine) as client:
        started = time.monotonic()
        r = await client.post("/v1/ask", json={"question": case.question, "stream": stream})
        elapsed = time.monotonic() - started
    assert r.status_code == 200 and API_KEY not in r.text
    assert elapsed < case.timeout_s + 2.0  # the "timeout" case's model takes 3 s: it was not awaited
    model_text = expected_text(case, llm.completions[-1].body) if llm.completions else None
    if not stream:
        assert r.headers["content-type"] == "application/json"
        check_shown(case, engine.ask(case.question), r.json(), model_text)
        return
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_events(r.text)
    kinds = [k for k, _ in events]
    assert kinds[-1] == "final" and set(kinds[:-1]) <= {"token"}
    final = events[-1][1]
    check_shown(case, engine.ask(case.question), final, model_text)
    streamed = "".join(d["text"] for k, d in events if k == "token")
    if case.reason is None:
        assert streamed == final["answer"] and len(kinds) > 2
    elif case.name == "cut_halfway":
        assert streamed and streamed != final["answer"]  # the draft is replaced by the final answer


async def test_tokens_arrive_as_they_are_written(engine: Engine, llm: FakeLLM) -> None:
    """Through a real server socket: the first token reaches the client long before the answer ends."""
    llm.handler = lambda body: Reply(text=GOOD_EN(body).text, chunk_chars=8, chunk_delay_s=0.1)
    app = create_app(settings_for(engine, llm), engine=engine)
    port = unused_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        arrivals: list[tuple[float, str]] = []
        async with httpx.AsyncClient(timeout=30) as client, \
                client.stream("POST", f"http://127.0.0.1:{port}/v1/ask",
                              json={"question": Q_EN, "stream": True}) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    arrivals.append((time.monotonic(), line[7:]))
    finally:
        server.should_exit = True
        await task
    tokens = [t for t, kind in arrivals if kind == "token"]
    final = [t for t, kind in arrivals if kind == "final"]
    assert len(tokens) > 5 and len(final) == 1
    assert final[0] - tokens[0] > 0.5  # ~14 chunks 0.1 s apart: the first was not held back


async def test_without_a_model_nothing_changes(engine: Engine) -> None:
    async with client_for(settings_for(engine, None), engine) as client:
        plain = (await client.post("/v1/ask", json={"question": Q_JA})).json()
        streamed = await client.post("/v1/ask", json={"question": Q_JA, "stream": True})
        ready = (await client.get("/readyz")).json()
    expected = json.loads(engine.ask(Q_JA).model_dump_json())
    plain.pop("took_ms"), expected.pop("took_ms")
    assert plain == expected  # no generation fields
    events = parse_events(streamed.text)
    assert [k for k, _ in events] == ["final"] and events[0][1]["answer"] == expected["answer"]
    assert "llm" not in ready and ready["status"] == "ready"


async def test_bad_input_with_stream_is_a_plain_422(engine: Engine, llm: FakeLLM) -> None:
    async with client_for(settings_for(engine, llm), engine) as client:
        for body in ({"question": "  ", "stream": True}, {"question": Q_JA, "stream": "yes"}):
            r = await client.post("/v1/ask", json=body)
            assert r.status_code == 422 and r.json()["error"]["code"]


async def test_readyz_reports_the_model_server_without_failing(engine: Engine, llm: FakeLLM,
                                                               tmp_path: Path) -> None:
    async with client_for(settings_for(engine, llm), engine) as client:
        r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["llm"] == {"state": "ok", "model": llm.model, "listed": True}
    absent = settings_for(engine, llm, llm_base_url=f"http://127.0.0.1:{unused_port()}/v1")
    async with client_for(absent, engine) as client:
        started = time.monotonic()
        r = await client.get("/readyz")
        assert time.monotonic() - started < 3
        ask = await client.post("/v1/ask", json={"question": Q_JA})
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert r.json()["llm"]["state"] == "unreachable" and API_KEY not in r.text
    assert ask.status_code == 200 and ask.json()["fallback_reason"] == "model_unreachable"
    llm.model_list_status = 503
    try:
        async with client_for(settings_for(engine, llm), engine) as client:
            r = await client.get("/readyz")
    finally:
        llm.model_list_status = 200
    assert r.status_code == 200
    assert r.json()["llm"]["state"] == "error" and r.json()["llm"]["detail"] == "HTTP 503"
