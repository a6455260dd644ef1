"""The Discord bot with a language model configured: the deferred reply is edited as the answer is
written (throttled), and ends with the same quote embed as without a model. The real discord.py
client talks to tests/fake_discord.py; the real ``openai`` client to the scripted model server."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kiji.bot import live
from kiji.bot.client import KijiBot
from kiji.bot.commands import register
from kiji.bot.embeds import answer_embed, short_answer
from kiji.bot.i18n import t
from kiji.bot.main import read_token, run
from kiji.bot.markdown import unescape
from kiji.retrieval.engine import Engine
from kiji.runtime import load_generator
from kiji.settings import Settings
from tests.bot.fake_discord import FakeDiscord, Pending
from tests.fake_llm import FakeLLM, Reply, unused_port
from tests.generation_cases import (
    API_KEY,
    CASE_IDS,
    CASES,
    GOOD_EN,
    GOOD_JA,
    Q_EN,
    Q_JA,
    Case,
    expected_text,
)

TOKEN = "fake-token-for-generation-tests"
StartBot = Callable[..., Awaitable[FakeDiscord]]


@pytest.fixture()
def engine(generation_engine: Engine) -> Engine:
    """The shipped corpus plus the planted article (tests/conftest.py), built once per session."""
    return generation_engine


def settings_for(server: FakeDiscord, llm: FakeLLM, tmp_path: Path, case: Case | None = None) -> Settings:
    absent = case is not None and case.absent
    return Settings(DISCORD_TOKEN=TOKEN, discord_api_base=server.api_base,
                    discord_gateway_url=server.gateway_url, discord_cooldown_s=0,
                    feedback_db=tmp_path / "feedback.sqlite3", watch_index=False,
                    llm_base_url=f"http://127.0.0.1:{unused_port()}/v1" if absent else llm.base_url,
                    llm_model=llm.model, llm_api_key=API_KEY,
                    llm_timeout_s=case.timeout_s if case else 5.0)


@pytest.fixture()
async def start_bot(engine: Engine, llm: FakeLLM, tmp_path: Path) -> AsyncIterator[StartBot]:
    running: list[tuple[FakeDiscord, KijiBot, asyncio.Task[None]]] = []

    async def start(case: Case | None = None) -> FakeDiscord:
        server = FakeDiscord(token=TOKEN)
        await server.start()
        settings = settings_for(server, llm, tmp_path, case)
        bot = KijiBot(engine=engine, settings=settings, generator=load_generator(settings),
                      guild_ready_timeout=0.01)
        register(bot)
        task = asyncio.create_task(bot.start(read_token(settings)))
        running.append((server, bot, task))
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        return server

    yield start

    for server, bot, task in running:
        await bot.close()
        await asyncio.wait_for(task, 5)
        if bot.generator is not None:
            await bot.generator.aclose()
        await server.stop()
        assert server.violations == []
        for p in server.interactions.values():
            assert p.rejected == [] and p.ack_s is not None and p.ack_s < 3.0
    await asyncio.sleep(0)
    leaked = [task for task in asyncio.all_tasks() if task is not asyncio.current_task() and not task.done()]
    assert leaked == []  # no model request outlives its answer


def final_edit(p: Pending) -> dict[str, Any] | None:
    """The last edit that carries the buttons: the finished answer (drafts have none)."""
    done = [e for e in p.edits if e.get("components")]
    return done[-1] if done else None


def final_embed(p: Pending) -> dict[str, Any]:
    final = final_edit(p)
    assert final is not None and len(final["embeds"]) == 1
    embed: dict[str, Any] = final["embeds"][0]
    return embed


async def ask(server: FakeDiscord, question: str, **who: Any) -> Pending:
    p = await server.interact(server.slash("ask", {"question": question}, **who))
    await server.wait_until(lambda: final_edit(p), timeout=20)
    return p


def edit_times(server: FakeDiscord, p: Pending) -> list[float]:
    return [r.at for r in server.requests
            if r.method == "PATCH" and r.path.endswith(f"/{p.token}/messages/@original")]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_each_case(case: Case, start_bot: StartBot, engine: Engine, llm: FakeLLM,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "EDIT_INTERVAL_S", 0.05)
    llm.handler = case.script
    llm.requests.clear()
    server = await start_bot(case)
    p = await ask(server, case.question)
    embed = final_embed(p)
    extractive = engine.ask(case.question)
    # The same quote fields as without a model, verbatim, whatever happened to the answer text.
    assert embed["fields"] == answer_embed(extractive, "en").to_dict()["fields"]
    assert API_KEY not in str(p.edits)
    if case.reason is None:
        assert unescape(embed["description"]) == expected_text(case, llm.completions[-1].body)
        assert embed["footer"]["text"].endswith(t("generated_note", "en"))
    else:
        assert unescape(embed["description"]) == short_answer(extractive)
        assert embed["footer"]["text"].endswith(t("fallback_note", "en"))
    assert p.edits[-1] is final_edit(p)  # nothing overwrote the final answer


async def test_drafts_are_throttled_and_labelled(start_bot: StartBot, llm: FakeLLM) -> None:
    # About 3 s of trickling text: a draft edit at most once a second, then the final one.
    llm.handler = lambda body: Reply(text=GOOD_EN(body).text, chunk_chars=4, chunk_delay_s=0.12)
    server = await start_bot()
    p = await ask(server, Q_EN, locale="ja")
    drafts = [e for e in p.edits if not e.get("components")]
    assert len(drafts) >= 2
    for draft in drafts:
        embed = draft["embeds"][0]
        assert embed["footer"]["text"] == t("writing", "ja") and embed["description"].endswith(" …")
    texts = [unescape(d["embeds"][0]["description"])[:-2] for d in drafts]
    assert all(len(a) < len(b) for a, b in itertools.pairwise(texts))  # each draft shows more
    times = edit_times(server, p)
    assert len(times) == len(p.edits)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= live.EDIT_INTERVAL_S - 0.05, gaps
    assert unescape(final_embed(p)["description"]) == GOOD_EN(llm.completions[-1].body).text


async def test_a_draft_that_fails_verification_is_replaced(
        start_bot: StartBot, engine: Engine, llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "EDIT_INTERVAL_S", 0.05)
    llm.handler = lambda body: Reply(text=GOOD_JA(body).text.replace("11%", "23%"), chunk_chars=3,
                                     chunk_delay_s=0.03)
    server = await start_bot()
    p = await ask(server, Q_JA, locale="ja")
    drafts = [e for e in p.edits if not e.get("components")]
    assert drafts and any("23%" in d["embeds"][0]["description"] for d in drafts)
    final = final_embed(p)
    assert "23%" not in final["description"] and unescape(final["description"]) == short_answer(engine.ask(Q_JA))
    assert final["footer"]["text"].endswith(t("fallback_note", "ja"))


async def test_the_bot_built_by_run_uses_the_configured_model(
        engine: Engine, llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "EDIT_INTERVAL_S", 0.05)
    ready = asyncio.Event()
    on_ready = KijiBot.on_ready

    async def signal_ready(self: KijiBot) -> None:
        await on_ready(self)
        ready.set()

    monkeypatch.setattr(KijiBot, "on_ready", signal_ready)
    llm.handler = GOOD_EN
    server = FakeDiscord(token=TOKEN)
    await server.start()
    task = asyncio.create_task(run(settings_for(server, llm, tmp_path), engine, guild_ready_timeout=0.01))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        p = await ask(server, Q_EN)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await server.stop()
    assert final_embed(p)["footer"]["text"].endswith(t("generated_note", "en"))
