"""The Discord client: owns the command tree, the engine, the answer cache and the cooldowns.

Shaped like discord.py's ``examples/advanced_startup.py``: ``main()`` builds the expensive parts
(the engine and its index watcher) and hands them in, ``kiji.bot.commands.register`` adds the
commands, and ``setup_hook`` syncs them before the gateway connects. Nothing here answers
questions: retrieval is ``Engine.ask``, run in a worker thread so the event loop (and with it the
gateway heartbeat) never waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from kiji.bot.i18n import KijiTranslator
from kiji.bot.replies import report_error
from kiji.errors import IndexMissing
from kiji.feedback import FeedbackStore
from kiji.retrieval.generation.answerer import Generator
from kiji.retrieval.models import ArticleInfo, AskResult
from kiji.settings import Settings
from kiji.watcher import IndexWatcher

log = logging.getLogger("kiji.bot")

#: Retrievals running at once; more wait their turn (each interaction is already deferred, so
#: waiting costs nothing but time, and the CPU is not oversubscribed by a burst of questions).
MAX_CONCURRENT_ASKS = 2
#: Answers kept for "More sources" and feedback. Older ones get a polite "ask again".
ANSWER_CACHE_SIZE = 2048


class EngineLike(Protocol):
    def ask(self, question: str, *, top_k: int | None = None, article: str | None = None) -> AskResult: ...

    def articles(self) -> list[ArticleInfo]: ...


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    result: AskResult
    top_k: int


class AnswerCache:
    """A bounded LRU of recent answers keyed by a random id that goes into button custom_ids."""

    def __init__(self, maxsize: int = ANSWER_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[str, CachedAnswer] = OrderedDict()

    def put(self, result: AskResult, top_k: int) -> str:
        answer_id = secrets.token_hex(8)
        self._items[answer_id] = CachedAnswer(result, top_k)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return answer_id

    def get(self, answer_id: str) -> CachedAnswer | None:
        item = self._items.get(answer_id)
        if item is not None:
            self._items.move_to_end(answer_id)
        return item

    def __len__(self) -> int:
        return len(self._items)


class UserCooldown:
    """At most one question per user every ``per_s`` seconds (0 disables it)."""

    def __init__(self, per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s = per_s
        self._clock = clock
        self._last: dict[int, float] = {}

    def hit(self, user_id: int) -> float:
        """Seconds left to wait, or 0.0 after recording this use."""
        if self.per_s <= 0:
            return 0.0
        now = self._clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.per_s:
            return self.per_s - (now - last)
        self._last[user_id] = now
        if len(self._last) > 10_000:  # forget users whose cooldown has long expired
            self._last = {u: t for u, t in self._last.items() if now - t < self.per_s}
        return 0.0


def apply_endpoints(settings: Settings) -> Callable[[], None]:
    """Point discord.py at another REST base / gateway, only where settings say so.

    Both are class attributes in discord.py (``Route.BASE``, ``DiscordWebSocket.DEFAULT_GATEWAY``);
    with neither set nothing changes and the bot talks to Discord itself. Returns an undo function.
    """
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    if settings.discord_api_base:
        Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)

    def restore() -> None:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway

    return restore


class KijiTree(app_commands.CommandTree["KijiBot"]):
    async def on_error(self, interaction: discord.Interaction[KijiBot],
                       error: app_commands.AppCommandError) -> None:
        await report_error(interaction, error)


class KijiBot(discord.Client):
    """Answers with ``engine``, or with the engine ``watcher`` serves now (which follows index
    rebuilds as the API does; ``kiji bot`` passes one)."""

    def __init__(self, *, settings: Settings, engine: EngineLike | None = None,
                 watcher: IndexWatcher | None = None, feedback: FeedbackStore | None = None,
                 generator: Generator | None = None, **options: Any) -> None:
        if (engine is None) == (watcher is None):
            raise TypeError("KijiBot needs an engine or an index watcher (one of them)")
        # Slash commands and buttons arrive whatever the intents; guilds keeps channel data sane.
        intents = discord.Intents.none()
        intents.guilds = True
        # The bot never joins voice: skip discord.py's start-up warnings about voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(intents=intents, **options)
        self._engine = engine
        self.watcher = watcher
        self.settings = settings
        #: The optional language model that writes answers from the quotes (None: extractive only).
        self.generator = generator
        self.tree = KijiTree(self)
        self.answers = AnswerCache()
        self.cooldown = UserCooldown(settings.discord_cooldown_s)
        salt = settings.feedback_salt.get_secret_value() if settings.feedback_salt else None
        self.feedback = feedback or FeedbackStore(settings.feedback_db, salt=salt)
        self._ask_slots = asyncio.Semaphore(MAX_CONCURRENT_ASKS)
        self._restore_endpoints: Callable[[], None] | None = None
        self._watching: asyncio.Task[None] | None = None

    @property
    def engine(self) -> EngineLike:
        """The engine to answer with now; an answer in progress keeps the one it started with."""
        if self.watcher is None:
            assert self._engine is not None
            return self._engine
        if self.watcher.engine is None:
            raise self.watcher.unavailable or IndexMissing("no index is loaded")
        return self.watcher.engine

    async def login(self, token: str) -> None:
        # Endpoints must be in place before the first REST call, which login itself makes.
        if self._restore_endpoints is None:
            self._restore_endpoints = apply_endpoints(self.settings)
        await super().login(token)

    async def setup_hook(self) -> None:
        # Commands are registered by whoever built the bot (kiji.bot.commands.register).
        if self.watcher is not None and self.settings.watch_index:
            self._watching = asyncio.create_task(self.watcher.run(), name="kiji-bot-index-watch")
        await self.tree.set_translator(KijiTranslator())
        try:
            if self.settings.discord_guild_ids:
                # Guild commands appear at once; global ones can take a while to propagate.
                for guild_id in self.settings.discord_guild_ids:
                    guild = discord.Object(id=guild_id)
                    self.tree.copy_global_to(guild=guild)
                    synced = await self.tree.sync(guild=guild)
                    log.info("synced %d commands to guild %s", len(synced), guild_id)
            else:
                synced = await self.tree.sync()
                log.info("synced %d global commands", len(synced))
        except discord.HTTPException as exc:
            # Discord keeps the last synced commands, so the bot can still serve them.
            log.error("command sync failed (%s %s); continuing with the commands Discord has",
                      exc.status, exc.code)

    async def on_ready(self) -> None:
        log.info("connected as %s (id %s)", self.user, self.user.id if self.user else "?")

    async def on_resumed(self) -> None:
        log.info("gateway session resumed")

    async def ask(self, question: str, top_k: int, article: str | None = None) -> AskResult:
        async with self._ask_slots:
            if article is None:
                return await asyncio.to_thread(self.engine.ask, question, top_k=top_k)
            return await asyncio.to_thread(self.engine.ask, question, top_k=top_k, article=article)

    async def articles(self) -> list[ArticleInfo]:
        return await asyncio.to_thread(self.engine.articles)

    async def close(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watching
            self._watching = None
        try:
            await super().close()
        finally:
            if self._restore_endpoints is not None:
                self._restore_endpoints()
                self._restore_endpoints = None


class ShardedKijiBot(KijiBot, discord.AutoShardedClient):
    """``KijiBot`` over several gateway connections (``shard_count``, ``shard_ids``): Discord
    requires shards past 2,500 servers. Each shard carries its servers' events; answers go over
    REST as before, so nothing else changes."""
