"""The real discord.py client against a local Discord stand-in (tests/fake_discord.py).

Each test starts the fake server and a ``KijiBot`` on the fake engine, sends interactions over the
gateway as Discord would, and checks what the bot sent back over REST. Teardown checks that every
acknowledgement came within 3 s, that nothing the bot sent broke a Discord limit, and that no task
was left running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from kiji.bot.client import AnswerCache, KijiBot, UserCooldown, apply_endpoints
from kiji.bot.commands import register
from kiji.bot.embeds import quote_text, unescape
from kiji.bot.i18n import t
from kiji.bot.main import MISSING_TOKEN, main, read_token, run
from kiji.errors import IndexMissing, InvalidInput, KijiError
from kiji.retrieval.engine import Engine
from kiji.retrieval.models import ArticleInfo, AskResult, Quote
from kiji.settings import Settings
from kiji.watcher import IndexWatcher
from tests.bot.fake_discord import FakeDiscord, Pending

TOKEN = "fake-token-for-tests"
QUESTION_EN = "What is DeepSeek?"
QUESTION_JA = "NVIDIAは時間外取引で何%下落しましたか?"
# The brief's "how do i fix a flat bike tire" is answered by the fake embedder's loose tuning (a weak
# n-gram match); this one is declined by the shipped decision rule (a term the corpus never mentions).
OFF_TOPIC = "What is the recipe for Okonomiyaki?"
LOCATION = re.compile(r" · (?:chars (\d+)–(\d+)|(\d+)〜(\d+)文字目)$")


@pytest.fixture(scope="module")
def engine(fake_engine: Engine) -> Engine:
    """The shipped engine code over the corpus with the fast fake embedder, warmed up so that lazy
    loading (tokenizer, dictionaries) happens here and not inside a test's timed wait."""
    fake_engine.ask(QUESTION_EN)
    fake_engine.ask(QUESTION_JA)
    return fake_engine


