"""The bot under handler errors, cooldowns, bad options, gateway drops and slow retrievals."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from kiji.bot.i18n import t
from kiji.errors import IndexMissing
from kiji.retrieval.engine import Engine
from tests.bot.fake_discord import Pending
from tests.bot.helpers import (
    QUESTION_EN,
    QUESTION_JA,
    Harness,
    assert_quotes_verbatim,
    embed_of,
    finished,
    reply,
)

# --- robustness ----------------------------------------------------------------------------------

async def test_a_handler_error_is_an_apology_and_the_bot_goes_on(
        harness: Harness, engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    harness.engine.errors["boom"] = RuntimeError("engine exploded")
    harness.engine.errors["no index"] = IndexMissing("no index yet")
    with caplog.at_level(logging.ERROR, logger="kiji.bot"):
        p = await harness.ask("boom", locale="ja")
    assert reply(p)["content"] == t("apology", "ja") and p.ephemeral and reply(p)["embeds"] == []
    assert any("failed" in r.getMessage() and r.exc_info for r in caplog.records)
    public = await harness.ask("boom", public=True)
    assert public.deleted and public.followups[-1]["content"] == t("apology", "en")
    assert public.followups[-1]["flags"] & 64
    p = await harness.ask("no index")
    assert reply(p)["content"] == t("index_unavailable", "en")
    p = await harness.ask(QUESTION_EN)
    assert_quotes_verbatim(embed_of(p), engine)


async def test_per_user_cooldown(make_harness: Callable[..., Awaitable[Harness]]) -> None:
    harness = await make_harness(discord_cooldown_s=30)
    assert embed_of(await harness.ask(QUESTION_EN, user_id=5))
    p = await harness.ask(QUESTION_EN, user_id=5, locale="ja")
    assert p.callback is not None and p.callback["type"] == 4 and p.ephemeral
    assert reply(p)["content"] in {t("cooldown", "ja", seconds=s) for s in (29, 30)}
    assert embed_of(await harness.ask(QUESTION_EN, user_id=6))  # other users are not held up
    assert harness.engine.calls == 2


@pytest.mark.parametrize(("options", "key"), [({"quotes": 9}, "quotes_range"), ({"quotes": 0}, "quotes_range"),
                                              ({"question": "   "}, "empty_question")])
async def test_bad_options_get_a_clear_private_error(harness: Harness, options: dict[str, Any], key: str) -> None:
    payload = harness.server.slash("ask", {"question": QUESTION_EN, **options})
    p = await harness.send(payload)
    assert p.callback is not None and p.callback["type"] == 4 and p.ephemeral
    assert reply(p)["content"] == t(key, "en", max=5)
    assert harness.engine.calls == 0


async def test_too_long_question(make_harness: Callable[..., Awaitable[Harness]]) -> None:
    harness = await make_harness(max_question_chars=20)
    p = await harness.ask("x" * 21, locale="ja")
    assert reply(p)["content"] == t("too_long", "ja", length=21, max=20)


async def test_gateway_resume_after_a_drop_and_a_reconnect_request(harness: Harness, engine: Engine) -> None:
    server = harness.server
    server.accepting.clear()  # hold the reconnection so the next event has to be replayed
    await server.drop_connection(4000)
    pending = await server.interact(server.slash("ask", {"question": QUESTION_EN}))
    server.accepting.set()
    # Sent while the bot was away: replayed after RESUME, and still answered within 3 s.
    await server.wait_until(lambda: finished(pending))
    assert_quotes_verbatim(embed_of(pending), engine)
    assert server.resumes == 1 and server.identifies == 1 and server.replayed == 1
    await server.request_reconnect()
    await server.wait_until(lambda: server.resumes == 2)
    p = await harness.ask(QUESTION_JA)
    assert_quotes_verbatim(embed_of(p), engine)
    assert server.identifies == 1


async def test_heartbeats_go_on_during_a_slow_retrieval(make_harness: Callable[..., Awaitable[Harness]]) -> None:
    harness = await make_harness(heartbeat_ms=100)
    harness.engine.delay_s = 2.0
    started = time.monotonic()
    p = await harness.ask(QUESTION_EN)
    assert p.ack_s is not None and p.ack_s < 1.5  # acknowledged before the 2 s retrieval ran
    beats = [b for b in harness.server.heartbeats if b >= started]
    assert len(beats) >= 5
    assert max(b - a for a, b in zip(beats, beats[1:], strict=False)) < 1.0  # a blocked loop: a 2 s gap


async def test_commands_sync_to_configured_guilds(make_harness: Callable[..., Awaitable[Harness]],
                                                  engine: Engine) -> None:
    harness = await make_harness(discord_guild_ids="555,556")
    assert set(harness.server.commands) == {"555", "556"}
    p = await harness.ask(QUESTION_EN, guild_id=555)
    assert_quotes_verbatim(embed_of(p), engine)


async def test_the_fake_server_rejects_a_late_acknowledgement(harness: Harness) -> None:
    pending = Pending(id="1", token="late", payload={}, sent_at=time.monotonic() - 3.5)
    harness.server.interactions["late"] = pending
    async with aiohttp.ClientSession() as session:
        url = f"{harness.server.api_base}/interactions/1/late/callback?with_response=1"
        async with session.post(url, json={"type": 5}) as resp:
            assert resp.status == 404 and (await resp.json())["code"] == 10062
            assert resp.headers["Content-Type"] == "application/json"
    del harness.server.interactions["late"]
