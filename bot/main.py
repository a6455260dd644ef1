"""``kiji bot``: check the token, load the Engine once, run the Discord client until stopped.

The token comes only from settings (``DISCORD_TOKEN``) and is read with ``get_secret_value()`` at
the one place it is handed to discord.py; it is never logged nor put into an error message.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from kiji.bot.client import EngineLike, KijiBot
from kiji.bot.commands import register
from kiji.bot.network import quiet_reconnect_logs, start
from kiji.errors import InvalidInput
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
    generator = load_generator(settings)
    quiet_reconnect_logs()
    try:
        async with KijiBot(engine=engine, watcher=watcher, settings=settings, generator=generator,
                           **options) as bot:
            register(bot)
            await start(bot, token)
    finally:
        if generator is not None:
            await generator.aclose()


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
