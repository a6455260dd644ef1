"""Starting the bot's connections with network failures named, and keeping them up afterwards.

At start a failure is the operator's to fix, so it ends ``kiji bot`` with one line naming what
could not be reached: the REST API (login, command sync) or the gateway. discord.py's own first
gateway attempt would instead fail with an ``AttributeError`` from inside its reconnect loop (it
reads ``self.ws.sequence`` before any socket exists), so one websocket handshake with the gateway
is made before handing over. Once connected, discord.py reconnects by itself, with exponential
backoff (and RESUME), for as long as the bot runs; its log line for each attempt is made one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
from discord.gateway import DiscordWebSocket
from discord.http import INTERNAL_API_VERSION, Route

from kiji.errors import CredentialsRejected, ServiceUnreachable

log = logging.getLogger("kiji.bot")

#: Seconds the start-up gateway handshake may take before the gateway counts as unreachable.
GATEWAY_PROBE_TIMEOUT_S = 15.0


def describe(exc: BaseException) -> str:
    """A network failure in a few words (aiohttp's texts repeat the URL and add ``ssl:default``)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        inner = exc.os_error
        if isinstance(inner, OSError) and inner.errno and inner.errno > 0:
            return os.strerror(inner.errno)  # "Connection refused", not asyncio's "Connect call failed"
        return inner.strerror or str(inner) if isinstance(inner, OSError) else str(inner)
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"HTTP {exc.status} instead of a websocket"
    if isinstance(exc, aiohttp.InvalidURL):
        return "not a valid URL"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


@contextlib.asynccontextmanager
async def rest_errors() -> AsyncIterator[None]:
    """Failures of a call to Discord's REST API, translated (the token is never in them)."""
    try:
        yield
    except discord.LoginFailure:
        raise CredentialsRejected("Discord rejected the bot token",
                                  hint="check DISCORD_TOKEN (reset it in the developer portal)") from None
    except discord.HTTPException as exc:  # 5xx, or a proxy answering something else
        raise ServiceUnreachable(f"the Discord API at {Route.BASE} answered HTTP {exc.status}",
                                 hint="Discord may be down, or KIJI_DISCORD_API_BASE points elsewhere; "
                                      "try again later") from None
    except discord.GatewayNotFound:
        raise ServiceUnreachable(f"the Discord API at {Route.BASE} did not name a gateway (GET /gateway/bot)",
                                 hint="Discord may be down, or KIJI_DISCORD_API_BASE points elsewhere; "
                                      "try again later") from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise ServiceUnreachable(f"cannot reach the Discord API at {Route.BASE}: {describe(exc)}",
                                 hint="check the network, and KIJI_DISCORD_API_BASE if set") from None


async def login(bot: Any, token: str) -> None:
    """``bot.login`` (which also syncs commands) with its failures translated."""
    async with rest_errors():
        await bot.login(token)


async def recommended_shards(token: str) -> int:
    """How many gateway shards Discord recommends for this bot (``GET /gateway/bot``: one per
    ~1,000 servers), asked before the client is made, so its class can follow."""
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        async with rest_errors():
            await http.static_login(token)
            count, _url, _limits = await http.get_bot_gateway()
    finally:
        await http.close()
    return int(count)


async def probe_gateway() -> None:
    """One websocket handshake with the gateway discord.py will use (``DEFAULT_GATEWAY``)."""
    url = DiscordWebSocket.DEFAULT_GATEWAY.with_query(v=INTERNAL_API_VERSION, encoding="json")
    timeout = aiohttp.ClientWSTimeout(ws_close=2.0)
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(GATEWAY_PROBE_TIMEOUT_S):
                ws = await session.ws_connect(url, timeout=timeout, autoping=False)
                await ws.close()
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise ServiceUnreachable(
            f"cannot reach the Discord gateway at {DiscordWebSocket.DEFAULT_GATEWAY}: {describe(exc)}",
            hint="check the network, and KIJI_DISCORD_GATEWAY_URL if set") from None


async def start(bot: Any, token: str) -> None:
    """Log in, check the gateway, then run discord.py's connection loop until the bot closes."""
    await login(bot, token)
    await probe_gateway()
    try:
        await bot.connect(reconnect=True)
    except discord.PrivilegedIntentsRequired:
        raise CredentialsRejected("Discord refused the requested gateway intents",
                                  hint="enable them for the bot in the developer portal") from None


class OneLineReconnects(logging.Filter):
    """discord.py logs each gateway reconnect attempt with a full traceback; keep one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Attempting a reconnect"):
            exc = record.exc_info[1]
            record.msg = f"gateway connection lost ({type(exc).__name__}: {describe(exc) if exc else ''}); " \
                         "reconnecting in %.2fs"
            record.exc_info = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_reconnect_logs() -> None:
    logger = logging.getLogger("discord.client")
    if not any(isinstance(f, OneLineReconnects) for f in logger.filters):
        logger.addFilter(OneLineReconnects())
