"""One ``kiji feed sync``'s network half: every feed fetched (conditionally), every entry page
fetched (conditionally), failures collected by URL with their reasons, nothing written. What to
change in the corpus folder is then planned by ``store.plan_pages`` and published in one build."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kiji.corpus.web.feed_state import FeedState
from kiji.corpus.web.feeds import Feed, parse_feed
from kiji.corpus.web.fetch import Fetcher
from kiji.corpus.web.pages import WebPage, conditional, fetch_changed_page
from kiji.errors import KijiError

_FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"


@dataclass
class Collected:
    pages: list[WebPage] = field(default_factory=list)
    #: entry URLs the server answered 304 Not Modified
    not_modified: list[str] = field(default_factory=list)
    #: (URL, reason) of each feed or page that failed
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: feed URL → (its entries now, its ETag, its Last-Modified)
    feeds: dict[str, tuple[list[str], str | None, str | None]] = field(default_factory=dict)


def fetch_feed(fetcher: Fetcher, state: FeedState) -> tuple[Feed | None, str | None, str | None]:
    """The feed, or None when it has not changed since the last sync (304)."""
    got = fetcher.get(state.url, {"Accept": _FEED_ACCEPT, **conditional(state.etag, state.last_modified)})
    if got.status == 304:
        return None, state.etag, state.last_modified
    return parse_feed(got.body, state.url), got.headers.get("etag"), got.headers.get("last-modified")


def collect(fetcher: Fetcher, feeds: dict[str, FeedState],
            progress: Callable[[int], Callable[[int], None]] | None = None) -> Collected:
    out = Collected()
    todo: dict[str, FeedState] = {}  # entry URL → the feed that lists it first
    for state in feeds.values():
        try:
            feed, etag, modified = fetch_feed(fetcher, state)
        except KijiError as exc:
            out.failed.append((state.url, str(exc)))
            continue
        entries = list(feed.entries) if feed is not None else list(state.listed)
        out.feeds[state.url] = (entries, etag, modified)
        for url in entries:
            todo.setdefault(url, state)
    tick = progress(len(todo)) if progress and todo else None
    for url, state in todo.items():
        known = state.entries.get(url)
        try:
            page = fetch_changed_page(fetcher, url, known.etag if known else None,
                                      known.last_modified if known else None)
        except KijiError as exc:
            out.failed.append((url, str(exc)))
        else:
            if page is None:
                out.not_modified.append(url)
            else:
                out.pages.append(page)
        if tick:
            tick(1)
    return out
