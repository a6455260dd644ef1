"""``kiji.api.http_protocol`` under both of uvicorn's parsers (httptools, which ``kiji serve`` uses
when installed, and h11, its fallback), each served in-process by a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kiji.api import http_protocol
from kiji.api.http_protocol import MAX_HEADER_BYTES, MAX_URL_BYTES, KijiH11Protocol

PROTOCOLS: list[Any] = [KijiH11Protocol]
if hasattr(http_protocol, "KijiHttpToolsProtocol"):
    PROTOCOLS.append(http_protocol.KijiHttpToolsProtocol)


async def _ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(params=PROTOCOLS, ids=lambda p: p.__name__)
def address(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    import uvicorn

    monkeypatch.setattr(http_protocol, "LINGER_S", 0.5)  # read at each refusal
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(
        _ok, host="127.0.0.1", port=port, log_level="warning", lifespan="off", http=request.param,
        h11_max_incomplete_event_size=MAX_URL_BYTES + MAX_HEADER_BYTES))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(20)


def _exchange(address: tuple[str, int], request: bytes) -> bytes:
    with socket.create_connection(address, timeout=20) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def _error(reply: bytes) -> tuple[int, str]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    assert b"content-type: application/json" in lines and b"connection: close" in lines
    return int(head.split()[1]), json.loads(body)["error"]["code"]


def test_a_valid_request_is_served(address: tuple[str, int]) -> None:
    reply = _exchange(address, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"ok")


@pytest.mark.parametrize("request_bytes", [
    b"GET /?q=" + b"a" * 4_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4_000_000 + b"\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n" + b"a" * 4_000_000,
], ids=["url", "header", "content-length"])
def test_a_refusal_reaches_a_client_still_sending(address: tuple[str, int], request_bytes: bytes) -> None:
    # Megabytes still arrive after the refusal; without the drain the kernel resets the connection
    # and the client never reads the reply (reproduced: ConnectionResetError in sendall).
    status, code = _error(_exchange(address, request_bytes))
    # httptools is given kiji's separate limits; h11 bounds request line and headers together (400).
    assert (status, code) in {(414, "uri_too_long"), (431, "headers_too_large"), (400, "bad_request")}


def test_a_refused_client_that_stays_open_is_closed_after_the_linger(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=20) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):  # b"": the server's half-close after its reply
            reply += chunk
        assert _error(reply) == (400, "bad_request")
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # discarded, not parsed: no reply
        assert sock.recv(65536) == b""
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            while time.monotonic() - started < 10:  # LINGER_S is 0.5 here
                sock.sendall(b"x")  # fails once the server has closed (its kernel resets)
                time.sleep(0.05)
        assert time.monotonic() - started >= 0.4  # drained first, not closed at once
