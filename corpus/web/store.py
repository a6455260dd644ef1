"""Web articles in the corpus folder: one ``.jsonl`` file of one record per page, named for the
page's canonical URL, holding the text and where and when it was fetched, so a rebuild never needs
the network. The same canonical URL is the same article: unchanged text changes nothing, changed
text replaces the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from kiji.corpus.article import derive_title
from kiji.corpus.edits import AddPlan, corpus_ids
from kiji.corpus.web.pages import WebPage

_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]+")


def article_id(canonical: str) -> str:
    """``web-<host>-<12 hex of the canonical URL's sha256>``: stable, readable, a valid id."""
    host = _UNSAFE.sub("-", (urlsplit(canonical).hostname or "page")).strip("-.")[:60] or "page"
    return f"web-{host}-{hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:12]}"


def record(page: WebPage) -> dict[str, str | None]:
    aid = article_id(page.canonical)
    found = page.extracted
    return {"id": aid, "title": found.title or derive_title(found.text, aid), "url": page.canonical,
            "published": found.published, "author": found.author, "language": found.language,
            "fetched_from": page.requested, "fetched_at": page.fetched_at, "text": found.text}


def read_record(path: Path) -> dict[str, object] | None:
    try:
        line = path.read_text(encoding="utf-8").strip().splitlines()[0]
        data = json.loads(line)
    except (OSError, UnicodeDecodeError, IndexError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass
class WebPlan:
    plan: AddPlan = field(default_factory=AddPlan)
    #: (URL, article id) of each kind
    added: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.plan.copies or self.plan.displaced)


def text_record(title: str, text: str) -> dict[str, str | None]:
    """An article given as title and text (``POST /v1/articles``): its id is its text's hash, so
    the same text sent twice is one article."""
    aid = f"text-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"
    return {"id": aid, "title": title.strip() or derive_title(text, aid), "url": None, "published": None,
            "text": text}


def plan_pages(folder: Path, pages: list[WebPage], staging: Path, plan: WebPlan | None = None) -> WebPlan:
    """Write each page's file into ``staging`` and plan its addition (or replacement) in ``folder``.
    Two URLs of one canonical page in one call count once."""
    return plan_records(folder, [(p.requested, record(p)) for p in pages], staging, plan)


def plan_records(folder: Path, records: list[tuple[str, dict[str, str | None]]], staging: Path,
                 plan: WebPlan | None = None) -> WebPlan:
    out = plan or WebPlan()
    existing = corpus_ids(folder)
    done: set[str] = set()
    for label, rec in records:
        aid = str(rec["id"])
        if aid in done:
            continue
        done.add(aid)
        holders = existing.get(aid, [])
        old = read_record(holders[0]) if len(holders) == 1 else None
        if old is not None and old.get("text") == rec["text"] and old.get("title") == rec["title"]:
            out.unchanged.append((label, aid))
            continue
        name = f"{aid}.jsonl"
        (staging / name).write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
        out.plan.displaced.extend(h for h in holders if h not in out.plan.displaced)
        out.plan.copies.append((staging / name, name))
        (out.changed if holders else out.added).append((label, aid))
    return out
