"""Gateway sharding (KIJI_DISCORD_SHARDS, KIJI_DISCORD_SHARD_IDS) against the local Discord server:
a bot Discord calls large runs AutoShardedClient with Discord's count, a small one a plain client;
set ids run only those shards; every shard identifies and questions are answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest
from pydantic import ValidationError

from kiji.bot.client import KijiBot, ShardedKijiBot
from kiji.bot.main import run
from kiji.retrieval.engine import Engine
from kiji.settings import Settings
from tests.bot.fake_discord import FakeDiscord
from tests.bot.helpers import QUESTION_EN, TOKEN, assert_quotes_verbatim, embed_of, finished


@pytest.fixture()
def ready_bots(monkeypatch: pytest.MonkeyPatch) -> list[KijiBot]:
    """Each bot once discord.py calls it ready (a sharded one: all its shards are)."""
    bots: list[KijiBot] = []
    on_ready = KijiBot.on_ready

    async def capture(self: KijiBot) -> None:
        await on_ready(self)
        bots.append(self)

    monkeypatch.setattr(KijiBot, "on_ready", capture)
    return bots


@pytest.fixture()
async def running(engine: Engine, tmp_path: Path, ready_bots: list[KijiBot]) -> AsyncIterator[Any]:
    started: list[tuple[FakeDiscord, asyncio.Task[None]]] = []

    async def start(recommended: int = 1, **shard_settings: Any) -> tuple[FakeDiscord, KijiBot]:
        server = FakeDiscord(token=TOKEN, recommended_shards=recommended)
        await server.start()
        settings = Settings(DISCORD_TOKEN=TOKEN, discord_api_base=server.api_base,
                            discord_gateway_url=server.gateway_url, feedback_db=tmp_path / "fb.sqlite3",
                            watch_index=False, discord_cooldown_s=0, _env_file=None, **shard_settings)
        task = asyncio.create_task(run(settings, engine, guild_ready_timeout=0.01))
        started.append((server, task))
        # A second shard waits discord.py's 5 s between identifies (Discord's rate limit).
        await asyncio.wait_for(_until(lambda: ready_bots or task.done()), 20)
        assert not task.done(), task.exception()
        return server, ready_bots[-1]

    yield start

    for server, task in started:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await server.stop()
        assert server.violations == []


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.05)


async def _answers(server: FakeDiscord, engine: Engine) -> None:
    p = await server.interact(server.slash("ask", {"question": QUESTION_EN}))
    await server.wait_until(lambda: finished(p), timeout=15)
    embed = embed_of(p)
    assert embed["title"] == QUESTION_EN and embed["fields"]
    assert assert_quotes_verbatim(embed, engine)


def _gateway_asked(server: FakeDiscord) -> bool:
    return any(r.path == "/gateway/bot" for r in server.requests)


async def test_a_large_bot_gets_discords_shard_count(running: Any, engine: Engine) -> None:
    server, bot = await running(recommended=2)
    assert isinstance(bot, ShardedKijiBot) and isinstance(bot, discord.AutoShardedClient)
    assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
    assert sorted(server.shards_identified) == [[0, 2], [1, 2]]
    await _answers(server, engine)


async def test_a_small_bot_stays_one_plain_connection(running: Any, engine: Engine) -> None:
    server, bot = await running(recommended=1)
    assert type(bot) is KijiBot and not isinstance(bot, discord.AutoShardedClient)
    assert _gateway_asked(server) and server.shards_identified == [[0, 1]]
    await _answers(server, engine)


async def test_set_shard_ids_run_only_those_without_asking_discord(running: Any, engine: Engine) -> None:
    server, bot = await running(recommended=1, discord_shards="4", discord_shard_ids="2")
    assert isinstance(bot, ShardedKijiBot) and bot.shard_count == 4
    assert server.shards_identified == [[2, 4]] and not _gateway_asked(server)
    await _answers(server, engine)


def test_shard_settings_are_checked() -> None:
    def make(**values: Any) -> Settings:
        return Settings(_env_file=None, **values)

    assert make(discord_shards=" AUTO ").discord_shards == "auto"
    assert make(discord_shards="", discord_shard_ids="").discord_shards is None
    assert make(discord_shards="4", discord_shard_ids="0, 3").discord_shard_ids == [0, 3]
    for bad in ({"discord_shards": "0"}, {"discord_shards": "many"},
                {"discord_shard_ids": "1"}, {"discord_shards": "auto", "discord_shard_ids": "0"},
                {"discord_shards": "2", "discord_shard_ids": "2"},
                {"discord_shards": "2", "discord_shard_ids": "1,1"}):
        with pytest.raises(ValidationError):
            make(**bad)
