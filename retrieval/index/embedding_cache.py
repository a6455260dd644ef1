"""Passage vectors by (model fingerprint, text hash), so unchanged chunks are never re-embedded.

The cache only saves time: nothing in it is needed to build. So a cache that cannot be used never
stops a build. A damaged file (random bytes, a truncated database) is set aside as
``<name>.damaged`` (the previous one set aside is replaced) and an empty cache takes its place; a
cache that cannot be written (disk full, read-only, permission) is used as far as it reads and the
build goes on embedding without it. Each such event is logged once, naming the file and the cause.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: SQLite conditions meaning the file itself is damaged (as opposed to full, locked, read-only).
_DAMAGE = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}
DAMAGED_SUFFIX = ".damaged"


class EmbeddingCache:
    def __init__(self, path: Path, dim: int, *, log: Callable[[str], None] = lambda _: None) -> None:
        self.path = path
        self.dim = dim
        self._log = log
        self._db: sqlite3.Connection | None = None
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            self._recover(exc, "opening")
        except OSError as exc:
            self._disable(f"cannot be opened ({exc.strerror})")

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vec (h TEXT PRIMARY KEY, v BLOB NOT NULL)")
        except BaseException:
            db.close()
            raise
        return db

    def _disable(self, why: str) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._log(f"embedding cache {self.path} {why}; building without it")

    def _recover(self, exc: sqlite3.DatabaseError, doing: str) -> None:
        """Set a damaged file aside and start an empty cache; anything else disables the cache."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if getattr(exc, "sqlite_errorname", "") not in _DAMAGE:
            self._disable(f"failed while {doing} ({exc})")
            return
        aside = self.path.with_name(self.path.name + DAMAGED_SUFFIX)
        try:
            os.replace(self.path, aside)
            for extra in ("-wal", "-shm"):  # a journal of the damaged file must not meet the new one
                self.path.with_name(self.path.name + extra).unlink(missing_ok=True)
            self._db = self._open()
        except (OSError, sqlite3.Error) as again:
            self._disable(f"is damaged ({exc}) and could not be replaced ({again})")
            return
        self._log(f"embedding cache {self.path} was damaged ({exc}); set aside as {aside.name}, "
                  "starting an empty one (delete the damaged copy when you like)")

    def get_many(self, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        if self._db is None:
            return found
        try:
            for i in range(0, len(hashes), 500):
                part = hashes[i : i + 500]
                rows = self._db.execute(
                    f"SELECT h, v FROM vec WHERE h IN ({','.join('?' * len(part))})", part).fetchall()
                for h, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32) if isinstance(blob, bytes) else None
                    if vec is not None and vec.shape == (self.dim,):
                        found[h] = vec
        except sqlite3.DatabaseError as exc:
            self._recover(exc, "reading")
            return {}
        return found

    def put_many(self, items: list[tuple[str, np.ndarray]]) -> None:
        if self._db is None:
            return
        rows = [(h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items]
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)", rows)
        except sqlite3.DatabaseError as exc:
            self._recover(exc, "writing")
            if self._db is not None:  # a fresh cache after damage: keep these vectors in it
                try:
                    with self._db:
                        self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)", rows)
                except sqlite3.DatabaseError as again:
                    self._disable(f"failed while writing ({again})")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
