"""A small Discord stand-in on 127.0.0.1: REST (``/api/v10``) and the gateway websocket.

The real discord.py client logs in against it (settings ``discord_api_base`` / ``discord_gateway_url``),
syncs commands, receives INTERACTION_CREATE over the gateway and answers through the interaction
callback and webhook endpoints, exactly as with Discord. The server behaves like Discord where a bot
could get it wrong:

* a callback later than ``ack_deadline_s`` after the interaction was sent gets 404, code 10062;
  a second callback gets 400, code 40060;
* messages breaking Discord's limits (content 2,000; embed title 256, description 4,096, 25 fields,
  name 256, value 1,024, footer 2,048, total 6,000; 10 embeds; 5 rows of 5 components, custom_id 100,
  label 80) get 400, code 50035, and are listed in ``violations``;
* responses are ``application/json`` exactly; the gateway supports RESUME (op 6 → RESUMED with the
  missed events replayed), op 7 RECONNECT and closing with a resumable code such as 4000.
Every REST request is recorded in ``requests``; ``wait_until`` waits for a condition on that state.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.bot.discord_limits import check_message

EPOCH = "2025-01-01T00:00:00.000000+00:00"
_ids = itertools.count(1_300_000_000_000_000_000)
BODY: web.RequestKey[Any] = web.RequestKey("body", object)  # the parsed request body, read once by the recorder


def snowflake() -> str:
    return str(next(_ids))


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py treats "…; charset=utf-8" as text.
    return web.Response(status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})


def _error(status: int, code: int, message: str, errors: Any = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return _json(body, status)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float
    status: int = 0


@dataclass
class Pending:
    """One interaction sent to the bot, and everything the bot did with it."""

    id: str
    token: str
    payload: dict[str, Any]
    sent_at: float = 0.0
    callback: dict[str, Any] | None = None
    acked_at: float | None = None
    original: dict[str, Any] | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    rejected: list[int] = field(default_factory=list)  # error codes the server answered with

    @property
    def ack_s(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.sent_at

    @property
    def ephemeral(self) -> bool:
        return bool(self.original and self.original.get("flags", 0) & 64)


class FakeDiscord:
    def __init__(self, *, token: str = "test-token", heartbeat_ms: int = 45_000,
                 ack_deadline_s: float = 3.0, recommended_shards: int = 1) -> None:
        self.token = token
        #: What GET /gateway/bot recommends (Discord: one shard per ~1,000 servers).
        self.recommended_shards = recommended_shards
        #: The ``[shard_id, shard_count]`` of every IDENTIFY (``[0, 1]`` when the client sent none).
        self.shards_identified: list[list[int]] = []
        self.heartbeat_ms = heartbeat_ms
        self.ack_deadline_s = ack_deadline_s
        self.app_id = snowflake()
        self.bot_user = {"id": self.app_id, "username": "kiji", "discriminator": "0", "global_name": "kiji",
                         "avatar": None, "bot": True, "flags": 0, "verified": True, "mfa_enabled": False}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.commands: dict[str | None, list[dict[str, Any]]] = {}  # guild id (None = global) → commands
        self.interactions: dict[str, Pending] = {}  # by token
        self.heartbeats: list[float] = []
        self.identifies = 0
        self.resumes = 0
        self.replayed = 0  # events sent again after a RESUME
        #: Cleared by a test to hold new gateway connections (before HELLO) until it is set again.
        self.accepting = asyncio.Event()
        self.accepting.set()
        self.session_id: str | None = None
        self._seq = 0
        self._events: list[dict[str, Any]] = []  # dispatched this session, for RESUME replay
        self._ws: web.WebSocketResponse | None = None
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (``port`` 0: any free port; a given one brings a stopped server back)."""
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after every request and gateway message)."""
        async def wait() -> Any:
            async with self._changed:
                while not (value := predicate()):
                    await self._changed.wait()
                return value
        return await asyncio.wait_for(wait(), timeout)

    # --- gateway -----------------------------------------------------------------------------

    async def _send(self, payload: dict[str, Any]) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_str(json.dumps(payload))

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self._seq += 1
        payload = {"op": 0, "t": event, "s": self._seq, "d": data}
        self._events.append(payload)
        await self._send(payload)  # while disconnected, the event waits for RESUME replay

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await self.accepting.wait()
        self._ws = ws
        await self._send({"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": self.heartbeat_ms}})
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            op = data.get("op")
            self._ws = ws  # replies go to the connection (shard) that spoke last
            if op == 1:
                self.heartbeats.append(time.monotonic())
                await self._send({"op": 11, "s": None, "t": None, "d": None})
            elif op == 2:
                await self._identify(data["d"])
            elif op == 6:
                await self._resume(data["d"])
            await self._notify()
        await self._notify()
        return ws

    async def _identify(self, d: dict[str, Any]) -> None:
        if d.get("token") != self.token:
            await self._ws.close(code=4004)  # type: ignore[union-attr]
            return
        self.identifies += 1
        shard = list(d.get("shard") or [0, 1])
        self.shards_identified.append(shard)
        self.session_id, self._seq, self._events = secrets.token_hex(8), 0, []
        await self.dispatch("READY", {
            "v": 10, "user": self.bot_user, "guilds": [], "session_id": self.session_id,
            "resume_gateway_url": self.gateway_url, "private_channels": [], "relationships": [],
            "application": {"id": self.app_id, "flags": 0}, "shard": shard})

    async def _resume(self, d: dict[str, Any]) -> None:
        if d.get("token") != self.token or d.get("session_id") != self.session_id:
            await self._send({"op": 9, "s": None, "t": None, "d": False})
            return
        self.resumes += 1
        for payload in [e for e in self._events if e["s"] > (d.get("seq") or 0)]:
            self.replayed += 1
            await self._send(payload)
        self._seq += 1
        await self._send({"op": 0, "t": "RESUMED", "s": self._seq, "d": {}})

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the gateway socket as Discord does before a resume (4000: unknown error, resumable)."""
        if self._ws is not None:
            await self._ws.close(code=code)

    async def request_reconnect(self) -> None:
        await self._send({"op": 7, "s": None, "t": None, "d": None})

    # --- interactions ------------------------------------------------------------------------

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": str(user_id), "username": f"user{user_id}", "discriminator": "0",
                "global_name": f"User {user_id}", "avatar": None}

    def _base(self, kind: int, data: dict[str, Any], user_id: int, locale: str,
              guild_id: int | None) -> dict[str, Any]:
        user = self._user(user_id)
        payload: dict[str, Any] = {
            "id": snowflake(), "application_id": self.app_id, "type": kind, "data": data,
            "token": "itok-" + secrets.token_hex(16), "version": 1, "locale": locale,
            "app_permissions": "2248473465835073", "entitlements": [], "attachment_size_limit": 8388608}
        if guild_id is not None:
            channel_id = "1100000000000000001"
            payload.update(guild_id=str(guild_id), guild_locale="en-US", context=0,
                           authorizing_integration_owners={"0": str(guild_id)},
                           member={"user": user, "roles": [], "joined_at": EPOCH, "deaf": False, "mute": False,
                                   "flags": 0, "pending": False, "permissions": "2248473465835073"},
                           channel={"id": channel_id, "type": 0, "guild_id": str(guild_id), "name": "general",
                                    "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None})
        else:
            channel_id = str(1200000000000000000 + user_id)
            payload.update(user=user, context=1, authorizing_integration_owners={"0": "0"},
                           channel={"id": channel_id, "type": 1, "recipients": [user]})
        payload["channel_id"] = channel_id
        return payload

    def slash(self, name: str, options: dict[str, Any] | None = None, *, user_id: int = 4242,
              locale: str = "en-US", guild_id: int | None = 9999) -> dict[str, Any]:
        types = {str: 3, bool: 5, int: 4, float: 10}
        opts = [{"name": k, "type": types[type(v)], "value": v} for k, v in (options or {}).items()]
        data: dict[str, Any] = {"id": self._command_id(name), "name": name, "type": 1, "options": opts}
        return self._base(2, data, user_id, locale, guild_id)

    def autocomplete(self, name: str, options: dict[str, Any], focused: str, *, user_id: int = 4242,
                     locale: str = "en-US", guild_id: int | None = 9999) -> dict[str, Any]:
        """An autocomplete interaction (type 4) while the user types the ``focused`` option."""
        types = {str: 3, bool: 5, int: 4, float: 10}
        opts = [{"name": k, "type": types[type(v)], "value": v, **({"focused": True} if k == focused else {})}
                for k, v in options.items()]
        data: dict[str, Any] = {"id": self._command_id(name), "name": name, "type": 1, "options": opts}
        return self._base(4, data, user_id, locale, guild_id)

    def message_command(self, name: str, content: str, *, user_id: int = 4242, locale: str = "en-US",
                        guild_id: int | None = 9999) -> dict[str, Any]:
        """A message context-menu command (type 3) on a message by another user holding ``content``."""
        payload = self._base(2, {}, user_id, locale, guild_id)
        target = {"id": snowflake(), "channel_id": payload["channel_id"], "author": self._user(user_id + 1),
                  "content": content, "timestamp": EPOCH, "edited_timestamp": None, "tts": False,
                  "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
                  "embeds": [], "components": [], "pinned": False, "type": 0, "flags": 0}
        payload["data"] = {"id": self._command_id(name), "name": name, "type": 3, "target_id": target["id"],
                           "resolved": {"messages": {target["id"]: target}}}
        return payload

    def click(self, message: dict[str, Any], custom_id: str, *, user_id: int = 4242, locale: str = "en-US",
              guild_id: int | None = 9999) -> dict[str, Any]:
        payload = self._base(3, {"custom_id": custom_id, "component_type": 2}, user_id, locale, guild_id)
        payload["message"] = message
        return payload

    def _command_id(self, name: str) -> str:
        for cmds in self.commands.values():
            for c in cmds:
                if c["name"] == name:
                    return str(c["id"])
        return snowflake()

    async def interact(self, payload: dict[str, Any]) -> Pending:
        pending = Pending(id=payload["id"], token=payload["token"], payload=payload, sent_at=time.monotonic())
        self.interactions[pending.token] = pending
        await self.dispatch("INTERACTION_CREATE", payload)
        return pending

    # --- REST --------------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        body: Any = None
        if request.can_read_body:
            if request.content_type.startswith("multipart/"):
                form = await request.post()
                body = json.loads(str(form.get("payload_json") or "{}"))
            else:
                raw = await request.read()
                body = json.loads(raw) if raw else None
        request[BODY] = body
        rec = Recorded(request.method, request.path.removeprefix("/api/v10"), dict(request.query), body,
                       time.monotonic())
        self.requests.append(rec)
        response = await handler(request)
        rec.status = response.status
        await self._notify()
        return response

    def _message(self, data: dict[str, Any], pending: Pending | None, flags: int = 0) -> dict[str, Any]:
        channel = (pending.payload["channel_id"] if pending else "0")
        return {"id": snowflake(), "channel_id": channel, "author": self.bot_user, "content": data.get("content") or "",
                "timestamp": EPOCH, "edited_timestamp": None, "tts": False, "mention_everyone": False,
                "mentions": [], "mention_roles": [], "attachments": [], "embeds": data.get("embeds") or [],
                "components": data.get("components") or [], "pinned": False, "type": 20,
                "flags": (data.get("flags") or 0) | flags, "webhook_id": self.app_id,
                "application_id": self.app_id}

    def _invalid(self, data: dict[str, Any], where: str) -> web.Response | None:
        problems = check_message(data)
        if not problems:
            return None
        self.violations += [f"{where}: {p}" for p in problems]
        return _error(400, 50035, "Invalid Form Body", {"problems": problems})

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        parts = request.match_info["tail"].split("/")
        method, body = request.method, request[BODY]
        bot_auth = request.headers.get("Authorization") == f"Bot {self.token}"
        if parts[0] in ("users", "oauth2", "applications", "gateway") and not bot_auth:
            return _error(401, 0, "401: Unauthorized")
        if parts == ["users", "@me"]:
            return _json(self.bot_user)
        if parts == ["oauth2", "applications", "@me"]:
            return _json({"id": self.app_id, "name": "kiji", "description": "", "icon": None, "bot_public": True,
                          "bot_require_code_grant": False, "owner": self._user(1), "verify_key": "00" * 32,
                          "flags": 0, "bot": self.bot_user})
        if parts[0] == "gateway":
            return _json({"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit":
                          {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}})
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            guild = parts[3] if len(parts) == 5 and parts[2] == "guilds" else None
            # Discord answers every command with a description, "" for a context-menu command.
            echoed = [{"description": "", **c, "id": snowflake(), "application_id": self.app_id, "version": snowflake(),
                       "default_member_permissions": c.get("default_member_permissions"), "nsfw": False,
                       **({"guild_id": guild} if guild else {})} for c in body or []]
            self.commands[guild] = echoed
            return _json(echoed)
        if parts[0] == "interactions" and parts[-1] == "callback" and method == "POST":
            return await self._callback(parts[1], parts[2], body)
        if parts[0] == "webhooks" and len(parts) >= 3:
            return self._webhook(method, parts[2], parts[3:], body)
        return _error(404, 0, "404: Not Found")

    async def _callback(self, interaction_id: str, token: str, body: dict[str, Any]) -> web.Response:
        pending = self.interactions.get(token)
        if pending is None or pending.id != interaction_id:
            return _error(404, 10062, "Unknown interaction")
        if time.monotonic() - pending.sent_at > self.ack_deadline_s:
            pending.rejected.append(10062)  # what Discord answers after its 3-second window
            return _error(404, 10062, "Unknown interaction")
        if pending.callback is not None:
            pending.rejected.append(40060)
            return _error(400, 40060, "Interaction has already been acknowledged.")
        kind, data = body["type"], body.get("data") or {}
        if kind in (4, 7) and (bad := self._invalid(data, f"callback {kind}")):
            return bad
        pending.callback, pending.acked_at = body, time.monotonic()
        message: dict[str, Any] | None = None
        if kind in (4, 5):
            message = self._message(data, pending, flags=128 if kind == 5 else 0)
            pending.original = message
        elif kind == 7:  # update the message the button is on
            message = {**pending.payload["message"], **{k: v for k, v in data.items() if k != "flags"}}
            pending.original = message
        interaction = {"id": interaction_id, "type": pending.payload["type"]}
        if message is not None:
            interaction.update(response_message_id=message["id"], response_message_loading=kind == 5,
                               response_message_ephemeral=bool(message["flags"] & 64))
        resource: dict[str, Any] = {"type": kind}
        if message is not None:
            resource["message"] = message
        return _json({"interaction": interaction, "resource": resource})

    def _webhook(self, method: str, token: str, rest: list[str], body: Any) -> web.Response:
        pending = self.interactions.get(token)
        if pending is None or pending.callback is None:
            return _error(404, 10015, "Unknown Webhook")
        if rest == ["messages", "@original"]:
            if pending.original is None or pending.deleted:
                return _error(404, 10008, "Unknown Message")
            if method == "DELETE":
                pending.deleted = True
                return web.Response(status=204)
            if method == "GET":
                return _json(pending.original)
            if bad := self._invalid(body, "edit @original"):
                return bad
            edited = {**pending.original, **{k: v for k, v in body.items() if k in
                                             ("content", "embeds", "components")}}
            edited["flags"] = pending.original["flags"] & ~128  # no longer "thinking"
            pending.original = edited
            pending.edits.append(edited)
            return _json(edited)
        if not rest and method == "POST":
            if bad := self._invalid(body, "follow-up"):
                return bad
            message = self._message(body, pending)
            pending.followups.append(message)
            return _json(message)
        return _error(404, 0, "404: Not Found")
