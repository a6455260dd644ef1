"""``kiji feed add | list | remove | sync``: follow RSS/Atom feeds and sitemaps; a sync fetches new and
changed entries (conditional requests) and publishes them in one build."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from kiji.cli.console import eprint
from kiji.cli.index import cmd_index_build, editable_corpus
from kiji.cli.resources import settings_from
from kiji.errors import InvalidInput


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def cmd_feed_add(args: argparse.Namespace) -> int:
    from kiji.corpus.web.feed_state import FeedState, load_feeds, save_feeds
    from kiji.corpus.web.fetch import Fetcher, check_url
    from kiji.corpus.web.sync import fetch_feed
    from kiji.runtime import fetch_config

    settings = settings_from(args)
    editable_corpus(settings)
    check_url(args.url)
    feeds = load_feeds(settings.corpus_dir)
    if args.url in feeds:
        print(f"already following {args.url}")
        return 0
    with Fetcher(fetch_config(settings)) as fetcher:  # a URL that is no feed is refused now, not at sync
        feed, _, _ = fetch_feed(fetcher, FeedState(url=args.url, kind=""))
    assert feed is not None
    feeds[args.url] = FeedState(url=args.url, kind=feed.kind, title=feed.title, added_at=_now())
    save_feeds(settings.corpus_dir, feeds)
    print(f"following {args.url} ({feed.kind}, {len(feed.entries)} entries); "
          "`kiji feed sync` fetches them")
    return 0


def cmd_feed_list(args: argparse.Namespace) -> int:
    from kiji.corpus.web.feed_state import load_feeds

    settings = settings_from(args)
    feeds = load_feeds(settings.corpus_dir)
    if not feeds:
        print("no feeds; add one with `kiji feed add URL`")
    for f in feeds.values():
        print(f"{f.url}  {f.kind}  {len(f.entries)} articles  last sync {f.last_sync or 'never'}"
              + (f"  {f.title}" if f.title else ""))
    return 0


def cmd_feed_remove(args: argparse.Namespace) -> int:
    from kiji.corpus.web.feed_state import load_feeds, save_feeds

    settings = settings_from(args)
    editable_corpus(settings)
    feeds = load_feeds(settings.corpus_dir)
    gone = feeds.pop(args.url, None)
    if gone is None:
        raise InvalidInput(f"not following {args.url}", hint="`kiji feed list` shows the feeds")
    save_feeds(settings.corpus_dir, feeds)
    print(f"no longer following {args.url}; its {len(gone.entries)} articles stay in the corpus "
          "(`kiji index remove ID` takes one out)")
    return 0


def _progress(total: int) -> Callable[[int], None]:
    from tqdm import tqdm

    bar = tqdm(total=total, desc="fetching", unit="page", file=sys.stderr, disable=None, dynamic_ncols=True)

    def tick(n: int) -> None:
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return tick


def cmd_feed_sync(args: argparse.Namespace) -> int:
    from kiji.corpus.edits import corpus_ids
    from kiji.corpus.web.feed_state import EntryState, load_feeds, save_feeds
    from kiji.corpus.web.fetch import Fetcher
    from kiji.corpus.web.store import article_id, plan_pages
    from kiji.corpus.web.sync import collect
    from kiji.runtime import fetch_config

    settings = settings_from(args)
    editable_corpus(settings)
    folder = settings.corpus_dir
    feeds = load_feeds(folder)
    if not feeds:
        raise InvalidInput("no feeds to sync", hint="add one with `kiji feed add URL`")
    with Fetcher(fetch_config(settings)) as fetcher:
        got = collect(fetcher, feeds, _progress)
    pruned: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kiji-feed-") as staging:
        web = plan_pages(folder, got.pages, Path(staging))
        if args.prune:
            listed = {u for entries, _, _ in got.feeds.values() for u in entries}
            holders = corpus_ids(folder)
            for feed_url in got.feeds:  # only feeds read this time: a failed one prunes nothing
                for url, entry in feeds[feed_url].entries.items():
                    if url not in listed and entry.article_id in holders:
                        web.plan.displaced.extend(p for p in holders[entry.article_id]
                                                  if p not in web.plan.displaced)
                        pruned.append(entry.article_id)
        if web.changes:
            status = cmd_index_build(args, web.plan.apply)
            if status != 0:
                return status
    # The corpus and the index are published; the state follows (a kill before this line leaves
    # the state a sync behind, and the next sync finds the same pages unchanged).
    by_url = {p.requested: p for p in got.pages}
    for feed_url, (entries, etag, modified) in got.feeds.items():
        state = feeds[feed_url]
        state.etag, state.last_modified, state.listed, state.last_sync = etag, modified, entries, _now()
        for url in entries:
            page = by_url.get(url)
            if page is not None:
                state.entries[url] = EntryState(article_id(page.canonical), page.etag, page.last_modified)
        if args.prune:
            state.entries = {u: e for u, e in state.entries.items() if u in entries}
    save_feeds(folder, feeds)
    for url, aid in web.added:
        eprint(f"added {url} as {aid}")
    for url, aid in web.changed:
        eprint(f"changed {url}: replaced {aid}")
    for aid in pruned:
        eprint(f"removed {aid} (no longer in its feed)")
    for url, reason in got.failed:
        eprint(f"failed {url}: {reason}")
    unchanged = len(web.unchanged) + len(got.not_modified)
    print(f"feed sync: {len(web.added)} added, {len(web.changed)} changed, {unchanged} unchanged, "
          f"{len(got.failed)} failed" + (f", {len(pruned)} removed" if args.prune else ""))
    return 0
