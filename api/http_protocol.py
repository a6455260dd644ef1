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

64 KB of URL holds a 5,000-character Japanese query percent-encoded (9 bytes a character; the
default question limit is 1,000); longer questions go in ``POST /v1/ask`` bodies. What still gets a
reply outside this shape: a connection closed before a request line is complete gets nothing, and
uvicorn's own 503 for ``limit_concurrency`` (not set by kiji) stays plain text.
"""

from __future__ import annotations

import asyncio
import json

MAX_URL_BYTES = 64 * 1024
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100
#: How long a refused connection is drained before it is closed anyway. A client reads the reply
#: and closes within milliseconds; this bounds one that never does (nginx's lingering_timeout is 5 s).
LINGER_S = 5.0

_BAD_REQUEST = (400, "bad_request", "the request is not valid HTTP/1.1 (a malformed request line or "
                                    "header, a control character in a header, or an invalid "
                                    "Content-Length)")
_URI_TOO_LONG = (414, "uri_too_long", f"the request URL is too long (at most {MAX_URL_BYTES} bytes; "
                                      "send long questions to POST /v1/ask)")
_HEADERS_TOO_LARGE = (431, "headers_too_large", f"the request headers are too large (at most "
                                                f"{MAX_HEADERS} headers, {MAX_HEADER_BYTES} bytes)")
_REASONS = {400: b"Bad Request", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


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

    def data_received(self, data: bytes) -> None:
        if self._linger is None:
            super().data_received(data)
        # else: the rest of a refused request, discarded. The client's own close ends the
        # connection (eof_received returns None, so asyncio closes the transport).

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
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
