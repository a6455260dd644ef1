"""Passage vectors kept between builds (``<index_dir>/cache/embeddings-<fingerprint>.sqlite``),
keyed by the text's hash, so an incremental build embeds only what changed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np


class EmbeddingCache:
    """Passage vectors by (model fingerprint, text hash), so unchanged chunks are never re-embedded."""

    def __init__(self, path: Path, dim: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (h TEXT PRIMARY KEY, v BLOB NOT NULL)")

    def get_many(self, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(hashes), 500):
            part = hashes[i : i + 500]
            rows = self._db.execute(
                f"SELECT h, v FROM vec WHERE h IN ({','.join('?' * len(part))})", part).fetchall()
            for h, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape == (self.dim,):
                    found[h] = vec
        return found

    def put_many(self, items: list[tuple[str, np.ndarray]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)",
                                 [(h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items])

    def close(self) -> None:
        self._db.close()
