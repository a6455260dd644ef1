"""👍/👎 feedback on answers, kept in a local SQLite file (``settings.feedback_db``).

Shared by the edges that collect votes (the Discord bot and the web page's ``POST /v1/feedback``),
so both write the same table. One row per (answer, user): a second vote from the same user on the
same answer replaces the first. Users are stored only as ``sha256(salt + user id)``; a Discord user
id is an int, a web voter a string such as ``web:<random id>`` (the two can never collide). The salt
is random, made on first use and kept in the database's ``meta`` table unless one is passed in, so
hashes stay comparable across restarts without the raw id ever being written. Questions are written
only when someone votes.

Calls are blocking and short; the bot runs them with ``asyncio.to_thread``. Each call opens its own
connection, so the store is safe to use from any thread.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kiji.errors import SystemFault

Vote = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id     TEXT NOT NULL,
    user_hash     TEXT NOT NULL,
    vote          INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    question      TEXT NOT NULL,
    quote_ids     TEXT NOT NULL,   -- JSON list of "article_id:start-end"
    language      TEXT NOT NULL,   -- the answer's language
    answered      INTEGER NOT NULL,
    index_version TEXT NOT NULL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    PRIMARY KEY (answer_id, user_hash)
);
"""


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    answer_id: str
    user_hash: str
    vote: Vote
    question: str
    quote_ids: list[str]
    language: str
    answered: bool
    index_version: str


class FeedbackStore:
    def __init__(self, path: Path, *, salt: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as db:
                db.executescript(_SCHEMA)
                if salt is None:
                    # INSERT OR IGNORE, then read back: two processes opening a new store at once (the
                    # bot and the API, or API workers) agree on the one salt that was written first.
                    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)",
                               (secrets.token_hex(32),))
                    salt = str(db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0])
        except sqlite3.DatabaseError as exc:  # damaged, locked, read-only: the operator's to fix
            raise SystemFault(f"the feedback database {self.path} cannot be used ({exc})",
                              hint="move it away (votes start afresh) or set KIJI_FEEDBACK_DB") from None
        self._salt = salt

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=5.0)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # readers never block the bot's writes
            with db:  # one transaction, committed on success
                yield db
        finally:
            db.close()

    def user_hash(self, user_id: int | str) -> str:
        return hashlib.sha256(f"{self._salt}:{user_id}".encode()).hexdigest()

    def vote(self, *, answer_id: str, user_id: int | str, vote: Vote, question: str,
             quote_ids: Sequence[str], language: str, answered: bool, index_version: str) -> bool:
        """Record a vote; True when it replaced this user's earlier vote on the same answer."""
        user = self.user_hash(user_id)
        now = time.time()
        with self._connect() as db:
            previous = db.execute("SELECT 1 FROM feedback WHERE answer_id = ? AND user_hash = ?",
                                  (answer_id, user)).fetchone()
            db.execute(
                """INSERT INTO feedback (answer_id, user_hash, vote, question, quote_ids, language,
                                         answered, index_version, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (answer_id, user_hash) DO UPDATE
                   SET vote = excluded.vote, updated_at = excluded.updated_at""",
                (answer_id, user, 1 if vote == "up" else -1, question, json.dumps(list(quote_ids)),
                 language, int(answered), index_version, now, now))
        return previous is not None

    def rows(self, answer_id: str | None = None) -> list[FeedbackRow]:
        query = ("SELECT answer_id, user_hash, vote, question, quote_ids, language, answered, index_version "
                 "FROM feedback")
        args: tuple[str, ...] = ()
        if answer_id is not None:
            query += " WHERE answer_id = ?"
            args = (answer_id,)
        with self._connect() as db:
            found = db.execute(query + " ORDER BY created_at", args).fetchall()
        return [FeedbackRow(answer_id=r[0], user_hash=r[1], vote="up" if r[2] == 1 else "down",
                            question=r[3], quote_ids=json.loads(r[4]), language=r[5],
                            answered=bool(r[6]), index_version=r[7]) for r in found]
