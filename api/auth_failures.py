"""A budget of failed authentications per client IP, so API keys and the admin token cannot be
guessed at request speed (before it, 300 wrong keys in 0.3 s got 300 answers of 401).

A client may fail ``per_minute`` times in any 60 s; after that every authentication attempt from
its address, right or wrong, gets 429 with ``Retry-After`` until its oldest failure is a minute
old. A correct key does not reset the count: that would let an attacker holding one key guess at
others. The IP is the peer address (behind a reverse proxy listed in ``KIJI_TRUSTED_PROXIES``, the
client it forwards); counts are per worker process, like the request rate limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

WINDOW_S = 60.0


class FailureLimiter:
    """Sliding-window failure counts; runs on the event loop only (async dependencies), no lock.

    At most ``max_clients`` addresses are remembered; the least recently failing is forgotten
    first, so a flood of addresses cannot grow memory without bound."""

    def __init__(self, per_minute: int, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        while times and now - times[0] >= WINDOW_S:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def blocked_for(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or ``None`` when it may try now."""
        now = self.clock()
        times = self._recent(client, now)
        if times is None or len(times) < self.per_minute:
            return None
        return WINDOW_S - (now - times[0])

    def failed(self, client: str) -> None:
        now = self.clock()
        times = self._recent(client, now)
        if times is None:
            times = self._failures[client] = deque(maxlen=self.per_minute)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(client)
        times.append(now)
