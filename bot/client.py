"""The Discord client: owns the command tree, the engine, the answer cache and the cooldowns.

Shaped like discord.py's ``examples/advanced_startup.py``: ``main()`` builds the expensive parts
(the Engine) and hands them in; ``setup_hook`` registers commands and syncs them before the gateway
connects. Nothing here answers questions: retrieval is ``Engine.ask``, run in a worker thread so the
event loop (and with it the gateway heartbeat) never waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
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

from kiji.bot.embeds import fit_content
from kiji.bot.feedback import FeedbackStore
from kiji.bot.i18n import KijiTranslator, Lang, lang_of, t
from kiji.errors import IndexUnavailable, InvalidInput, KijiError, RateLimited
from kiji.settings import Settings
from kiji.retrieval.models import ArticleInfo, AskResult
from kiji.retrieval.index.store import current_version

log = logging.getLogger("kiji.bot")

#: Retrievals running at once; more wait their turn (each interaction is already deferred, so
#: waiting costs nothing but time, and the CPU is not oversubscribed by a burst of questions).
MAX_CONCURRENT_ASKS = 2
#: Answers kept for "More sources" and feedback. Older ones get a polite "ask again".
ANSWER_CACHE_SIZE = 2048


class EngineLike(Protocol):
    def ask(self, question: str, *, top_k: int | None = None) -> AskResult: ...

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


# --- replies that must never fail ---------------------------------------------------------------

#: ``interaction.extras`` key: "public"/"private" while a deferred "thinking…" placeholder stands.
THINKING = "kiji_thinking"


async def defer(interaction: discord.Interaction[Any], *, ephemeral: bool) -> None:
    """Acknowledge at once (Discord allows 3 s) with a "thinking…" placeholder to edit later."""
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    interaction.extras[THINKING] = "private" if ephemeral else "public"


async def send_private(interaction: discord.Interaction[Any], text: str) -> None:
    """Tell only this user ``text``, whatever state the interaction is in; never raises."""
    text = fit_content(text)
    try:
        thinking = interaction.extras.pop(THINKING, None)
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
        elif thinking == "private":
            await interaction.edit_original_response(content=text, embeds=[], view=None)
        elif thinking == "public":
            # Editing would show the error to the channel: drop the placeholder, reply privately.
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                pass
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as exc:  # e.g. the 15-minute token expired; nothing more to do
        log.warning("could not reply to interaction %s: HTTP %s (code %s)", interaction.id, exc.status, exc.code)


def error_message(error: BaseException, lang: Lang) -> str:
    """The user-facing text for an error; unexpected ones are logged by the caller."""
    if isinstance(error, app_commands.CommandOnCooldown):
        return t("cooldown", lang, seconds=max(1, math.ceil(error.retry_after)))
    if isinstance(error, RateLimited):
        return t("cooldown", lang, seconds=max(1, math.ceil(error.retry_after)))
    if isinstance(error, InvalidInput):
        return t("invalid_input", lang, detail=error.message)
    if isinstance(error, IndexUnavailable):
        return t("index_unavailable", lang)
    return t("apology", lang)


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """The one place handler errors end: a log line and a private reply in the user's language."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    name = interaction.command.qualified_name if interaction.command else (
        (interaction.data or {}).get("custom_id", "?"))
    if isinstance(error, (RateLimited, app_commands.CommandOnCooldown, InvalidInput)):
        log.info("interaction %s (%s): %s", interaction.id, name, type(error).__name__)
    elif isinstance(error, KijiError):
        log.error("interaction %s (%s) failed: %s", interaction.id, name, error)
    else:
        log.error("interaction %s (%s) failed", interaction.id, name, exc_info=error)
    await send_private(interaction, error_message(error, lang_of(interaction.locale)))


class KijiTree(app_commands.CommandTree["KijiBot"]):
    async def on_error(self, interaction: discord.Interaction[KijiBot],  # type: ignore[override]
                       error: app_commands.AppCommandError) -> None:
        await report_error(interaction, error)


class KijiBot(discord.Client):
    def __init__(self, *, engine: EngineLike, settings: Settings, feedback: FeedbackStore | None = None,
                 **options: Any) -> None:
        # Slash commands and buttons arrive whatever the intents; guilds keeps channel data sane.
        intents = discord.Intents.none()
        intents.guilds = True
        # The bot never joins voice: skip discord.py's start-up warnings about voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(intents=intents, **options)
        self.engine = engine
        self.settings = settings
        self.tree = KijiTree(self)
        self.answers = AnswerCache()
        self.cooldown = UserCooldown(settings.discord_cooldown_s)
        salt = settings.feedback_salt.get_secret_value() if settings.feedback_salt else None
        self.feedback = feedback or FeedbackStore(settings.feedback_db, salt=salt)
        self._ask_slots = asyncio.Semaphore(MAX_CONCURRENT_ASKS)
        self._restore_endpoints: Callable[[], None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._rejected_version: str | None = None

    async def login(self, token: str) -> None:
        # Endpoints must be in place before the first REST call, which login itself makes.
        if self._restore_endpoints is None:
            self._restore_endpoints = apply_endpoints(self.settings)
        await super().login(token)

    async def setup_hook(self) -> None:
        from kiji.bot.commands import register

        register(self)
        if self.settings.watch_index and hasattr(self.engine, "on_current_version"):
            self._watcher = asyncio.create_task(self._watch_index(), name="kiji-bot-index-watch")
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

    async def ask(self, question: str, top_k: int) -> AskResult:
        async with self._ask_slots:
            return await asyncio.to_thread(self.engine.ask, question, top_k=top_k)

    async def articles(self) -> list[ArticleInfo]:
        return await asyncio.to_thread(self.engine.articles)

    async def check_index(self) -> str | None:
        """Serve the version ``CURRENT`` names if it is new and loads; return the version served.

        A rebuilt index reaches the bot as it reaches the API: loaded beside the old one in a
        worker thread, swapped in with one assignment (an answer in progress keeps its engine).
        A version that fails to load is logged and skipped until ``CURRENT`` changes again."""
        engine: Any = self.engine
        candidate = await asyncio.to_thread(current_version, self.settings.index_dir)
        if candidate is None or candidate in (engine.version, self._rejected_version):
            return engine.version
        try:
            self.engine = await asyncio.to_thread(engine.on_current_version, self.settings.index_dir,
                                                  mmap=self.settings.index_mmap)
        except KijiError as exc:
            self._rejected_version = candidate
            log.error("index version %s rejected, still serving %s: %s", candidate, engine.version, exc)
            return engine.version
        self._rejected_version = None
        log.info("now serving index version %s (was %s)", self.engine.version, engine.version)  # type: ignore[attr-defined]
        return self.engine.version  # type: ignore[attr-defined]

    async def _watch_index(self) -> None:
        while not self.is_closed():
            await asyncio.sleep(self.settings.watch_interval_s)
            try:
                await self.check_index()
            except Exception:  # the watcher must outlive any one bad check
                log.exception("index watch check failed")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        try:
            await super().close()
        finally:
            if self._restore_endpoints is not None:
                self._restore_endpoints()
                self._restore_endpoints = None
