"""Fetching one URL for kiji: http and https only, at most 5 redirects, connect and read timeouts, at
most ``max_bytes`` of body, the address rule (``guard``) before every connection and after every
redirect, robots.txt and the per-host pause (``politeness``), a User-Agent naming kiji and its
version. Every failure is a named ``KijiError``; nothing here is retried behind the caller's back.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from kiji.corpus.article import too_large
from kiji.corpus.web.guard import AddressGuard, IPNetwork
from kiji.corpus.web.politeness import GATES, HostGates, Robots, RobotsCache, parse_robots
from kiji.errors import FetchFailed, FetchRefused, PageUnusable

_REDIRECTS = {301, 302, 303, 307, 308}
#: robots.txt is small; a bigger one is read up to here (Google reads 500 KiB).
_ROBOTS_BYTES = 512 * 1024
#: A host name (IDNA already applied by httpx) or an IP literal.
_HOST = re.compile(r"^[A-Za-z0-9._\-]+$|^[0-9A-Fa-f:.]+$")


@dataclass(frozen=True, slots=True)
class FetchConfig:
    user_agent: str
    max_bytes: int
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    delay: float = 1.0
    allowed_networks: tuple[IPNetwork, ...] = ()
    max_redirects: int = 5
    #: The product token robots.txt rules are matched against.
    robots_agent: str = "kiji"
    #: Certificate authorities for https (a PEM file); None: the system's (certifi's) store.
    ca_bundle: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def check_url(url: str) -> httpx.URL:
    """A URL kiji may fetch: absolute, http or https, with a host. Else bad input, named."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise PageUnusable(f"invalid URL {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise PageUnusable(f"invalid URL {url!r}: only http and https URLs are fetched")
    if not parsed.host:
        raise PageUnusable(f"invalid URL {url!r}: no host")
    if not _HOST.match(parsed.raw_host.decode("ascii", "replace")):
        raise PageUnusable(f"invalid URL {url!r}: {parsed.host!r} is not a host name")
    return parsed


@dataclass
class Fetcher:
    config: FetchConfig
    gates: HostGates = field(default=GATES)

    def __post_init__(self) -> None:
        self.guard = AddressGuard(self.config.allowed_networks)
        timeout = httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout)
        # trust_env=False: an HTTP(S)_PROXY would connect for us, to an address the guard never saw.
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                                   headers={"User-Agent": self.config.user_agent},
                                   verify=ssl.create_default_context(cafile=self.config.ca_bundle)
                                   if self.config.ca_bundle else True)
        self.robots = RobotsCache(self._load_robots)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request, to the address the guard checked ------------------------------------------
    def _once(self, url: httpx.URL, headers: Mapping[str, str], limit: int, delay: float) -> Fetched:
        shown = str(url)
        ip = self.guard.resolve(url.host, url.port or (443 if url.scheme == "https" else 80), shown)
        target = url.copy_with(host=str(ip))
        host_header = url.netloc.decode("ascii")
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        try:
            with self.gates.turn(url.host, delay), \
                    self.client.stream("GET", target, headers={**headers, "Host": host_header},
                                       extensions=extensions) as resp:
                length = resp.headers.get("content-length", "")
                if resp.status_code == 200 and length.isdigit() and int(length) > limit:
                    raise PageUnusable(f"{shown}: {too_large(int(length), limit)}")
                body = bytearray()
                if resp.status_code not in _REDIRECTS:
                    for chunk in resp.iter_bytes():
                        body += chunk
                        if len(body) > limit:
                            raise PageUnusable(f"{shown}: over {too_large(len(body), limit)}")
                return Fetched(shown, resp.status_code, dict(resp.headers), bytes(body))
        except httpx.TimeoutException as exc:
            what = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for the server"
            secs = self.config.connect_timeout if isinstance(exc, httpx.ConnectTimeout) \
                else self.config.read_timeout
            raise FetchFailed(f"{shown}: timed out {what} ({secs:g} s)") from None
        except httpx.ConnectError as exc:
            raise FetchFailed(f"{shown}: cannot connect to {url.host} ({exc or 'connection failed'})",
                              hint="check the URL and the network") from None
        except httpx.HTTPError as exc:  # the server broke the protocol or the connection
            raise FetchFailed(f"{shown}: the server's answer broke off ({type(exc).__name__}: {exc})") \
                from None

    # -- robots.txt ---------------------------------------------------------------------------
    def _load_robots(self, origin: str) -> Robots:
        url = check_url(origin + "/robots.txt")
        try:
            got = self._follow(url, {}, _ROBOTS_BYTES, robots=False)
        except PageUnusable as exc:  # too large, a redirect loop: not readable, so nothing is allowed
            if "refused to fetch" in str(exc):
                raise
            return parse_robots(None, "")
        # A FetchFailed (DNS, refused, timeout) goes up: the page itself could not be fetched either,
        # and the user is better told so than "robots.txt disallows".
        return parse_robots(got.status, got.body.decode("utf-8", "replace"))

    def _robots_for(self, url: httpx.URL) -> Robots:
        return self.robots.get(f"{url.scheme}://{url.netloc.decode('ascii')}")

    # -- redirects ----------------------------------------------------------------------------
    def _follow(self, url: httpx.URL, headers: Mapping[str, str], limit: int, *, robots: bool) -> Fetched:
        seen = {str(url)}
        for _ in range(self.config.max_redirects + 1):
            delay = self.config.delay
            if robots:
                rules = self._robots_for(url)
                if not rules.allows(self.config.robots_agent, str(url)):
                    raise FetchRefused(f"{url}: the site's robots.txt disallows fetching it")
                delay = max(delay, rules.crawl_delay(self.config.robots_agent))
            got = self._once(url, headers, limit, delay)
            location = got.headers.get("location")
            if got.status not in _REDIRECTS or not location:
                return got
            nxt = check_url(urljoin(str(url), location))
            if str(nxt) in seen:
                raise PageUnusable(f"{url}: redirect loop (back to {nxt})")
            seen.add(str(nxt))
            url = nxt
        raise PageUnusable(f"{url}: more than {self.config.max_redirects} redirects")

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Fetched:
        """The final answer after redirects, whatever its status (the caller decides what a 304 or
        a 404 means); a status of 5xx is a ``FetchFailed``, 4xx (but 304) a ``PageUnusable``."""
        got = self._follow(check_url(url), headers or {}, self.config.max_bytes, robots=True)
        if got.status >= 500:
            raise FetchFailed(f"{url}: the server failed (HTTP {got.status})", hint="try again later")
        if got.status >= 400:
            reason = {404: "not found", 410: "gone", 401: "needs a login", 403: "forbidden"}.get(got.status, "")
            raise PageUnusable(f"{url}: HTTP {got.status}{' ' + reason if reason else ''}")
        return got
