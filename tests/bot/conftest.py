"""Fixtures shared by this package's tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from kiji.bot.client import KijiBot
from kiji.bot.commands import register
from kiji.bot.main import read_token
from kiji.retrieval.engine import Engine
from kiji.settings import Settings
from tests.bot.fake_discord import FakeDiscord
from tests.bot.helpers import QUESTION_EN, QUESTION_JA, TOKEN, Harness, ScriptedEngine


@pytest.fixture(scope="module")
def engine(fake_engine: Engine) -> Engine:
    """The shipped engine code over the corpus with the fast fake embedder, warmed up so that lazy
    loading (tokenizer, dictionaries) happens here and not inside a test's timed wait."""
    fake_engine.ask(QUESTION_EN)
    fake_engine.ask(QUESTION_JA)
    return fake_engine


@pytest.fixture()
async def make_harness(engine: Engine, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    started: list[Harness] = []

    async def start(heartbeat_ms: int = 45_000, **overrides: Any) -> Harness:
        server = FakeDiscord(token=TOKEN, heartbeat_ms=heartbeat_ms)
        await server.start()
        values: dict[str, Any] = dict(DISCORD_TOKEN=TOKEN, discord_api_base=server.api_base,
                                      discord_gateway_url=server.gateway_url, discord_cooldown_s=0,
                                      feedback_db=tmp_path / "feedback.sqlite3")
        settings = Settings(**{**values, **overrides})
        scripted = ScriptedEngine(engine)
        bot = KijiBot(engine=scripted, settings=settings, guild_ready_timeout=0.01)
        register(bot)
        task = asyncio.create_task(bot.start(read_token(settings)))
        harness = Harness(server, bot, scripted, task)
        started.append(harness)
        await server.wait_until(lambda: server.identifies or task.done(), timeout=10)
        # READY is in; wait for on_ready too so no start-up task outlives a short test.
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        return harness

    yield start

    for h in started:
        await h.bot.close()
        await asyncio.wait_for(h.task, 5)
        await h.server.stop()
        assert h.server.violations == []
        for p in h.server.interactions.values():
            assert p.rejected == [], f"Discord would have rejected: {p.rejected}"
            if p.callback is not None:
                assert p.ack_s is not None and p.ack_s < 3.0
    await asyncio.sleep(0)
    leaked = [task for task in asyncio.all_tasks() if task is not asyncio.current_task() and not task.done()]
    assert leaked == [], [getattr(t, "_source_traceback", None) for t in leaked]
    # The endpoint overrides are undone when the client closes.
    assert Route.BASE == "https://discord.com/api/v10"
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


@pytest.fixture()
async def harness(make_harness: Callable[..., Awaitable[Harness]]) -> Harness:
    return await make_harness()
