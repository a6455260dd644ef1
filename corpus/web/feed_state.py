"""The feeds a corpus follows and what kiji knows of each entry: ``.kiji-feeds.json`` in the corpus
folder (hidden, so no build reads it), written whole or not at all."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kiji.durable import replace_text_durable
from kiji.errors import CorpusError

STATE_FILE = ".kiji-feeds.json"


@dataclass
class EntryState:
    article_id: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FeedState:
    url: str
    kind: str
    title: str | None = None
    added_at: str = ""
    etag: str | None = None
    last_modified: str | None = None
    last_sync: str | None = None
    #: entry URL → what the last sync stored for it
    entries: dict[str, EntryState] = field(default_factory=dict)
    #: the entry URLs the feed listed at the last sync that fetched it
    listed: list[str] = field(default_factory=list)


def state_path(folder: Path) -> Path:
    return folder / STATE_FILE


def load_feeds(folder: Path) -> dict[str, FeedState]:
    path = state_path(folder)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        feeds = {}
        for url, raw in data["feeds"].items():
            entries = {u: EntryState(**e) for u, e in raw.pop("entries", {}).items()}
            feeds[url] = FeedState(**raw, entries=entries)
        return feeds
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise CorpusError(f"{path} cannot be read ({type(exc).__name__}: {exc})",
                          hint="restore it, or move it away to follow no feeds") from None


def save_feeds(folder: Path, feeds: dict[str, FeedState]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": 1, "feeds": {u: asdict(f) for u, f in sorted(feeds.items())}},
                      ensure_ascii=False, indent=1)
    replace_text_durable(state_path(folder), text + "\n", tmp=folder / (STATE_FILE + ".tmp"))
