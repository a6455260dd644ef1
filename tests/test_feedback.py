"""The feedback store: one vote per user and answer, hashed users, a salt that survives restarts."""

from __future__ import annotations

import hashlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kiji.feedback import FeedbackStore

VOTE: dict[str, Any] = dict(question="DeepSeekとは?", quote_ids=["a:1-5", "b:10-20"], language="ja",
                            answered=True, index_version="v1")


def test_vote_then_replace(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    assert store.vote(answer_id="ans1", user_id=42, vote="up", **VOTE) is False
    assert store.vote(answer_id="ans1", user_id=42, vote="down", **VOTE) is True
    rows = store.rows("ans1")
    assert len(rows) == 1
    row = rows[0]
    assert row.vote == "down" and row.question == VOTE["question"] and row.quote_ids == VOTE["quote_ids"]
    assert row.language == "ja" and row.answered and row.index_version == "v1"


def test_users_and_answers_are_separate(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.vote(answer_id="ans1", user_id=1, vote="up", **VOTE)
    store.vote(answer_id="ans1", user_id=2, vote="down", **VOTE)
    store.vote(answer_id="ans2", user_id=1, vote="down", **VOTE)
    assert len(store.rows()) == 3 and len(store.rows("ans1")) == 2


def test_user_ids_are_salted_hashes_never_stored_raw(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite3"
    store = FeedbackStore(path)
    user_id = 123456789012345678
    store.vote(answer_id="ans1", user_id=user_id, vote="up", **VOTE)
    stored = store.rows()[0].user_hash
    assert len(stored) == 64 and stored != hashlib.sha256(str(user_id).encode()).hexdigest()
    dump = "\n".join(sqlite3.connect(path).iterdump())
    assert str(user_id) not in dump
    # The salt lives in the database, so a restart maps the same user to the same hash ...
    assert FeedbackStore(path).user_hash(user_id) == stored
    # ... and another database (or an explicit salt) does not.
    assert FeedbackStore(tmp_path / "other.sqlite3").user_hash(user_id) != stored
    assert FeedbackStore(path, salt="explicit").user_hash(user_id) != stored


def test_concurrent_votes_from_threads(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "nested" / "dir" / "fb.sqlite3")  # parents are created
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: store.vote(answer_id="ans", user_id=i % 10, vote="up" if i % 2 else "down",
                                           **VOTE), range(100)))
    assert len(store.rows("ans")) == 10


def test_stores_opened_at_once_agree_on_one_salt(tmp_path: Path) -> None:
    # The bot and the API (or several API workers) may open a new store at the same moment.
    path = tmp_path / "new.sqlite3"
    with ThreadPoolExecutor(8) as pool:
        stores = list(pool.map(lambda _: FeedbackStore(path), range(8)))
    assert len({s.user_hash(1) for s in stores}) == 1
    assert FeedbackStore(path).user_hash(1) == stores[0].user_hash(1)


def test_web_voters_and_discord_users_never_share_a_hash(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    assert store.user_hash(42) != store.user_hash("web:42")
    store.vote(answer_id="ans1", user_id=42, vote="up", **VOTE)
    assert store.vote(answer_id="ans1", user_id="web:42", vote="down", **VOTE) is False
    assert sorted(r.vote for r in store.rows("ans1")) == ["down", "up"]