class ScriptedEngine:
    """The real engine, plus failures, delays, canned results or articles where a test needs them."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.errors: dict[str, BaseException] = {}
        self.results: dict[str, AskResult] = {}
        self.articles_list: list[ArticleInfo] | None = None
        self.delay_s = 0.0
        self.calls = 0

    def ask(self, question: str, *, top_k: int | None = None) -> AskResult:
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)  # blocking on purpose: it must not stall the event loop
        if question in self.errors:
            raise self.errors[question]
        if question in self.results:
            return self.results[question]
        return self.inner.ask(question, top_k=top_k)

    def articles(self) -> list[ArticleInfo]:
        return self.articles_list if self.articles_list is not None else self.inner.articles()


@dataclasses.dataclass
class Harness:
    server: FakeDiscord
    bot: KijiBot
    engine: ScriptedEngine
    task: asyncio.Task[None]

    async def send(self, payload: dict[str, Any], done: Callable[[Pending], Any] | None = None) -> Pending:
        pending = await self.server.interact(payload)
        await self.server.wait_until(lambda: (done or finished)(pending))
        return pending

    async def ask(self, question: str, **options: Any) -> Pending:
        who = {k: options.pop(k) for k in ("user_id", "locale", "guild_id") if k in options}
        return await self.send(self.server.slash("ask", {"question": question, **options}, **who))


def finished(p: Pending) -> bool:
    """The user sees a final message: a direct reply, an edit of the placeholder, or a follow-up."""
    if p.callback is None:
        return False
    return p.callback["type"] in (4, 7) or bool(p.edits) or bool(p.followups)


def reply(p: Pending) -> dict[str, Any]:
    if p.followups:
        return p.followups[-1]
    assert p.original is not None
    return p.original


def embed_of(p: Pending) -> dict[str, Any]:
    embeds = reply(p)["embeds"]
    assert len(embeds) == 1
    return embeds[0]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message["components"] for c in row["components"]]


def custom_id(message: dict[str, Any], prefix: str) -> str:
    return next(b["custom_id"] for b in buttons(message) if b["custom_id"].startswith(prefix))


def assert_quotes_verbatim(embed: dict[str, Any], engine: Engine) -> list[tuple[str, int]]:
    """Every field quotes its article word for word at the location its name gives."""
    by_title = {a.title: a for a in engine.index.articles.values()}
    seen = []
    for field in embed["fields"]:
        match = LOCATION.search(field["name"])
        assert match, field["name"]
        start = int(match.group(1) or match.group(3))
        title = unescape(re.sub(r"^\d+\. ", "", field["name"][:match.start()]))
        article = by_title[title]
        text, _cut = quote_text(field["value"])
        assert text and article.text[start:start + len(text)] == text
        seen.append((article.id, start))
    return seen


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


# --- answering -----------------------------------------------------------------------------------

async def test_login_sync_and_an_english_answer(harness: Harness, engine: Engine) -> None:
    server = harness.server
    paths = [(r.method, r.path) for r in server.requests]
    assert paths[:3] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me"),
                         ("PUT", f"/applications/{server.app_id}/commands")]
    commands = {c["name"]: c for c in server.commands[None]}
    assert set(commands) == {"ask", "sources", "help"}
    top_k = next(o for o in commands["ask"]["options"] if o["name"] == "top_k")
    assert (top_k["min_value"], top_k["max_value"]) == (1, 5)
    assert commands["ask"]["description_localizations"]["ja"]
    assert commands["ask"]["contexts"] == [0, 1]

    p = await harness.ask(QUESTION_EN)
    assert p.callback == {"type": 5, "data": {"flags": 64}} and p.ephemeral
    embed = embed_of(p)
    assert embed["title"] == QUESTION_EN and embed["description"].startswith("According to")
    assert len(embed["fields"]) == 3  # settings.top_k
    assert all(" · chars " in f["name"] for f in embed["fields"])
    assert_quotes_verbatim(embed, engine)
    assert engine.version in embed["footer"]["text"] and embed["footer"]["text"].endswith(" ms")
    labels = [b.get("label") or b["emoji"]["name"] for b in buttons(reply(p))]
    assert labels == ["More sources", "👍", "👎"]


async def test_japanese_question_in_a_japanese_client(harness: Harness, engine: Engine) -> None:
    p = await harness.ask(QUESTION_JA, top_k=5, locale="ja")
    embed = embed_of(p)
    assert embed["description"].startswith("記事")
    assert len(embed["fields"]) == 5 and all("文字目" in f["name"] for f in embed["fields"])
    assert_quotes_verbatim(embed, engine)
    assert "インデックス" in embed["footer"]["text"]
    assert buttons(reply(p))[0]["label"] == "その他の出典"


async def test_public_answer_is_visible_to_the_channel(harness: Harness) -> None:
    p = await harness.ask(QUESTION_EN, public=True, top_k=1)
    assert p.callback is not None and p.callback["type"] == 5 and not p.ephemeral
    assert len(embed_of(p)["fields"]) == 1


async def test_a_question_the_articles_do_not_cover(harness: Harness, fake_engine: Engine) -> None:
    assert not fake_engine.ask(OFF_TOPIC).answered, "pick another off-topic question"
    p = await harness.ask(OFF_TOPIC)
    embed = embed_of(p)
    assert unescape(embed["description"]) == t("not_covered", "en") and "fields" not in embed
    assert [b["emoji"]["name"] for b in buttons(reply(p))] == ["👍", "👎"]  # no "More sources"
    p = await harness.ask("自転車のパンクの直し方は?")
    assert unescape(embed_of(p)["description"]) == t("not_covered", "ja")


async def test_direct_message_interaction(harness: Harness, engine: Engine) -> None:
    payload = harness.server.slash("ask", {"question": QUESTION_EN}, guild_id=None, user_id=777)
    assert "user" in payload and "member" not in payload
    p = await harness.send(payload)
    assert_quotes_verbatim(embed_of(p), engine)
    p = await harness.send(harness.server.slash("help", guild_id=None, locale="ja"))
    assert "質問" in embed_of(p)["description"]


async def test_a_maximal_answer_is_accepted(harness: Harness) -> None:
    long_quote = ("とても長い*引用*" * 400)[:3000]
    quotes = [Quote(article_id=f"a{i}", title="タイトル" * 100, text=long_quote, start=0, end=3000,
                    score=1.0, chunk_id=i) for i in range(10)]
    harness.engine.results["max"] = AskResult(
        question="max", language="ja", answered=True, answer="答" * 9000, quotes=quotes[:5],
        more_quotes=quotes[5:], index_version="v" * 500, took_ms=1.0)
    p = await harness.ask("max", top_k=5)
    assert len(embed_of(p)["fields"]) == 5
    more = await harness.send(harness.server.click(reply(p), custom_id(reply(p), "kiji:more:")))
    assert len(embed_of(more)["fields"]) == 5  # the fake server rejects anything over a limit


# --- buttons -------------------------------------------------------------------------------------

async def test_more_sources_pages_through_further_quotes(harness: Harness, engine: Engine) -> None:
    p = await harness.ask(QUESTION_JA, top_k=2, locale="ja")
    first = assert_quotes_verbatim(embed_of(p), engine)
    more = await harness.send(harness.server.click(reply(p), custom_id(reply(p), "kiji:more:"), locale="ja"))
    assert more.callback is not None and more.callback["type"] == 4 and more.ephemeral
    embed = embed_of(more)
    assert [f["name"].split(".")[0] for f in embed["fields"]] == ["3", "4"]
    second = assert_quotes_verbatim(embed, engine)
    assert not set(first) & set(second)
    again = await harness.send(harness.server.click(reply(more), custom_id(reply(more), "kiji:more:")))
    assert [f["name"].split(".")[0] for f in embed_of(again)["fields"]] == ["5", "6"]


async def test_feedback_votes_are_stored_and_replaced(harness: Harness) -> None:
    p = await harness.ask(QUESTION_EN)
    message = reply(p)
    up, down = custom_id(message, "kiji:vote:up:"), custom_id(message, "kiji:vote:down:")
    answer_id = up.rsplit(":", 1)[1]
    first = await harness.send(harness.server.click(message, up, user_id=1))
    assert reply(first)["content"] == t("vote_saved", "en") and first.ephemeral
    second = await harness.send(harness.server.click(message, down, user_id=1, locale="ja"))
    assert reply(second)["content"] == t("vote_replaced", "ja")
    await harness.send(harness.server.click(message, up, user_id=2))
    rows = harness.bot.feedback.rows(answer_id)
    assert [r.vote for r in rows] == ["down", "up"]
    assert rows[0].question == QUESTION_EN and rows[0].language == "en" and rows[0].answered
    result = harness.bot.answers.get(answer_id).result  # type: ignore[union-attr]
    assert rows[0].quote_ids == [f"{q.article_id}:{q.start}-{q.end}" for q in result.quotes]
    assert "1" not in {r.user_hash for r in rows} and len(rows[0].user_hash) == 64


async def test_buttons_on_an_answer_the_bot_no_longer_holds(harness: Harness) -> None:
    p = await harness.ask(QUESTION_EN)
    harness.bot.answers = AnswerCache()  # as after a restart
    for prefix in ("kiji:more:", "kiji:vote:up:"):
        press = await harness.send(harness.server.click(reply(p), custom_id(reply(p), prefix)))
        assert reply(press)["content"] == t("expired", "en") and press.ephemeral
    assert harness.bot.feedback.rows() == []


async def test_sources_lists_and_pages(harness: Harness, engine: Engine) -> None:
    p = await harness.send(harness.server.slash("sources"))
    embed = embed_of(p)
    assert p.ephemeral and reply(p)["components"] == []
    for article in engine.articles():
        assert article.id in embed["description"] and f"{article.chunks} chunks" in embed["description"]
    harness.engine.articles_list = [
        ArticleInfo(id=f"id{i:02d}", title=f"Article {i}", chunks=i, source="s", chars=1) for i in range(25)]
    p = await harness.send(harness.server.slash("sources", {"page": 2}, locale="ja"))
    assert "2/3" in embed_of(p)["footer"]["text"] and "id10" in embed_of(p)["description"]
    nxt = await harness.send(harness.server.click(reply(p), custom_id(reply(p), "kiji:src:n:")))
    assert nxt.callback is not None and nxt.callback["type"] == 7
    assert "3/3" in embed_of(nxt)["footer"]["text"] and "id24" in embed_of(nxt)["description"]
    assert [b.get("disabled", False) for b in buttons(reply(nxt))] == [False, True]


async def test_help_follows_the_locale(harness: Harness) -> None:
    en = await harness.send(harness.server.slash("help"))
    ja = await harness.send(harness.server.slash("help", locale="ja"))
    assert "/ask" in embed_of(en)["description"] and "question" in embed_of(en)["description"]
    assert "質問" in embed_of(ja)["description"] and en.ephemeral and ja.ephemeral


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


@pytest.mark.parametrize(("options", "key"), [({"top_k": 9}, "top_k_range"), ({"top_k": 0}, "top_k_range"),
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
    harness.engine.delay_s = 1.0
    started = time.monotonic()
    p = await harness.ask(QUESTION_EN)
    assert p.ack_s is not None and p.ack_s < 0.5  # acknowledged before the retrieval ran
    beats = [b for b in harness.server.heartbeats if b >= started]
    assert len(beats) >= 5
    assert max(b - a for a, b in zip(beats, beats[1:], strict=False)) < 0.5


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


# --- start-up ------------------------------------------------------------------------------------

def test_missing_token_fails_clearly_before_loading_anything(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("KIJI_DISCORD_TOKEN", raising=False)
    settings = Settings(index_dir=tmp_path / "none", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(InvalidInput, match="DISCORD_TOKEN is not set"):
        main(settings)
    with pytest.raises(InvalidInput) as err:
        read_token(Settings(DISCORD_TOKEN="   ", _env_file=None))  # type: ignore[call-arg]
    assert str(err.value) == MISSING_TOKEN


def test_main_loads_the_engine_once_and_runs_the_bot(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    import kiji.bot.main as bot_main

    loads: list[Settings] = []
    ran: list[Any] = []
    monkeypatch.setattr(bot_main, "load_engine", lambda settings: loads.append(settings) or engine)

    async def fake_run(settings: Settings, *, watcher: IndexWatcher) -> None:
        ran.append(watcher.engine)

    monkeypatch.setattr(bot_main, "run", fake_run)
    settings = Settings(DISCORD_TOKEN=TOKEN, _env_file=None)  # type: ignore[call-arg]
    main(settings)
    assert loads == [settings] and ran == [engine]


def test_endpoints_change_only_when_set() -> None:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    restore = apply_endpoints(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == (base, gateway)
    restore()
    restore = apply_endpoints(Settings(discord_api_base="http://127.0.0.1:9/api/v10/",
                                       discord_gateway_url="ws://127.0.0.1:9/gw", _env_file=None))  # type: ignore
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
    settings = Settings(DISCORD_TOKEN=TOKEN, discord_api_base=server.api_base,  # type: ignore[call-arg]
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
    settings = Settings(DISCORD_TOKEN=wrong, discord_api_base=server.api_base,  # type: ignore[call-arg]
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
