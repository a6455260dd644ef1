"""The generation step against the scripted OpenAI-compatible server, through the real ``openai``
client: every case with and without streaming, the prompt that reaches the model, timing bounds,
and the model server's status."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiji.retrieval.engine import Engine
from kiji.retrieval.generation.answerer import Generator
from kiji.retrieval.generation.config import LLMConfig
from kiji.retrieval.generation.prompt import NO_ANSWER
from kiji.retrieval.generation.result import GeneratedAskResult
from tests.fake_llm import FakeLLM, Reply, unused_port
from tests.generation_cases import (
    API_KEY,
    CASE_IDS,
    CASES,
    GOOD_EN,
    INJECTION,
    Q_EN,
    Q_INJECTED,
    Q_JA,
    Case,
    check_shown,
    expected_text,
)


@pytest.fixture()
def engine(generation_engine: Engine) -> Engine:
    """The shipped corpus plus the planted article (tests/conftest.py), built once per session."""
    return generation_engine


def generator_for(llm: FakeLLM, case: Case | None = None, **overrides: object) -> Generator:
    base_url = f"http://127.0.0.1:{unused_port()}/v1" if case and case.absent else llm.base_url
    values: dict[str, Any] = {"base_url": base_url, "model": llm.model, "api_key": API_KEY,
                                 "timeout_s": case.timeout_s if case else 5.0}
    values.update(overrides)
    return Generator(LLMConfig(**values))


async def run(generator: Generator, engine: Engine, question: str,
              streaming: bool) -> tuple[GeneratedAskResult, list[str]]:
    result = engine.ask(question)
    tokens: list[str] = []
    try:
        if not streaming:
            return await generator.answer(result), tokens
        final = None
        async for item in generator.stream(result):
            if isinstance(item, str):
                tokens.append(item)
            else:
                final = item
        assert final is not None
        return final, tokens
    finally:
        await generator.aclose()


@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_each_case(case: Case, streaming: bool, engine: Engine, llm: FakeLLM) -> None:
    llm.handler = case.script
    llm.requests.clear()
    started = time.monotonic()
    final, tokens = await run(generator_for(llm, case), engine, case.question, streaming)
    elapsed = time.monotonic() - started
    shown = json.loads(final.model_dump_json())
    model_text = expected_text(case, llm.completions[-1].body) if llm.completions else None
    check_shown(case, engine.ask(case.question), shown, model_text)
    # A slow or failing model costs at most the timeout (the "timeout" case's takes 3 s; the margin
    # is for a loaded CI machine).
    assert elapsed < case.timeout_s + 2.0
    if not case.absent:
        assert len(llm.completions) == 1 and llm.completions[0].body.get("stream", False) is streaming
    if streaming and case.reason is None:
        assert len(tokens) > 1 and "".join(tokens) == final.answer  # pieces as written, then verified
    if case.name == "cut_halfway" and streaming:
        assert tokens and "".join(tokens) != model_text  # the reader saw a draft that was then replaced


async def test_the_request_carries_the_model_settings_and_the_key_only_as_a_header(
        engine: Engine, llm: FakeLLM, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the openai and HTTP clients' own debug logs included
    llm.handler = GOOD_EN
    llm.requests.clear()
    final, _ = await run(generator_for(llm, max_tokens=77), engine, Q_EN, False)
    llm.reply(Reply(status=401))
    failed, _ = await run(generator_for(llm), engine, Q_EN, True)
    assert failed.fallback_detail == "HTTP 401" and caplog.text and API_KEY not in caplog.text
    seen = llm.completions[0]
    assert seen.body["model"] == llm.model and seen.body["max_tokens"] == 77
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in json.dumps(seen.body) and API_KEY not in repr(generator_for(llm).config)
    assert final.answer_mode == "generated"


async def test_a_planted_instruction_stays_inside_its_passage(engine: Engine, llm: FakeLLM) -> None:
    llm.handler = lambda body: Reply(text="Kiwami Robotics raised 30 million dollars in 2024 [1].")
    llm.requests.clear()
    final, _ = await run(generator_for(llm), engine, Q_INJECTED, False)
    system, user = (m["content"] for m in llm.completions[0].messages)
    assert "not instructions" in system and "Kiwami" not in system
    planted = INJECTION.replace("</passage>", "＜/passage>").replace("<question>", "＜question>")
    planted = planted.replace("</question>", "＜/question>")
    at = user.index(planted[:60])
    opening = user.rindex('<passage n="', 0, at)
    assert user.index("</passage>", opening) > at + len(planted[:60])  # closed only after it
    assert user.count("<question>") == 1 and user.count("</passage>") == len(final.quotes)
    # A model that ignores the planted instruction is used; one that follows it is not (see CASES).
    assert final.answer_mode == "generated" and final.citations[0].quote == 0


async def test_more_answers_only_ever_lower_answered(engine: Engine, llm: FakeLLM) -> None:
    llm.handler = lambda body: Reply(text=NO_ANSWER)
    final, _ = await run(generator_for(llm), engine, Q_JA, True)
    assert final.model_declined and not final.answered and final.quotes == []
    assert final.answer_mode == "generated"
    assert final.answer == "記事の中に、この質問に答える記述は見つかりませんでした。"
    # kiji's own decline is never raised by the model: it is not even asked.
    declined = engine.ask("What is the recipe for Okonomiyaki?")
    assert not declined.answered
    llm.requests.clear()
    llm.handler = GOOD_EN
    generator = generator_for(llm)
    out = await generator.answer(declined)
    await generator.aclose()
    assert not out.answered and out.fallback_reason == "declined" and llm.completions == []


@pytest.mark.parametrize(("reply", "reason", "modes"), [
    (Reply(text="NVIDIA fell 11% [1].", finish_reason="length"), "truncated", (False, True)),
    (Reply(text="NVIDIA fell 11% [1]", broken_chunk_after=2), "bad_response", (True,)),
    (Reply(raw_body='{"object": "list"}'), "bad_response", (False, True)),
    (Reply(text=""), "empty_answer", (False, True)),
])
async def test_other_server_misbehaviour_falls_back(reply: Reply, reason: str, modes: tuple[bool, ...],
                                                    engine: Engine, llm: FakeLLM) -> None:
    llm.reply(reply)
    for streaming in modes:
        final, _ = await run(generator_for(llm), engine, Q_EN, streaming)
        assert final.answer_mode == "extractive" and final.fallback_reason == reason


async def test_a_slow_trickle_is_cut_at_the_timeout_not_per_chunk(engine: Engine, llm: FakeLLM) -> None:
    # Each chunk arrives within httpx's read timeout; the whole answer would take 4.5 s.
    llm.reply(Reply(text="NVIDIA fell 11% in after-hours trading [1]. " * 2, chunk_chars=2,
                    chunk_delay_s=0.1))
    started = time.monotonic()
    final, tokens = await run(generator_for(llm, timeout_s=1.0), engine, Q_EN, True)
    assert time.monotonic() - started < 3.0 and tokens
    assert final.fallback_reason == "timeout"


async def test_status_reports_the_model_server(llm: FakeLLM, tmp_path: Path) -> None:
    generator = generator_for(llm)
    status = await generator.status()
    assert (status.state, status.model, status.listed) == ("ok", llm.model, True)
    absent = generator_for(llm, base_url=f"http://127.0.0.1:{unused_port()}/v1")
    status = await absent.status()
    assert status.state == "unreachable" and status.detail and API_KEY not in status.detail
    llm.model_list_status = 500
    try:
        fresh = generator_for(llm)
        assert (await fresh.status()).state == "error"
        assert (await generator.status()).state == "ok"  # cached for a few seconds
    finally:
        llm.model_list_status = 200
    for g in (generator, absent, fresh):
        await g.aclose()


# --- issue 28: a huge answer, and verification inside the budget and off the event loop ------------

def _huge(chunk_chars: int) -> Callable[[dict[str, Any]], Reply]:
    # A server that ignores max_tokens: a valid, cited answer followed by 4.5 MB of padding.
    return lambda body: Reply(text=GOOD_EN(body).text + " It fell." * 500_000, chunk_chars=chunk_chars)


@pytest.mark.parametrize(("streaming", "chunk_chars"), [(False, 0), (True, 65_536), (True, 10_000_000)],
                         ids=["complete", "stream", "stream-one-event"])
async def test_an_answer_past_the_cap_falls_back_and_reading_stops(streaming: bool, chunk_chars: int,
                                                                   engine: Engine, llm: FakeLLM) -> None:
    llm.handler = _huge(chunk_chars or 65_536)
    llm.requests.clear()
    started = time.monotonic()
    final, tokens = await run(generator_for(llm, max_tokens=64), engine, Q_EN, streaming)
    elapsed = time.monotonic() - started
    assert final.answer_mode == "extractive" and final.fallback_reason == "answer_too_long"
    assert final.fallback_detail and "4,096" in final.fallback_detail
    assert llm.completions[-1].body["max_tokens"] == 64
    assert sum(map(len, tokens)) <= 4096  # the reader never saw more than the cap
    assert elapsed < 2.0, elapsed  # 4.5 MB is not read, parsed or verified (main: parsed and verified)


async def test_verification_counts_in_took_ms_and_runs_off_the_event_loop(
        engine: Engine, llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    from kiji.retrieval.generation import answerer

    real = answerer.verify

    def slow_verify(*args: Any) -> Any:
        time.sleep(0.5)  # the cost of verifying ~60 KB at ~8 µs a character
        return real(*args)

    monkeypatch.setattr(answerer, "verify", slow_verify)
    llm.handler = GOOD_EN
    for streaming in (False, True):
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        ticker = asyncio.create_task(tick())
        try:
            final, _ = await run(generator_for(llm), engine, Q_EN, streaming)
        finally:
            ticker.cancel()
        assert final.answer_mode == "generated"
        assert final.took_ms >= 500, final.took_ms  # main: the model call only
        assert ticks >= 10, ticks  # the loop kept running while the answer was verified


@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
async def test_verification_is_inside_the_time_budget(streaming: bool, engine: Engine, llm: FakeLLM,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from kiji.retrieval.generation import answerer

    real = answerer.verify

    def slow_verify(*args: Any) -> Any:
        time.sleep(2.0)
        return real(*args)

    monkeypatch.setattr(answerer, "verify", slow_verify)
    llm.handler = GOOD_EN
    started = time.monotonic()
    final, _ = await run(generator_for(llm, timeout_s=1.0), engine, Q_EN, streaming)
    assert final.fallback_reason == "timeout" and time.monotonic() - started < 1.8
