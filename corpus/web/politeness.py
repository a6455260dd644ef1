"""Being a good web citizen: one request per host at a time, a pause between two requests to one
host, and robots.txt obeyed (RFC 9309: a missing robots.txt allows everything; one that the server
fails to serve (5xx, unreachable) disallows everything until it can be read)."""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: float = float("-inf")


class HostGates:
    """Per host: a lock held for the whole request, and the time the last one ended. One instance
    per process (``GATES``), so the CLI, the API's jobs and a sync all share it."""

    def __init__(self) -> None:
        self._hosts: dict[str, _Host] = {}
        self._guard = threading.Lock()

    @contextmanager
    def turn(self, host: str, delay: float) -> Iterator[None]:
        with self._guard:
            entry = self._hosts.setdefault(host.lower(), _Host())
        with entry.lock:
            wait = entry.last + delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                entry.last = time.monotonic()


GATES = HostGates()


@dataclass(frozen=True, slots=True)
class Robots:
    parser: urllib.robotparser.RobotFileParser | None  # None: everything allowed
    disallow_all: bool = False

    def allows(self, agent: str, url: str) -> bool:
        if self.disallow_all:
            return False
        return self.parser is None or self.parser.can_fetch(agent, url)

    def crawl_delay(self, agent: str) -> float:
        if self.parser is None:
            return 0.0
        delay = self.parser.crawl_delay(agent)
        return float(delay) if delay else 0.0


def parse_robots(status: int | None, text: str) -> Robots:
    """``status`` None: robots.txt could not be fetched at all."""
    if status is None or status >= 500:
        return Robots(None, disallow_all=True)
    if status >= 400:
        return Robots(None)
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(text.splitlines())
    return Robots(parser)


class RobotsCache:
    def __init__(self, load: Callable[[str], Robots]) -> None:
        self._load = load
        self._by_origin: dict[str, Robots] = {}
        self._lock = threading.Lock()

    def get(self, origin: str) -> Robots:
        with self._lock:
            found = self._by_origin.get(origin)
        if found is None:
            found = self._load(origin)
            with self._lock:
                self._by_origin[origin] = found
        return found
