"""Issue 28, item 4: slow and numerous clients never exhaust the server.

An in-process uvicorn server with kiji's HTTP protocol (``api.http_protocol``) and short limits, so
the deadlines show in a second: a connection that sends part of its headers gets a JSON 408 and is
closed; one that sends nothing is closed too; past the connection cap new connections get a JSON
503 at once while ``/healthz`` on a held connection still answers. The cap's real value follows
the open-file limit (bench/slow_client_bench.py holds 10,000 half-open connections)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from kiji.api import http_protocol
from kiji.api.app import create_app
from kiji.api.server import run
from kiji.retrieval.engine import Engine
from kiji.settings import Settings
from tests.api.helpers import make_settings
from tests.fake_llm import unused_port


@pytest.fixture()
async def server(fake_engine: Engine, fake_index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    monkeypatch.setattr(http_protocol, "HEADER_TIMEOUT_S", 0.5)
    monkeypatch.setattr(http_protocol, "max_connections", lambda: 20)
    app = create_app(make_settings(fake_index_dir), engine=fake_engine)
    port = unused_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=http_protocol.HTTP_PROTOCOL,
                            timeout_keep_alive=http_protocol.KEEP_ALIVE_S)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        await task


async def _read_all(reader: asyncio.StreamReader, timeout: float) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout)


def _error(reply: bytes) -> tuple[int, str]:
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]["code"]


async def test_a_request_whose_headers_never_finish_gets_408_and_is_closed(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    started = time.monotonic()
    reply = await _read_all(reader, 5)  # main: never answered (the probe held one for 70 s)
    assert time.monotonic() - started < 2.0
    assert _error(reply) == (408, "request_timeout")
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    reply = await _read_all(reader, 5)
    assert _error(reply) == (408, "request_timeout")
    writer.close()


async def test_a_kept_alive_connection_gets_the_deadline_for_its_next_request(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), 5)
    assert b" 200 " in first
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
    reply = await _read_all(reader, 5)
    assert _error(reply) == (408, "request_timeout")
    writer.close()


async def test_past_the_cap_new_connections_get_503_and_healthz_still_answers(server: int) -> None:
    held = []
    reader, writer = await asyncio.open_connection("127.0.0.1", server)  # a probe's connection
    for _ in range(19):
        r, w = await asyncio.open_connection("127.0.0.1", server)
        w.write(b"GET /healthz HTTP/1.1\r\n")  # half-open
        held.append((r, w))
    await asyncio.sleep(0.1)
    r, w = await asyncio.open_connection("127.0.0.1", server)
    assert _error(await _read_all(r, 2)) == (503, "overloaded")
    w.close()
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b" 200 " in await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), 1)
    for _, held_writer in held:
        held_writer.close()
    writer.close()


def test_serve_passes_the_keep_alive_timeout_and_lifts_the_open_file_limit(
        fake_index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    monkeypatch.setattr(http_protocol, "raise_open_files", lambda: seen.setdefault("lifted", True))
    monkeypatch.setattr("kiji.api.app.create_app", lambda settings: None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run(Settings(index_dir=str(fake_index_dir), port=port, embedding_runtime="torch"))
    assert seen["timeout_keep_alive"] == http_protocol.KEEP_ALIVE_S and seen["lifted"] is True
    assert seen["proxy_headers"] is False  # no forwarded header believed unless KIJI_TRUSTED_PROXIES
    assert http_protocol.max_connections() >= 16


async def test_a_body_that_never_finishes_gets_408_and_is_closed(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b'Content-Length: 200\r\n\r\n{"question": ')
    reply = await _read_all(reader, 5)
    assert _error(reply) == (408, "request_timeout")
    writer.close()


async def test_a_request_answered_before_its_body_is_closed_quietly(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n")
    reply = await _read_all(reader, 5)
    assert b" 404 " in reply.split(b"\r\n", 1)[0] and b" 408 " not in reply
    writer.close()
