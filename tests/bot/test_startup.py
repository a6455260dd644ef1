"""`kiji bot` start-up: the token, loading the engine once, endpoints, running until cancelled."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from kiji.bot.client import AnswerCache, KijiBot, UserCooldown, apply_endpoints
from kiji.bot.main import MISSING_TOKEN, main, read_token, run
from kiji.errors import InvalidInput, KijiError
from kiji.retrieval.engine import Engine
from kiji.retrieval.models import AskResult
from kiji.settings import Settings
from kiji.watcher import IndexWatcher
from tests.bot.fake_discord import FakeDiscord
from tests.bot.helpers import TOKEN, finished

# --- start-up ------------------------------------------------------------------------------------

def test_missing_token_fails_clearly_before_loading_anything(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("KIJI_DISCORD_TOKEN", raising=False)
    settings = Settings(index_dir=tmp_path / "none", _env_file=None)
    with pytest.raises(InvalidInput, match="DISCORD_TOKEN is not set"):
        main(settings)
    with pytest.raises(InvalidInput) as err:
        read_token(Settings(DISCORD_TOKEN="   ", _env_file=None))
    assert str(err.value) == MISSING_TOKEN


def test_main_loads_the_engine_once_and_runs_the_bot(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    import kiji.bot.main as bot_main

    loads: list[Settings] = []
    ran: list[Any] = []
    def load_engine(settings: Settings) -> Engine:
        loads.append(settings)
        return engine

    monkeypatch.setattr(bot_main, "load_engine", load_engine)

    async def fake_run(settings: Settings, *, watcher: IndexWatcher) -> None:
        ran.append(watcher.engine)

    monkeypatch.setattr(bot_main, "run", fake_run)
    settings = Settings(DISCORD_TOKEN=TOKEN, _env_file=None)
    main(settings)
    assert loads == [settings] and ran == [engine]


def test_endpoints_change_only_when_set() -> None:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    restore = apply_endpoints(Settings(_env_file=None))
    assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == (base, gateway)
    restore()
    restore = apply_endpoints(Settings(discord_api_base="http://127.0.0.1:9/api/v10/",
                                       discord_gateway_url="ws://127.0.0.1:9/gw", _env_file=None))
    assert Route.BASE == "http://127.0.0.1:9/api/v10" and str(DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:9/gw"
    restore()
    assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == (base, gateway)


async def test_run_serves_until_cancelled(engine: Engine, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    ready = asyncio.Event()
    on_ready = KijiBot.on_ready

    async def signal_ready(self: KijiBot) -> None:
        await on_ready(self)
        ready.set()

    # Cancelling before on_ready has run would leave its never-started task behind.
    monkeypatch.setattr(KijiBot, "on_ready", signal_ready)
    server = FakeDiscord(token=TOKEN)
    await server.start()
    settings = Settings(DISCORD_TOKEN=TOKEN, discord_api_base=server.api_base,
                        discord_gateway_url=server.gateway_url, feedback_db=tmp_path / "fb.sqlite3")
    task = asyncio.create_task(run(settings, engine, guild_ready_timeout=0.01))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        p = await server.interact(server.slash("help"))
        await server.wait_until(lambda: finished(p))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await server.stop()
    assert Route.BASE == "https://discord.com/api/v10"


async def test_a_rejected_token_is_a_clear_error_without_the_token(engine: Engine, tmp_path: Path) -> None:
    server = FakeDiscord(token=TOKEN)
    await server.start()
    wrong = "wrong-token-1234567890"
    settings = Settings(DISCORD_TOKEN=wrong, discord_api_base=server.api_base,
                        discord_gateway_url=server.gateway_url, feedback_db=tmp_path / "fb.sqlite3")
    try:
        with pytest.raises(KijiError, match="rejected the bot token") as err:
            await run(settings, engine)
    finally:
        await server.stop()
    assert wrong not in str(err.value) and err.value.__cause__ is None
    assert Route.BASE == "https://discord.com/api/v10"


def test_cooldown_and_cache_units() -> None:
    now = [100.0]
    cooldown = UserCooldown(10, clock=lambda: now[0])
    assert cooldown.hit(1) == 0.0 and cooldown.hit(1) == pytest.approx(10.0)
    now[0] += 4
    assert cooldown.hit(1) == pytest.approx(6.0) and cooldown.hit(2) == 0.0
    now[0] += 6
    assert cooldown.hit(1) == 0.0
    assert UserCooldown(0).hit(1) == 0.0 and UserCooldown(0).hit(1) == 0.0
    cache = AnswerCache(maxsize=2)
    result = AskResult(question="q", language="en", answered=False, answer="a", quotes=[], index_version="v")
    a, b = cache.put(result, 3), cache.put(result, 3)
    cache.get(a)  # refreshes a, so b is the oldest
    c = cache.put(result, 3)
    assert cache.get(b) is None and cache.get(a) and cache.get(c) and len(cache) == 2
