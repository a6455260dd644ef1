"""A small web site for the tests, served on 127.0.0.1 only: routes are set per test, every request
is recorded (path, User-Agent, time), a route may be slow or huge."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    delay: float = 0.0
    #: a body written in pieces of this size (a huge page without building it in memory)
    repeat: int = 1


@dataclass
class Hit:
    path: str
    user_agent: str
    at: float
    headers: dict[str, str]


class Site:
    def __init__(self) -> None:
        self.routes: dict[str, Route | Callable[[dict[str, str]], Route]] = {}
        self.hits: list[Hit] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, path: str, html: str, **kw: object) -> None:
        self.routes[path] = Route(body=html.encode("utf-8"), **kw)  # type: ignore[arg-type]

    def paths(self) -> list[str]:
        return [h.path for h in self.hits]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            with site._lock:
                site.active += 1
                site.most_active = max(site.most_active, site.active)
                site.hits.append(Hit(self.path, self.headers.get("User-Agent", ""), time.monotonic(),
                                     dict(self.headers)))
            try:
                found = site.routes.get(self.path)
                route = found(dict(self.headers)) if callable(found) else found
                if route is None:
                    route = Route(b"<html><body>not here</body></html>", status=404)
                time.sleep(route.delay)
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(route.body) * route.repeat))
                self.end_headers()
                try:
                    for _ in range(route.repeat):
                        self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            finally:
                with site._lock:
                    site.active -= 1

    return Handler


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[Site]:
    """The site on 127.0.0.1; with ``tls``, over https with that context's certificate."""
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
