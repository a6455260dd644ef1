"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for the generation tests.

The real ``openai`` client (and through it every kiji edge) talks to it over HTTP. A test scripts
what the "model" does next with ``FakeLLM.reply(...)``: the answer text, or a failure — an HTTP
status, a body that is not JSON, a delay past the client's timeout, a stream cut halfway. Replies
are used in order and the last one repeats, so one script serves a whole test. Every request body
and its headers are recorded, so tests can read the exact prompt kiji sent.

Endpoints: ``POST /v1/chat/completions`` (``stream`` true → server-sent events in OpenAI's chunk
format, ending with ``data: [DONE]``; false → one JSON object) and ``GET /v1/models``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    #: The answer text, sent whole (non-streaming) or in ``chunk_chars`` pieces (streaming).
    text: str = ""
    finish_reason: str = "stop"
    #: Non-200: an OpenAI-style error body with this status.
    status: int = 200
    #: Send this raw body (with a JSON content type) instead of a well-formed response.
    raw_body: str | None = None
    #: Seconds to wait before answering (a slow or hung model).
    delay_s: float = 0.0
    #: Streaming: characters per chunk and seconds between chunks.
    chunk_chars: int = 4
    chunk_delay_s: float = 0.0
    #: Drop the connection after this many chunks (no finish_reason, no [DONE]); without
    #: streaming, after sending half of the response body.
    cut_after_chunks: int | None = None
    #: Streaming: after this many chunks send a ``data:`` line that is not JSON.
    broken_chunk_after: int | None = None


@dataclass
class Seen:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float

    @property
    def messages(self) -> list[dict[str, str]]:
        return self.body.get("messages", [])

    @property
    def prompt(self) -> str:
        return "\n".join(m.get("content", "") for m in self.messages)


@dataclass
class FakeLLM:
    model: str = "scripted-model"
    replies: list[Reply] = field(default_factory=list)
    #: Optional per-request script: receives the request body, returns the Reply to use.
    handler: Callable[[dict[str, Any]], Reply] | None = None
    requests: list[Seen] = field(default_factory=list)
    model_list_status: int = 200
    port: int = 0
    _runner: web.AppRunner | None = None

    def reply(self, *replies: Reply | str) -> FakeLLM:
        self.replies = [r if isinstance(r, Reply) else Reply(text=r) for r in replies]
        self.handler = None
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def completions(self) -> list[Seen]:
        return [r for r in self.requests if "messages" in r.body]

    async def start(self) -> FakeLLM:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- handlers --------------------------------------------------------------------------------

    def _next(self, body: dict[str, Any]) -> Reply:
        if self.handler is not None:
            return self.handler(body)
        if not self.replies:
            return Reply(status=500)
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(Seen({}, dict(request.headers), time.monotonic()))
        if self.model_list_status != 200:
            return _error(self.model_list_status)
        return web.json_response({"object": "list", "data": [
            {"id": self.model, "object": "model", "created": 0, "owned_by": "tests"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Seen(body, dict(request.headers), time.monotonic()))
        reply = self._next(body)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            return _error(reply.status)
        if reply.raw_body is not None:
            return web.Response(text=reply.raw_body, content_type="application/json")
        if body.get("stream"):
            return await self._stream(request, reply)
        payload = json.dumps({
            "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                         "message": {"role": "assistant", "content": reply.text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        if reply.cut_after_chunks is not None:
            response = web.StreamResponse(headers={"Content-Type": "application/json",
                                                   "Content-Length": str(len(payload))})
            await response.prepare(request)
            await response.write(payload[: len(payload) // 2])
            assert request.transport is not None
            request.transport.close()
            return response
        return web.Response(body=payload, content_type="application/json")

    async def _stream(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0,
                     "model": self.model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()

        await response.write(event({"role": "assistant", "content": ""}))
        pieces = [reply.text[i:i + reply.chunk_chars] for i in range(0, len(reply.text), reply.chunk_chars)]
        for n, piece in enumerate(pieces):
            if reply.cut_after_chunks is not None and n >= reply.cut_after_chunks:
                # Drop the connection mid-answer, as a crashed or restarted server does.
                assert request.transport is not None
                request.transport.close()
                return response
            if reply.broken_chunk_after is not None and n >= reply.broken_chunk_after:
                await response.write(b'data: {"choices": [{"delta": {"content": "oops\n\n')
                await response.write_eof()
                return response
            if reply.chunk_delay_s:
                await asyncio.sleep(reply.chunk_delay_s)
            await response.write(event({"content": piece}))
        await response.write(event({}, reply.finish_reason))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _error(status: int) -> web.Response:
    return web.json_response({"error": {"message": f"scripted failure {status}", "type": "server_error",
                                        "code": None}}, status=status)


def unused_port() -> int:
    """A port nothing listens on (bound, then released): the "absent server" case."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadedLLM:
    """``FakeLLM`` on its own event loop in a background thread, so synchronous code (the CLI's own
    event loop) and async tests can both talk to it."""

    def __init__(self, **options: Any) -> None:
        self.llm = FakeLLM(**options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-llm", daemon=True)

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.llm.start(), self._loop).result(10)
        return self.llm

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.llm.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
