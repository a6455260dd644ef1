"""``kiji bot``: check the token, load the Engine once, run the Discord client until stopped.

The token comes only from settings (``DISCORD_TOKEN``) and is read with ``get_secret_value()`` at
the one place it is handed to discord.py; it is never logged nor put into an error message.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from kiji.bot.client import EngineLike, KijiBot, ShardedKijiBot, apply_endpoints
from kiji.bot.commands import register
from kiji.bot.network import quiet_reconnect_logs, recommended_shards, start
from kiji.errors import InvalidInput
from kiji.feedback import FeedbackStore
from kiji.runtime import load_engine, load_generator
from kiji.settings import Settings
from kiji.watcher import IndexWatcher

log = logging.getLogger("kiji.bot")

MISSING_TOKEN = (
    "DISCORD_TOKEN is not set: create an application and bot at "
    "https://discord.com/developers/applications, copy the bot token and export DISCORD_TOKEN"
)


def read_token(settings: Settings) -> str:
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        raise InvalidInput(MISSING_TOKEN)
    return token


async def run(settings: Settings, engine: EngineLike | None = None, *,
              watcher: IndexWatcher | None = None, **options: Any) -> None:
    """Run the bot until it is closed, answering with ``engine`` or the engine ``watcher`` serves;
    ``options`` go to ``discord.Client`` (tests pass timeouts). Network failures at start end it
    with a named error; later ones are retried (``kiji.bot.network``)."""
    token = read_token(settings)
    if "feedback" not in options:  # a damaged feedback database is named before any network call
        salt = settings.feedback_salt.get_secret_value() if settings.feedback_salt else None
        options["feedback"] = FeedbackStore(settings.feedback_db, salt=salt)
    generator = load_generator(settings)
    quiet_reconnect_logs()
    try:
        shards = await shard_options(settings, token)
        bot_class = KijiBot if shards is None else ShardedKijiBot
        async with bot_class(engine=engine, watcher=watcher, settings=settings, generator=generator,
                             **(shards or {}), **options) as bot:
            register(bot)
            await start(bot, token)
    finally:
        if generator is not None:
            await generator.aclose()


async def shard_options(settings: Settings, token: str) -> dict[str, Any] | None:
    """``None``: one plain connection; else ``AutoShardedClient``'s ``shard_count`` (and
    ``shard_ids``). Unset settings follow Discord's recommendation: more than one shard means a
    large bot. The count is always passed on, so the gateway stays the one the settings name."""
    if settings.discord_shards not in (None, "auto"):
        return {"shard_count": int(settings.discord_shards), "shard_ids": settings.discord_shard_ids or None}
    restore = apply_endpoints(settings)
    try:
        count = await recommended_shards(token)
    finally:
        restore()
    if settings.discord_shards is None and count <= 1:
        return None
    log.info("running %d gateway shard(s) (Discord recommends %d)", count, count)
    return {"shard_count": count}


def main(settings: Settings) -> None:
    """Entry point for ``kiji bot`` (the CLI turns a KijiError into a one-line message)."""
    read_token(settings)  # fail before the slow model load when the token is missing
    engine = load_engine(settings)
    engine.warm_up()
    log.info("engine loaded: index %s", engine.version)
    try:
        asyncio.run(_run_until_signalled(settings, IndexWatcher(settings, engine=engine)))
    except KeyboardInterrupt:  # Ctrl-C: asyncio.run has already cancelled and closed the client
        log.info("stopped")


async def _run_until_signalled(settings: Settings, watcher: IndexWatcher) -> None:
    # SIGTERM (docker stop, systemd) cancels like Ctrl-C does, so the client logs out cleanly.
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, lambda: task.cancel() if task else None)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        pass
    try:
        await run(settings, watcher=watcher)
    except asyncio.CancelledError:
        log.info("stopped")
