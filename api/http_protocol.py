"""uvicorn's HTTP protocol with kiji's limits, answering what it refuses in the API's JSON error shape.

A request that never becomes a valid HTTP request (control bytes in a header, a non-numeric
``Content-Length``, TLS bytes on the plain port) never reaches the app: uvicorn answers it itself,
by default with a plain-text 400. These subclasses keep uvicorn's parsing and change only what it
sends then, ``{"error": {"code": "bad_request", ...}}``, and they refuse oversized request lines and
headers with 414 / 431 in the same shape before buffering more of them:

- the request target (path and query) over ``MAX_URL_BYTES``: 414 ``uri_too_long``;
- header names and values over ``MAX_HEADER_BYTES`` in all, or more than ``MAX_HEADERS``: 431
  ``headers_too_large``.

A refusal usually comes while the client is still sending (a 100 KB URL is refused at 64 KB).
Closing then would leave unread bytes in the socket, and the kernel answers those with a reset,
which destroys the reply before the client reads it: the client sees "connection reset", not the
414. So a refused connection closes gracefully, as nginx's ``lingering_close`` does: the reply,
then a half-close (FIN), then whatever still arrives is discarded until the client closes, or for
at most ``LINGER_S`` seconds.

Slow and idle clients (issue 28: 24k half-sent requests used up 20,000 file descriptors in ~18 s,
and then nothing was answered): a connection must deliver its request line, headers and body
within ``HEADER_TIMEOUT_S`` of opening or of its previous response, else it gets a JSON 408 and is closed;
an idle keep-alive connection is closed after uvicorn's ``timeout_keep_alive`` (set by
``api.server``). The body is under the same deadline (bodies here are a few KB). Past
``max_connections()`` open connections (90% of the open-file limit, which
``raise_open_files`` lifts to the hard limit at start) a new connection is answered at once with a
JSON 503 ``overloaded`` and closed, so descriptors never run out and ``/healthz`` keeps answering.

64 KB of URL holds a 5,000-character Japanese query percent-encoded (9 bytes a character; the
default question limit is 1,000); longer questions go in ``POST /v1/ask`` bodies. What still gets a
reply outside this shape: a connection closed before a request line is complete gets nothing, and
uvicorn's own 503 for ``limit_concurrency`` (not set by kiji: the cap here is per connection, at
accept, and answers in JSON) stays plain text.
"""

from __future__ import annotations

import asyncio
import functools
import json
import resource

MAX_URL_BYTES = 64 * 1024
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100
#: How long a refused connection is drained before it is closed anyway. A client reads the reply
#: and closes within milliseconds; this bounds one that never does (nginx's lingering_timeout is 5 s).
LINGER_S = 5.0
#: The request line and headers must arrive within this (nginx's client_header_timeout is 60 s,
#: Apache's RequestReadTimeout 20-40 s). A real client sends them in one packet, in microseconds;
#: 10 s lets 24k slow openings a minute hold at most ~4k descriptors.
HEADER_TIMEOUT_S = 10.0  # the body too: at most a few KB here (max_body_size)
#: Idle keep-alive connections are closed after this (uvicorn's default, stated).
KEEP_ALIVE_S = 5
#: Descriptors kept for everything else (index files, the model, the feedback database, the watcher).
_RESERVED_FDS = 0.10

_BAD_REQUEST = (400, "bad_request", "the request is not valid HTTP/1.1 (a malformed request line or "
                                    "header, a control character in a header, or an invalid "
                                    "Content-Length)")
_URI_TOO_LONG = (414, "uri_too_long", f"the request URL is too long (at most {MAX_URL_BYTES} bytes; "
                                      "send long questions to POST /v1/ask)")
_HEADERS_TOO_LARGE = (431, "headers_too_large", f"the request headers are too large (at most "
                                                f"{MAX_HEADERS} headers, {MAX_HEADER_BYTES} bytes)")
_TIMEOUT = (408, "request_timeout", f"the request (line, headers and body) did not arrive within "
                                   f"{HEADER_TIMEOUT_S:g} s")
_OVERLOADED = (503, "overloaded", "the server holds as many connections as it can; try again shortly")
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 414: b"URI Too Long",
            431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


def raise_open_files() -> int:
    """Lift the soft open-file limit to the hard one (at most 1,048,576); returns the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard if hard != resource.RLIM_INFINITY else 1 << 20, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # a container may forbid it: the cap below follows the limit that holds
    max_connections.cache_clear()
    return int(soft)


@functools.cache
def max_connections() -> int:
    """Connections held at once before new ones get a 503: 90% of the open-file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = 1 << 20 if soft == resource.RLIM_INFINITY else soft
    return max(16, int(limit * (1 - _RESERVED_FDS)))


def error_bytes(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 response that closes the connection (the parser state is lost)."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (f"HTTP/1.1 {status} ".encode() + _REASONS[status] + b"\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n")
    return head + body


class _Refused(Exception):
    """Raised from a parser callback: the parser stops and reports an error to the protocol."""


class _JsonRefusals(asyncio.Protocol):
    """The shared part: count what the parser delivers, answer a refusal as JSON, then drain.

    First in each protocol's bases, so its ``data_received`` and ``connection_lost`` wrap uvicorn's.
    """

    transport: asyncio.Transport
    _refusal: tuple[int, str, str] | None = None
    _linger: asyncio.TimerHandle | None = None
    _header_deadline: asyncio.TimerHandle | None = None
    _url_bytes = 0
    _header_bytes = 0
    _header_count = 0

    def _reset_counts(self) -> None:
        self._refusal = None
        self._url_bytes = self._header_bytes = self._header_count = 0

    def _count_url(self, size: int) -> None:
        self._url_bytes += size
        if self._url_bytes > MAX_URL_BYTES:
            self._refusal = _URI_TOO_LONG
            raise _Refused

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        self._header_count += 1
        if self._header_bytes > MAX_HEADER_BYTES or self._header_count > MAX_HEADERS:
            self._refusal = _HEADERS_TOO_LARGE
            raise _Refused

    def _send_refusal(self) -> None:
        status, code, message = self._refusal or _BAD_REQUEST
        transport = self.transport
        if transport.is_closing() or self._linger is not None:
            return
        transport.write(error_bytes(status, code, message))
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()  # the FIN follows the reply once it is written
        self._linger = asyncio.get_running_loop().call_later(LINGER_S, transport.close)

    # --- slow clients and too many connections ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # uvicorn's adds it to its set of connections
        connections: set[object] = getattr(self, "connections", set())
        if len(connections) > max_connections():
            # Answered and closed at once: the descriptor is back before the next accept.
            connections.discard(self)
            status, code, message = _OVERLOADED
            self.transport.write(error_bytes(status, code, message))
            self.transport.close()
            return
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None and self._linger is None:
            self._header_deadline = asyncio.get_running_loop().call_later(HEADER_TIMEOUT_S,
                                                                           self._headers_too_slow)

    def _headers_arrived(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        cycle = getattr(self, "cycle", None)
        if cycle is not None and cycle.response_started and cycle.more_body:
            self.transport.close()  # answered before its body came (a 404): a 408 cannot follow
            return
        self._refusal = _TIMEOUT
        self._send_refusal()

    def data_received(self, data: bytes) -> None:
        if self._linger is None:
            if self._between_requests():
                self._arm_header_deadline()  # the next request on a kept-alive connection
            super().data_received(data)
            if self._request_read():
                self._headers_arrived()
        # else: the rest of a refused request, discarded. The client's own close ends the
        # connection (eof_received returns None, so asyncio closes the transport).

    def _request_read(self) -> bool:
        """The current request's line, headers and body have all arrived (the deadline covers the
        body too: a body that trickles in holds a task and a descriptor like a slow header)."""
        cycle = getattr(self, "cycle", None)
        return cycle is not None and not cycle.response_complete and not cycle.more_body

    def _between_requests(self) -> bool:
        cycle = getattr(self, "cycle", None)
        return cycle is None or bool(cycle.response_complete)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._linger, self._header_deadline):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)


from uvicorn.protocols.http.h11_impl import H11Protocol  # noqa: E402


class KijiH11Protocol(_JsonRefusals, H11Protocol):
    # h11 bounds the request line and headers together (h11_max_incomplete_event_size, set by
    # api.server); whatever it refuses is answered as a JSON 400.
    def send_400_response(self, msg: str) -> None:
        self.logger.info("refused a request: bad_request")
        self._send_refusal()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools missing: uvicorn itself would use h11
    HTTP_PROTOCOL: type[asyncio.Protocol] = KijiH11Protocol
else:
    class KijiHttpToolsProtocol(_JsonRefusals, HttpToolsProtocol):
        def on_message_begin(self) -> None:
            self._reset_counts()
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count_url(len(url))  # before uvicorn appends it: a huge URL is never buffered
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count_header(len(name) + len(value))
            super().on_header(name, value)

        def send_400_response(self, msg: str) -> None:
            self.logger.info("refused a request: %s", (self._refusal or _BAD_REQUEST)[1])
            self._send_refusal()

    #: What ``api.server`` hands uvicorn (``http=``): httptools when installed, as uvicorn's own
    #: ``auto`` would choose (and faster), else h11. A module-level class, so worker processes
    #: (which receive the config pickled) find it by name.
    HTTP_PROTOCOL = KijiHttpToolsProtocol
